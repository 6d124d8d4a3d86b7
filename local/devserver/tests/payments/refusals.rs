//! Every refusal of a payment, and that it writes nothing.

use super::*;

/// A balance below the price is 409 insufficient balance writes nothing and keeps the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balance_below_the_price_is_409_and_keeps_the_token() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();

    // Charged, but one won short.
    let a = app.active_payer().await;
    app.charge(&a, PRICE - 1).await;
    let rid = app.hold(&a, &date, 3).await;
    let before = app.snapshot(&a.user, &rid, &date, 3).await;
    let res = app.pay(&a.token, &a.user, &rid, Some("k-1")).await;
    assert_problem(res, StatusCode::CONFLICT, "INSUFFICIENT_BALANCE").await;
    assert_eq!(app.snapshot(&a.user, &rid, &date, 3).await, before);
    assert_eq!(app.balance_in_db(&a.user).await, PRICE - 1);
    assert_eq!(app.ledger(&a.user).await.len(), 1);
    assert_eq!(app.stored(&rid).await.status, ReservationStatus::Held);
    assert_eq!(app.seat_status(&a.token, &date, 3).await, "HELD");

    // Never charged at all.
    let b = app.active_payer().await;
    let rid_b = app.hold(&b, &date, 4).await;
    let before = app.snapshot(&b.user, &rid_b, &date, 4).await;
    let res = app.pay(&b.token, &b.user, &rid_b, None).await;
    assert_problem(res, StatusCode::CONFLICT, "INSUFFICIENT_BALANCE").await;
    assert_eq!(app.snapshot(&b.user, &rid_b, &date, 4).await, before);
    // Nothing of the user's but the seat count their hold made.
    let others: Vec<_> = before
        .user_items
        .iter()
        .filter(|i| text(i, "entity") != "SeatCount")
        .collect();
    assert!(others.is_empty(), "{others:?}");

    // The tokens are not spent; after a top-up the same hold is paid.
    let (status, view) = answer(app.status(&a.token).await).await;
    assert_eq!(
        (status, &view["status"]),
        (StatusCode::OK, &json!("ACTIVE"))
    );
    app.charge(&a, 1).await;
    let res = app.pay(&a.token, &a.user, &rid, Some("k-1")).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "a refusal does not bind the key"
    );
    assert_eq!(app.balance_in_db(&a.user).await, 0);
}

/// With a 2 second hold ttl paying an expired hold is 409 reservation expired released yet or
/// not and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_a_lapsed_hold_is_409_released_or_not_and_writes_nothing() {
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    let date = app.dates[0].clone();
    let a = app.active_payer().await;
    app.charge(&a, 3 * PRICE).await;
    let unreleased = app.hold(&a, &date, 1).await;
    let released = app.hold(&a, &date, 2).await;
    let expires = app.stored(&released).await.expires_at;
    sleep_past(expires, 300).await;

    // Not released yet: the marker still says HELD (unless a sweep of another test ran).
    let before = app.snapshot(&a.user, &unreleased, &date, 1).await;
    let res = app.pay(&a.token, &a.user, &unreleased, None).await;
    let problem = assert_problem(res, StatusCode::CONFLICT, "RESERVATION_EXPIRED").await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains(&unreleased.to_string()));
    let after = app.snapshot(&a.user, &unreleased, &date, 1).await;
    assert_eq!(after.user_items, before.user_items, "no money moved");
    assert_eq!(after.payment, None);
    if after.reservation != before.reservation {
        // A sweep released it in between: that is a release, not the payment.
        let r = app.stored(&unreleased).await;
        assert_eq!(r.status, ReservationStatus::Expired);
        assert_eq!(after.marker, None);
    } else {
        assert_eq!(after.marker, before.marker);
        assert_eq!(
            app.stored(&unreleased).await.status,
            ReservationStatus::Held
        );
    }

    // Released: the reservation is EXPIRED and the marker gone.
    let r = app.stored(&released).await;
    let outcome = holds::release(&app.state, &HoldRef::from(&r))
        .await
        .unwrap();
    assert!(
        matches!(outcome, Released::Released | Released::Nothing),
        "{outcome:?}"
    );
    assert_eq!(
        app.stored(&released).await.status,
        ReservationStatus::Expired
    );
    let before = app.snapshot(&a.user, &released, &date, 2).await;
    assert_eq!(before.marker, None);
    let res = app.pay(&a.token, &a.user, &released, None).await;
    assert_problem(res, StatusCode::CONFLICT, "RESERVATION_EXPIRED").await;
    assert_eq!(app.snapshot(&a.user, &released, &date, 2).await, before);

    assert_eq!(app.balance_in_db(&a.user).await, 3 * PRICE);
    assert_eq!(app.ledger(&a.user).await.len(), 1);
    assert_eq!(app.seat_status(&a.token, &date, 1).await, "AVAILABLE");
    assert_eq!(app.seat_status(&a.token, &date, 2).await, "AVAILABLE");
}

