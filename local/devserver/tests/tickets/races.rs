//! A scan at the door racing a refund of the same seat: their conditions on the seat's marker
//! decide, so exactly one of them happens, whole, every time.

use super::*;
use shared::store::items::ReservationStatus;

const ROUNDS: u16 = 30;

/// Thirty times: a seat bought, then its scan and its refund sent at once. Each round exactly
/// one wins (a 200 let-in and a refund refused ALREADY_CHECKED_IN, or a 200 refund and a scan
/// refused TICKET_REFUNDED), the store agrees with the winner, and the invariants hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scan_racing_a_refund_of_its_seat_ends_with_exactly_one_of_them() {
    let app = spawn_app_with(&[]).await;
    let tag = unique("race");
    let date = app.dates[1].clone();
    let (mut scans_won, mut refunds_won) = (0, 0);
    for seat in 1..=ROUNDS {
        let mut b = app.buyer(&tag).await;
        let rid = app.buy(&mut b, &date, &[seat]).await;
        let code = app.code_of(&b.user, &rid, seat).await;
        let (scan, refund) = tokio::join!(app.scan(&code), app.refund(&b, &rid));
        let (scan, refund) = (answer(scan).await, answer(refund).await);
        let stored = app.stored(&rid).await.status;
        match (scan.0, refund.0) {
            (StatusCode::OK, StatusCode::CONFLICT) => {
                assert_eq!(refund.1["code"], "ALREADY_CHECKED_IN", "{}", refund.1);
                assert_eq!(stored, ReservationStatus::Confirmed);
                assert!(marker_checked_in(&app, &date, seat).await.is_some());
                scans_won += 1;
            }
            (StatusCode::CONFLICT, StatusCode::OK) => {
                assert_eq!(scan.1["code"], "TICKET_REFUNDED", "{}", scan.1);
                assert_eq!(stored, ReservationStatus::Refunded);
                assert!(app.marker(&app.concert, &date, seat).await.is_none());
                refunds_won += 1;
            }
            other => panic!(
                "round {seat}: not exactly one winner: {other:?} {} {}",
                scan.1, refund.1
            ),
        }
    }
    eprintln!("{ROUNDS} races: the scan won {scans_won}, the refund {refunds_won}");
    app.assert_invariants(&tag).await;
}
