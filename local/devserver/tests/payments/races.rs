//! One reservation paid many times at once, and payments racing the hold's expiry.

use super::*;

/// Twenty concurrent payments of one reservation succeed once and debit the balance once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_payments_of_one_reservation_debit_once() {
    let app = spawn_app_with(&[]).await;
    let _burst = app.burst().await;
    let date = app.dates[0].clone();
    let a = app.active_payer().await;
    // Exactly the price: a loser that retried on the moved balance would see too little.
    app.charge(&a, PRICE).await;
    let rid = app.hold(&a, &date, 20).await;

    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let state = app.state.clone();
            let token = a.queue_token();
            let request = pay_request(&a.user, &rid);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                pay_flow(&state, &token, &request, None).await
            })
        })
        .collect();
    let results: Vec<Result<Paid, ApiError>> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("the task ran"))
        .collect();

    let mut codes: HashMap<&str, usize> = HashMap::new();
    for r in &results {
        *codes.entry(code_of(r)).or_default() += 1;
    }
    assert_eq!(
        codes,
        HashMap::from([("OK", 1), ("RESERVATION_NOT_HELD", 19)]),
        "{results:?}"
    );
    assert!(results.iter().any(|r| r.is_ok()));

    assert_eq!(app.balance_in_db(&a.user).await, 0, "debited once");
    let entries = app.ledger(&a.user).await;
    let payments: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == LedgerKind::Payment)
        .collect();
    assert_eq!(payments.len(), 1, "{entries:?}");
    assert_eq!(entries.iter().map(|e| e.amount).sum::<i64>(), 0);
    assert!(app.payment_item(&rid).await.is_some());
    assert_eq!(app.stored(&rid).await.status, ReservationStatus::Confirmed);
    let m = app.marker(&app.concert, &date, 20).await.unwrap();
    assert_eq!(text(&m, "status"), "SOLD");
}

/// With a 1 second hold ttl payments racing the expiry end paid or expired never both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_racing_the_expiry_end_paid_or_expired_never_both() {
    // One buyer holds all twelve seats.
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "1"), ("MAX_SEATS_PER_USER", "20")]).await;
    let user = unique("u");
    let uid = UserId::parse(&user).unwrap();
    let token = app.stray_token();
    const SEATS: u16 = 12;
    balance::charge(
        &app.state,
        &uid,
        &ChargeRequest {
            amount: Amount::new((u64::from(SEATS) * PRICE) as i64).unwrap(),
        },
        None,
    )
    .await
    .unwrap();
    let date = app.dates[1].clone();

    let mut paid = 0u64;
    let mut expired = 0u64;
    // Two rounds of six seats, each paid at its own offset around its expiry.
    for round in 0..2u16 {
        let seats: Vec<u16> = (1..=SEATS / 2).map(|s| round * (SEATS / 2) + s).collect();
        let held = join_all(
            seats
                .iter()
                .map(|&s| hold_direct(&app.state, &app.concert, &user, &date, s)),
        )
        .await;
        let held: Vec<Reservation> = held.into_iter().map(|h| h.expect("held")).collect();
        let tasks: Vec<_> = held
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let state = app.state.clone();
                let token = token.clone();
                let request = pay_request(&user, &r.reservation_id);
                let hold = HoldRef::from(r);
                let expiry = r.expires_at.timestamp_millis();
                // The first round from 150 ms before the expiry to 100 ms after it, with no
                // release; the second from 30 ms before to 20 ms after, racing a release fired
                // 1 ms after the expiry. Three payments 7 ms apart each time.
                let i = i as i64;
                let start = if round == 0 {
                    expiry - 150 + 50 * i
                } else {
                    expiry - 30 + 10 * i
                };
                tokio::spawn(async move {
                    let mut fired = Vec::new();
                    let release = (round == 1).then(|| {
                        let state = state.clone();
                        tokio::spawn(async move {
                            sleep_past(expiry, 1).await;
                            holds::release(&state, &hold).await
                        })
                    });
                    for k in 0..3 {
                        sleep_past(start, 7 * k).await;
                        let state = state.clone();
                        let request = request.clone();
                        let token = token.clone();
                        fired.push(tokio::spawn(async move {
                            pay_flow(&state, &token, &request, None).await
                        }));
                    }
                    if let Some(release) = release {
                        let released = release.await.expect("the task ran");
                        assert!(released.is_ok(), "the release: {released:?}");
                    }
                    join_all(fired)
                        .await
                        .into_iter()
                        .map(|r| r.expect("the task ran"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let outcomes = join_all(tasks).await;
        for ((r, outcome), seat) in held.iter().zip(outcomes).zip(&seats) {
            let results = outcome.expect("the task ran");
            let codes: Vec<&str> = results.iter().map(code_of).collect();
            let oks = codes.iter().filter(|c| **c == "OK").count();
            let rid = r.reservation_id;
            let now = app.stored(&rid).await;
            let m = app.marker(&app.concert, &date, *seat).await;
            let sold = m.as_ref().is_some_and(|m| text(m, "status") == "SOLD");
            let payment = app.payment_item(&rid).await;
            if oks > 0 {
                assert_eq!(oks, 1, "seat {seat}: {codes:?}");
                // A duplicate that read the reservation while the winner was committing, at an
                // instant past the expiry, was refused as expired: that refusal wrote nothing.
                assert!(
                    codes.iter().all(|c| {
                        ["OK", "RESERVATION_NOT_HELD", "RESERVATION_EXPIRED"].contains(c)
                    }),
                    "seat {seat}: paid, and the others refused: {codes:?}"
                );
                assert_eq!(now.status, ReservationStatus::Confirmed, "seat {seat}");
                assert!(sold, "seat {seat}: paid but the marker is {m:?}");
                assert_eq!(text(m.as_ref().unwrap(), "reservationId"), rid.to_string());
                assert!(
                    payment.is_some(),
                    "seat {seat}: paid without a payment item"
                );
                paid += 1;
            } else {
                assert!(
                    codes.iter().all(|c| *c == "RESERVATION_EXPIRED"),
                    "seat {seat}: not paid, so expired: {codes:?}"
                );
                assert_ne!(now.status, ReservationStatus::Confirmed, "seat {seat}");
                assert!(!sold, "seat {seat}: expired but SOLD: {m:?}");
                assert!(payment.is_none(), "seat {seat}: expired with a payment");
                if round == 1 {
                    assert_eq!(
                        now.status,
                        ReservationStatus::Expired,
                        "seat {seat}: released"
                    );
                    assert!(
                        m.is_none(),
                        "seat {seat}: released, but the marker is {m:?}"
                    );
                }
                expired += 1;
            }
        }
    }
    eprintln!("payments racing the expiry: {paid} paid, {expired} expired");

    // The money adds up, and no SOLD seat points at a reservation that is not CONFIRMED.
    let balance = app.balance_in_db(&user).await;
    assert_eq!(balance, (u64::from(SEATS) - paid) * PRICE);
    let entries = app.ledger(&user).await;
    assert_eq!(entries.len() as u64, 1 + paid);
    assert_eq!(
        entries.iter().map(|e| e.amount).sum::<i64>(),
        balance as i64
    );
    let sold = app.sold_markers().await;
    assert_eq!(sold.len() as u64, paid);
    for (_, rid) in sold {
        assert_eq!(app.stored(&rid).await.status, ReservationStatus::Confirmed);
    }
}