/// Paying an already paid reservation with a new token is 409 reservation not held and debits
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_a_paid_reservation_again_is_409_and_debits_once() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[1].clone();
    let a = app.active_payer().await;
    app.charge(&a, 2 * PRICE).await;
    let rid = app.hold(&a, &date, 9).await;
    let res = app.pay(&a.token, &a.user, &rid, None).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let token = app.fresh_token(&a.user).await;
    assert_ne!(token, a.token);
    let before = app.snapshot(&a.user, &rid, &date, 9).await;
    let res = app.pay(&token, &a.user, &rid, None).await;
    let problem = assert_problem(res, StatusCode::CONFLICT, "RESERVATION_NOT_HELD").await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains(&rid.to_string()));
    assert_eq!(app.snapshot(&a.user, &rid, &date, 9).await, before);

    assert_eq!(app.balance_in_db(&a.user).await, PRICE, "debited once");
    let entries = app.ledger(&a.user).await;
    let payments = entries
        .iter()
        .filter(|e| e.kind == LedgerKind::Payment)
        .count();
    assert_eq!((entries.len(), payments), (2, 1), "{entries:?}");
    assert_eq!(app.stored(&rid).await.status, ReservationStatus::Confirmed);
    assert_eq!(app.seat_status(&token, &date, 9).await, "SOLD");
    // A refused payment does not spend the token.
    assert_eq!(app.status(&token).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_another_users_reservation_is_403_forbidden_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let owner = app.active_payer().await;
    let other = app.active_payer().await;
    app.charge(&other, 2 * PRICE).await;
    let rid = app.hold(&owner, &date, 11).await;

    let owner_before = app.snapshot(&owner.user, &rid, &date, 11).await;
    let other_before = app.user_items(&other.user, "").await;
    let res = app.pay(&other.token, &other.user, &rid, None).await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_eq!(
        app.snapshot(&owner.user, &rid, &date, 11).await,
        owner_before
    );
    assert_eq!(app.user_items(&other.user, "").await, other_before);
    assert_eq!(app.balance_in_db(&other.user).await, 2 * PRICE);
    assert_eq!(app.stored(&rid).await.status, ReservationStatus::Held);
    assert_eq!(app.seat_status(&other.token, &date, 11).await, "HELD");
}

