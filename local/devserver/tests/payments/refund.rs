//! Refunds: the balance and its ledger, once however often asked, the window, the refusals,
//! and the seat for sale again.

use super::*;

impl TestApp {
    /// A payer who bought `seats` of `date` (charged their price first); the reservation and
    /// a fresh token (the payment spent the first).
    pub(crate) async fn bought(&self, date: &str, seats: &[u16]) -> (Payer, ReservationId) {
        let p = self.active_payer().await;
        self.charge(&p, PRICE * seats.len() as u64).await;
        let (status, body) = answer(
            self.api
                .hold_seats(&p.token, &p.user, &self.concert, date, seats, None)
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let rid = ReservationId::parse(body["reservationId"].as_str().unwrap()).unwrap();
        let res = self.pay(&p.token, &p.user, &rid, None).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
        let token = self.fresh_token(&p.user).await;
        (
            Payer {
                user: p.user,
                token,
            },
            rid,
        )
    }

    pub(crate) async fn refund(
        &self,
        p: &Payer,
        rid: &ReservationId,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        answer(
            self.api
                .refund(&p.token, &rid.to_string(), key)
                .await
                .unwrap(),
        )
        .await
    }
}

/// A refund credits the balance with a ledger entry, frees the seats and marks the reservation
/// and its payment REFUNDED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_credits_the_balance_frees_the_seats_and_marks_it_refunded() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[1].clone();
    let (p, rid) = app.bought(&date, &[9, 10]).await;
    assert_eq!(app.balance_in_db(&p.user).await, 0);
    let before = Utc::now();
    let (status, body) = app.refund(&p, &rid, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fields: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "reservationId",
            "userId",
            "amount",
            "balance",
            "status",
            "refundedAt"
        ])
    );
    assert_eq!(body["status"], "REFUNDED");
    assert_eq!(
        (body["amount"].as_u64(), body["balance"].as_u64()),
        (Some(2 * PRICE), Some(2 * PRICE))
    );
    assert!(instant(&body["refundedAt"]) >= before - chrono::Duration::seconds(1));
    // The balance is its ledger: a charge, a payment and the refund.
    let ledger = app.ledger(&p.user).await;
    let kinds: Vec<LedgerKind> = ledger.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![LedgerKind::Charge, LedgerKind::Payment, LedgerKind::Refund]
    );
    assert_eq!(
        ledger.iter().map(|e| e.amount).sum::<i64>(),
        (2 * PRICE) as i64
    );
    assert_eq!(app.balance_in_db(&p.user).await, 2 * PRICE);
    // The seats are for sale again, the reservation and the payment REFUNDED.
    assert_eq!(app.seat_status(&p.token, &date, 9).await, "AVAILABLE");
    assert_eq!(app.seat_status(&p.token, &date, 10).await, "AVAILABLE");
    assert_eq!(app.stored(&rid).await.status, ReservationStatus::Refunded);
    let payment = app.payment_item(&rid).await.expect("the payment stays");
    assert_eq!(text(&payment, "status"), "REFUNDED");
    let (status, view) = answer(
        app.api
            .reservation(&p.token, &rid.to_string())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, view["status"].as_str()),
        (StatusCode::OK, Some("REFUNDED"))
    );
    assert_eq!(app.seat_count(&p.user, &app.concert).await, (0, 0));
}

/// A refund asked again answers the same and credits once, with or without a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_asked_again_answers_the_same_and_credits_once() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[1].clone();
    let (p, rid) = app.bought(&date, &[11]).await;
    let first = app.refund(&p, &rid, Some("r-1")).await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    assert_eq!(app.refund(&p, &rid, Some("r-1")).await, first);
    assert_eq!(app.refund(&p, &rid, None).await, first);
    assert_eq!(app.refund(&p, &rid, Some("r-2")).await, first);
    assert_eq!(app.balance_in_db(&p.user).await, PRICE);
    assert_eq!(app.ledger(&p.user).await.len(), 3);
    // The same key for another reservation is 422, and writes nothing.
    let (_, other) = app.bought(&date, &[12]).await;
    let (status, body) = app.refund(&p, &other, Some("r-1")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("IDEMPOTENCY_KEY_REUSED")
        )
    );
    assert_eq!(
        app.stored(&other).await.status,
        ReservationStatus::Confirmed
    );
}

