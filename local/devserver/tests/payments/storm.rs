//! The money invariants after a concurrent storm of charges and payments.

use super::*;

/// After a concurrent storm of charges and payments every balance is its ledger sum and every
/// sold seat has one confirmed reservation and one payment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_storm_balances_are_ledger_sums_and_each_sale_is_whole() {
    let app = spawn_app_with(&[]).await;
    let _burst = app.burst().await;
    const USERS: usize = 10;
    const CHARGES: u64 = 5;
    const CHARGE: u64 = 20_000; // 100,000 each: two of the three payments can succeed
    const HOLDS: u16 = 3;
    let users: Vec<String> = (0..USERS).map(|_| unique("storm")).collect();
    let date = app.dates[0].clone();

    let mut tasks = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let uid = UserId::parse(user).unwrap();
        for _ in 0..CHARGES {
            let (state, uid) = (app.state.clone(), uid.clone());
            tasks.push(tokio::spawn(async move {
                let request = ChargeRequest {
                    amount: Amount::new(CHARGE as i64).unwrap(),
                };
                let r = balance::charge(&state, &uid, &request, None).await;
                ("charge", code_of(&r), None)
            }));
        }
        // Seats 1-30 are each one user's; seats 31-35 every user wants at once.
        let mut seats: Vec<u16> = (0..HOLDS).map(|h| i as u16 * HOLDS + h + 1).collect();
        seats.push(31 + (i as u16 % 5));
        for seat in seats {
            let (state, user, concert, date) = (
                app.state.clone(),
                user.clone(),
                app.concert.clone(),
                date.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let held = match hold_direct(&state, &concert, &user, &date, seat).await {
                    Ok(r) => r,
                    Err(e) => return ("hold", e.parts().1, None),
                };
                let request = pay_request(&user, &held.reservation_id);
                let token = common::stray_token(&state, &concert);
                // Like a client topping up meanwhile: short of money, it tries again a while.
                let mut r = pay_flow(&state, &token, &request, None).await;
                for _ in 0..20 {
                    if code_of(&r) != "INSUFFICIENT_BALANCE" {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    r = pay_flow(&state, &token, &request, None).await;
                }
                ("pay", code_of(&r), Some(held.reservation_id))
            }));
        }
    }
    let outcomes: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("the task ran"))
        .collect();

    let mut tally: HashMap<(&str, &str), usize> = HashMap::new();
    for &(what, code, _) in &outcomes {
        *tally.entry((what, code)).or_default() += 1;
    }
    eprintln!("storm: {tally:?}");
    for (what, code) in tally.keys() {
        let allowed: &[&str] = match *what {
            "charge" => &["OK"],
            "hold" => &["SEAT_UNAVAILABLE"],
            _ => &["OK", "INSUFFICIENT_BALANCE"],
        };
        assert!(allowed.contains(code), "{what} answered {code}: {tally:?}");
    }
    assert_eq!(tally[&("charge", "OK")], USERS * CHARGES as usize);
    // Every user's own seats were held, and each of the five contested seats exactly once.
    let held = outcomes
        .iter()
        .filter(|(what, _, rid)| *what == "pay" && rid.is_some())
        .count();
    assert_eq!(held, USERS * usize::from(HOLDS) + 5);
    let paid: Vec<ReservationId> = outcomes
        .iter()
        .filter(|(what, code, _)| *what == "pay" && *code == "OK")
        .filter_map(|(_, _, rid)| *rid)
        .collect();

    // Balance = sum of the ledger, for every user; payments as many as succeeded.
    let mut total_paid = 0;
    for user in &users {
        let balance = app.balance_in_db(user).await;
        let entries = app.ledger(user).await;
        let sum: i64 = entries.iter().map(|e| e.amount).sum();
        assert_eq!(sum, balance as i64, "{user}: {entries:?}");
        let charges = entries
            .iter()
            .filter(|e| e.kind == LedgerKind::Charge)
            .count();
        assert_eq!(charges as u64, CHARGES, "{user}");
        let payments = entries
            .iter()
            .filter(|e| e.kind == LedgerKind::Payment)
            .count();
        assert!(
            payments <= 2,
            "{user} paid {payments} times with 100,000 won"
        );
        assert_eq!(
            balance,
            CHARGES * CHARGE - payments as u64 * PRICE,
            "{user}"
        );
        total_paid += payments;
    }
    assert_eq!(total_paid, paid.len());

    // Every SOLD marker: exactly one CONFIRMED reservation and one payment point at it.
    let sold = app.sold_markers().await;
    assert_eq!(sold.len(), paid.len(), "one SOLD seat per payment");
    let sold_ids: HashSet<ReservationId> = sold.iter().map(|(_, rid)| *rid).collect();
    assert_eq!(
        sold_ids,
        paid.iter().copied().collect(),
        "the SOLD seats are the paid ones"
    );
    for (_, rid) in &sold {
        let r = app.stored(rid).await;
        assert_eq!(r.status, ReservationStatus::Confirmed, "{rid}");
        let p = app.payment_item(rid).await.expect("a payment item");
        assert_eq!(text(&p, "reservationId"), rid.to_string());
        assert_eq!(
            Some(text(&p, "paymentId")),
            r.payment_id.map(|p| p.to_string())
        );
    }
    // And every other reservation of the storm is neither CONFIRMED nor paid.
    for (_, code, rid) in &outcomes {
        let Some(rid) = rid else { continue };
        if *code != "OK" {
            assert_eq!(
                app.stored(rid).await.status,
                ReservationStatus::Held,
                "{rid}"
            );
            assert!(app.payment_item(rid).await.is_none(), "{rid}");
        }
    }
    // Seats confirmed at most once: no two CONFIRMED reservations for one seat.
    let mut per_seat: HashMap<u16, usize> = HashMap::new();
    for rid in &paid {
        *per_seat
            .entry(app.stored(rid).await.seat_no.get())
            .or_default() += 1;
    }
    assert!(per_seat.values().all(|n| *n == 1), "{per_seat:?}");
}