/// A body user id other than the tokens user is 403 forbidden and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_user_other_than_the_tokens_is_403_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let owner = app.active_payer().await;
    let other = app.active_payer().await;
    app.charge(&owner, PRICE).await;
    app.charge(&other, PRICE).await;
    let rid = app.hold(&owner, &date, 12).await;

    let owner_before = app.snapshot(&owner.user, &rid, &date, 12).await;
    let other_before = app.user_items(&other.user, "").await;
    // The other user's token, paying as the owner.
    let res = app.pay(&other.token, &owner.user, &rid, None).await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    // The owner's token, paying as the other user.
    let res = app.pay(&owner.token, &other.user, &rid, None).await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_eq!(
        app.snapshot(&owner.user, &rid, &date, 12).await,
        owner_before
    );
    assert_eq!(app.user_items(&other.user, "").await, other_before);
    // Neither token was spent.
    assert_eq!(app.status(&owner.token).await.status(), StatusCode::OK);
    assert_eq!(app.status(&other.token).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_reservation_is_404_not_found_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let a = app.active_payer().await;
    app.charge(&a, PRICE).await;
    let unknown = ReservationId::generate();
    let before = app.user_items(&a.user, "").await;
    let res = app.pay(&a.token, &a.user, &unknown, Some("k-404")).await;
    let problem = assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains(&unknown.to_string()));
    assert_eq!(app.user_items(&a.user, "").await, before);
    assert_eq!(app.payment_item(&unknown).await, None);
    assert_eq!(app.reservation_raw(&unknown).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_body_or_key_is_400_naming_the_field_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let a = app.active_payer().await;
    app.charge(&a, PRICE).await;
    let rid = app.hold(&a, &date, 13).await;
    let before = app.snapshot(&a.user, &rid, &date, 13).await;
    let (u, r) = (a.user.as_str(), rid.to_string());
    let long = "u".repeat(65);
    let cases: Vec<(String, &str)> = vec![
        (json!({ "reservationId": r }).to_string(), "userId"),
        (json!({ "userId": u }).to_string(), "reservationId"),
        (
            json!({ "userId": u, "reservationId": "not-a-uuid" }).to_string(),
            "reservationId",
        ),
        (
            json!({ "userId": u, "reservationId": 5 }).to_string(),
            "reservationId",
        ),
        (
            json!({ "userId": u, "reservationId": null }).to_string(),
            "reservationId",
        ),
        (
            json!({ "userId": "bad user", "reservationId": r }).to_string(),
            "userId",
        ),
        (
            json!({ "userId": long, "reservationId": r }).to_string(),
            "userId",
        ),
        (
            json!({ "userId": 7, "reservationId": r }).to_string(),
            "userId",
        ),
        (
            json!({ "userId": u, "reservationId": r, "amount": 1 }).to_string(),
            "amount",
        ),
        (format!(r#"[{u:?}, {r:?}]"#), "body"),
        ("{".into(), "body"),
        ("not json".into(), "body"),
        (String::new(), "body"),
        (
            format!(r#"{{"userId": {u:?}, "reservationId": {r:?}}} {{}}"#),
            "body",
        ),
    ];
    for (raw, field) in cases {
        let res = app.post_payment(Some(&a.token), None, raw.clone()).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!("{field}:")),
            "{raw:?}: the detail {detail:?} names {field}"
        );
    }
    let good = json!({ "userId": u, "reservationId": r }).to_string();
    let long_key = "k".repeat(129);
    for key in ["", "two words", long_key.as_str()] {
        let res = app
            .post_payment(Some(&a.token), Some(key), good.clone())
            .await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.starts_with("Idempotency-Key:"), "{key:?}: {detail}");
    }
    assert_eq!(app.snapshot(&a.user, &rid, &date, 13).await, before);
    assert_eq!(app.status(&a.token).await.status(), StatusCode::OK);
}

/// A waiting token is 403 token not active and a missing one 401 and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_token_is_403_a_missing_one_401_and_nothing_is_written() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let date = app.dates[0].clone();
    let a = app.active_payer().await;
    let (w, view) = app.new_payer().await;
    assert_eq!(view["status"], "WAITING", "{view}");
    app.charge(&a, PRICE).await;
    app.charge(&w, PRICE).await;
    let rid = app.hold(&a, &date, 14).await;
    let before = app.snapshot(&a.user, &rid, &date, 14).await;
    let w_before = app.user_items(&w.user, "").await;

    // The waiting user pays for themselves; the active user pays with the waiting user's
    // token, which is another user's whatever its state.
    let res = app.pay(&w.token, &w.user, &rid, None).await;
    assert_problem(res, StatusCode::FORBIDDEN, "TOKEN_NOT_ACTIVE").await;
    let res = app.pay(&w.token, &a.user, &rid, None).await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let body = json!({"userId": a.user, "reservationId": rid.to_string()}).to_string();
    let res = app.post_payment(None, None, body.clone()).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_MISSING").await;
    let unknown = app.forged_token();
    let res = app.post_payment(Some(&unknown), None, body).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_INVALID").await;

    assert_eq!(app.snapshot(&a.user, &rid, &date, 14).await, before);
    assert_eq!(app.user_items(&w.user, "").await, w_before);
    let (_, view) = answer(app.status(&w.token).await).await;
    assert_eq!(view["status"], "WAITING", "{view}");
}
