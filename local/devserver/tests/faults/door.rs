//! The door when DynamoDB loses a check-in's answer: the same write is sent again until
//! DynamoDB says how it ended, so a seat that was let in is answered as let in (not 503, which
//! promises nothing was written, and not ALREADY_CHECKED_IN on the scan that made it).

use super::*;
use shared::domain::tickets::{Ticket, TicketId};
use shared::domain::{ReservationId, SeatNo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_in_whose_answer_was_lost_is_answered_as_let_in_once() {
    let stack = Stack::up("ddb-door", false).await;
    let app = app_on(&stack, 10, &[("WRITE_RESOLVE_MS", "15000")]).await;
    let c = customers(&app, 1, 0).await.remove(0);
    let key = unique("k");
    let paid = until_ok_or_refused(|| app.pay(&c.token, &c.user, &c.held, &key)).await;
    assert_eq!(paid.status, 201, "{paid:?}");
    let (date, seat) = app.seat(0);
    let ticket = Ticket {
        id: TicketId {
            reservation: ReservationId::parse(&c.held).unwrap(),
            seat: SeatNo::new(i64::from(seat)).unwrap(),
        },
        concert: ConcertId::parse(&app.concert).unwrap(),
        date: ConcertDate::parse(&date).unwrap(),
    };
    let code = shared::flows::tickets::keys(&app.state)
        .unwrap()
        .sign(&ticket);
    // The date's sections in the process first, so the write is the scan's only call.
    shared::flows::seats::catalog(&app.state, &ticket.concert, &ticket.date, false)
        .await
        .unwrap();

    // DynamoDB frozen for 2 s from the moment the scan is sent: every attempt in that time
    // times out, and any of them may be the one that lands when it thaws.
    stack.dynamodb.pause().expect("SIGSTOP");
    let state = app.state.clone();
    let scan = {
        let code = code.clone();
        tokio::spawn(async move { shared::flows::tickets::check_in(&state, &code).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    stack.dynamodb.resume().expect("SIGCONT");
    let let_in = scan
        .await
        .unwrap()
        .expect("the scan that made it is answered as let in");

    let again = shared::flows::tickets::check_in(&app.state, &code)
        .await
        .expect_err("a second scan is refused");
    match again {
        shared::ApiError::AlreadyCheckedIn { at, .. } => assert_eq!(at, let_in.checked_in_at),
        other => panic!("a second scan: {other:?}"),
    }
    let marker = stored(&app.state.db)
        .await
        .markers
        .into_iter()
        .find(|m| m.seat_no.get() == seat && m.date.to_string() == date)
        .expect("the seat's marker");
    assert_eq!(marker.checked_in_at, Some(let_in.checked_in_at));
}