/// Twenty concurrent refunds of one reservation credit it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_refunds_credit_once() {
    let app = spawn_app_with(&[]).await;
    let _burst = app.burst().await;
    let date = app.dates[1].clone();
    let (p, rid) = app.bought(&date, &[13, 14]).await;
    let answers = join_all((0..20).map(|i| {
        let key = format!("k-{}", i % 3);
        let (app, p, rid) = (&app, &p, &rid);
        async move {
            app.refund(p, rid, (i % 2 == 0).then_some(key.as_str()))
                .await
        }
    }))
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(body["balance"], answers[0].1["balance"]);
        assert_eq!(body["refundedAt"], answers[0].1["refundedAt"]);
    }
    assert_eq!(app.balance_in_db(&p.user).await, 2 * PRICE);
    let refunds = app
        .ledger(&p.user)
        .await
        .iter()
        .filter(|e| e.kind == LedgerKind::Refund)
        .count();
    assert_eq!(refunds, 1);
}

/// A refund closer to the date than REFUND_CUTOFF_HOURS is 409 REFUND_WINDOW_CLOSED and
/// writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_too_late_is_refused_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    // Tomorrow starts less than 24 hours from now.
    let date = app.dates[0].clone();
    let (p, rid) = app.bought(&date, &[15]).await;
    let (status, body) = app.refund(&p, &rid, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("REFUND_WINDOW_CLOSED")),
        "{body}"
    );
    assert_eq!(app.stored(&rid).await.status, ReservationStatus::Confirmed);
    assert_eq!(app.balance_in_db(&p.user).await, 0);
    assert_eq!(app.seat_status(&p.token, &date, 15).await, "SOLD");
}

/// A reservation that is not paid (held, released) is 409 RESERVATION_NOT_PAID; another
/// user's is 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunding_what_is_not_paid_or_not_yours_is_refused() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[1].clone();
    let p = app.active_payer().await;
    let held = app.hold(&p, &date, 16).await;
    let (status, body) = app.refund(&p, &held, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("RESERVATION_NOT_PAID")),
        "{body}"
    );
    let (status, _) = answer(app.api.release(&p.token, &held.to_string()).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.refund(&p, &held, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("RESERVATION_NOT_PAID")),
        "{body}"
    );
    let (_, bought) = app.bought(&date, &[17]).await;
    let (status, body) = app.refund(&p, &bought, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN")),
        "{body}"
    );
    assert_eq!(
        app.stored(&bought).await.status,
        ReservationStatus::Confirmed
    );
}

/// A refunded seat is bought again by someone else, and the refunded buyer may hold again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refunded_seat_is_bought_again_and_the_buyer_may_hold_again() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[1].clone();
    let (p, rid) = app.bought(&date, &[18, 19, 20, 21]).await;
    // At the limit: a fifth seat is refused until the refund.
    let (status, body) = answer(
        app.api
            .hold_seats(&p.token, &p.user, &app.concert, &date, &[22], None)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("SEAT_LIMIT_REACHED"))
    );
    let (status, _) = app.refund(&p, &rid, None).await;
    assert_eq!(status, StatusCode::OK);
    let (q, again) = app.bought(&date, &[19]).await;
    let m = app.marker(&app.concert, &date, 19).await.expect("a marker");
    assert_eq!(text(&m, "status"), "SOLD");
    assert_eq!(text(&m, "reservationId"), again.to_string());
    assert_eq!(app.stored(&again).await.user_id.as_str(), q.user);
    let (status, body) = answer(
        app.api
            .hold_seats(
                &p.token,
                &p.user,
                &app.concert,
                &date,
                &[22, 23, 24, 25],
                None,
            )
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A refund racing a new hold of its seat: the hold wins only once the refund committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_racing_a_refund_wins_only_after_it() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[1].clone();
    for seat in [26u16, 27, 28] {
        let (p, rid) = app.bought(&date, &[seat]).await;
        let q = app.active_payer().await;
        let (refund, hold) = tokio::join!(app.refund(&p, &rid, None), async {
            answer(
                app.api
                    .hold_seats(&q.token, &q.user, &app.concert, &date, &[seat], None)
                    .await
                    .unwrap(),
            )
            .await
        });
        assert_eq!(refund.0, StatusCode::OK, "{}", refund.1);
        let m = app.marker(&app.concert, &date, seat).await;
        if hold.0 == StatusCode::CREATED {
            let m = m.expect("the new hold's marker");
            assert_eq!(
                text(&m, "reservationId"),
                hold.1["reservationId"].as_str().unwrap()
            );
            assert_eq!(text(&m, "status"), "HELD");
        } else {
            assert_eq!(hold.1["code"], "SEAT_UNAVAILABLE", "{}", hold.1);
            assert!(m.is_none(), "the refund freed the seat");
        }
    }
}
