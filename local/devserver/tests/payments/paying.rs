//! A payment that succeeds and everything it changes.

use super::*;

/// A payment is 201 and sells the seat confirms the reservation debits the balance spends the
/// token and admits the next user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_sells_the_seat_debits_the_balance_and_spends_the_token() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let a = app.active_payer().await;
    let (b, b_view) = app.new_payer().await;
    assert_eq!(b_view["status"], "WAITING", "one active place: {b_view}");
    let date = app.dates[0].clone();

    app.charge(&a, PRICE).await;
    let rid = app.hold(&a, &date, 7).await;
    let before = Utc::now();
    let res = app.pay(&a.token, &a.user, &rid, None).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().unwrap();

    let fields: BTreeSet<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, PAYMENT_FIELDS.into_iter().collect(), "{body}");
    let payment_id = PaymentId::parse(body["paymentId"].as_str().unwrap()).expect("a UUID");
    assert_eq!(body["reservationId"], rid.to_string());
    assert_eq!(body["userId"], a.user);
    assert_eq!(body["amount"], PRICE);
    assert_eq!(body["balance"], 0);
    assert_eq!(body["status"], "COMPLETED");
    let paid_at = instant(&body["paidAt"]);
    assert!(paid_at >= before - chrono::Duration::seconds(1) && paid_at <= Utc::now());

    // The payer's token is spent.
    let res = app.status(&a.token).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED").await;
    let res = app
        .get(&format!("/reservations/{rid}"), Some(&a.token))
        .await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED").await;

    // The waiting user is admitted on their next poll, and sees the seat SOLD.
    let (status, view) = answer(app.status(&b.token).await).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        view["status"], "ACTIVE",
        "the freed place goes to the next: {view}"
    );
    assert_eq!(app.seat_status(&b.token, &date, 7).await, "SOLD");
    assert_eq!(app.seat_status(&b.token, &date, 8).await, "AVAILABLE");

    // The stores.
    let r = app.stored(&rid).await;
    assert_eq!(r.status, ReservationStatus::Confirmed);
    assert_eq!(r.payment_id, Some(payment_id));
    assert!(
        r.held_shard.is_none(),
        "a paid reservation leaves the sweep index"
    );
    assert_eq!(app.balance_in_db(&a.user).await, 0);
    let entries = app.ledger(&a.user).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    let paid: Vec<&LedgerItem> = entries
        .iter()
        .filter(|e| e.kind == LedgerKind::Payment)
        .collect();
    assert_eq!(paid.len(), 1, "{entries:?}");
    assert_eq!(paid[0].amount, -(PRICE as i64));
    assert_eq!(paid[0].balance_after.get(), 0);
    assert_eq!(&paid[0].entry_id, payment_id.as_uuid());
    assert_eq!(entries.iter().map(|e| e.amount).sum::<i64>(), 0);

    let m = app
        .marker(&app.concert, &date, 7)
        .await
        .expect("the seat's marker");
    assert_eq!(text(&m, "status"), "SOLD");
    assert_eq!(text(&m, "reservationId"), rid.to_string());
    assert!(!m.contains_key("ttl"), "a sale has no TTL: {m:?}");
    let p = app
        .payment_item(&rid)
        .await
        .expect("the payment is recorded");
    assert_eq!(text(&p, "paymentId"), payment_id.to_string());
}
