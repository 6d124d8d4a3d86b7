//! `POST /admin/checkins`: a seat let in once, however many scans; a refunded seat never; a
//! refund of a seat let in never; and the operator's credentials first.

use super::*;
use shared::domain::tickets::{Ticket, TicketId};
use shared::domain::{ConcertDate, ConcertId, SeatNo};

/// The first scan lets the seat in (200, the seat and its section); the next is 409
/// ALREADY_CHECKED_IN with the time it was let in, in `detail` and as `checkedInAt`; the
/// buyer's ticket shows that time too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_scan_lets_the_seat_in_and_the_next_is_already_checked_in() {
    let app = spawn_app_with(&[]).await;
    let mut b = app.buyer("door").await;
    let date = app.dates[0].clone();
    let rid = app.buy(&mut b, &date, &[40, 41]).await;
    let code = app.code_of(&b.user, &rid, 41).await;

    let (status, body) = answer(app.scan(&code).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        fields(&body),
        BTreeSet::from([
            "ticketId",
            "concertId",
            "date",
            "seatNo",
            "section",
            "checkedInAt"
        ])
    );
    assert_eq!(body["ticketId"], format!("{rid}-41"));
    assert_eq!(
        (
            &body["concertId"],
            &body["date"],
            &body["seatNo"],
            &body["section"]
        ),
        (
            &json!(app.concert),
            &json!(date),
            &json!(41),
            &json!("General")
        )
    );
    let at = body["checkedInAt"].as_str().unwrap().to_owned();
    assert_eq!(at.len(), 20, "{at}");

    let again = assert_problem(
        app.scan(&code).await,
        StatusCode::CONFLICT,
        "ALREADY_CHECKED_IN",
    )
    .await;
    assert_eq!(again["checkedInAt"], at);
    assert!(again["detail"].as_str().unwrap().contains(&at), "{again}");

    let tickets = app.tickets_of(&b.user, &rid).await;
    assert_eq!(
        tickets[0]["checkedInAt"],
        Value::Null,
        "seat 40 is not in yet"
    );
    assert_eq!(tickets[1]["checkedInAt"], at);
    assert!(marker_checked_in(&app, &date, 41).await.is_some());
}

/// Fifty scans of one code at once: exactly one 200; the other 49 are ALREADY_CHECKED_IN, all
/// naming the one time the seat was let in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_fifty_concurrent_scans_of_one_code_exactly_one_lets_it_in() {
    let app = spawn_app_with(&[]).await;
    let mut b = app.buyer("fifty").await;
    let rid = app.buy(&mut b, &app.dates[0], &[42]).await;
    let code = app.code_of(&b.user, &rid, 42).await;
    let _burst = app.burst().await;
    let answers = join_all((0..50).map(|_| app.scan(&code))).await;
    let mut let_in = Vec::new();
    let mut already = BTreeSet::new();
    for res in answers {
        let (status, body) = answer(res).await;
        match status {
            StatusCode::OK => let_in.push(body["checkedInAt"].as_str().unwrap().to_owned()),
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], "ALREADY_CHECKED_IN", "{body}");
                already.insert(body["checkedInAt"].as_str().unwrap().to_owned());
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(let_in.len(), 1, "exactly one scan lets the seat in");
    assert_eq!(already, BTreeSet::from([let_in[0].clone()]));
}

/// A refund of a reservation one of whose seats was let in is 409 ALREADY_CHECKED_IN and
/// changes nothing: the reservation stays CONFIRMED, the balance where it was, both seats
/// sold. The invariants hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_of_a_reservation_with_a_seat_let_in_is_refused_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let tag = unique("used");
    let mut b = app.buyer(&tag).await;
    let date = app.dates[1].clone();
    let rid = app.buy(&mut b, &date, &[43, 44]).await;
    let code = app.code_of(&b.user, &rid, 44).await;
    assert_eq!(app.scan(&code).await.status(), StatusCode::OK);
    let before = app.reservation_raw(&rid).await;
    let problem = assert_problem(
        app.refund(&b, &rid).await,
        StatusCode::CONFLICT,
        "ALREADY_CHECKED_IN",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("seat 44"),
        "{problem}"
    );
    assert!(problem["checkedInAt"].is_string(), "{problem}");
    assert_eq!(app.reservation_raw(&rid).await, before);
    let (_, balance) = answer(app.api.balance(&b.token, &b.user).await.unwrap()).await;
    assert_eq!(balance["balance"], 0);
    for seat in [43, 44] {
        assert_eq!(app.seat_status(&b.token, &date, seat).await, "SOLD");
    }
    app.assert_invariants(&tag).await;
}

/// A ticket of a refunded seat is 409 TICKET_REFUNDED, also once the seat is sold again to
/// someone else, whose own ticket is let in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_of_a_refunded_seat_is_ticket_refunded_even_after_it_is_sold_again() {
    let app = spawn_app_with(&[]).await;
    let tag = unique("refunded");
    let mut b = app.buyer(&tag).await;
    let date = app.dates[1].clone();
    let rid = app.buy(&mut b, &date, &[45]).await;
    let old = app.code_of(&b.user, &rid, 45).await;
    assert_eq!(app.refund(&b, &rid).await.status(), StatusCode::OK);
    assert_problem(
        app.scan(&old).await,
        StatusCode::CONFLICT,
        "TICKET_REFUNDED",
    )
    .await;

    let mut c = app.buyer(&tag).await;
    let resold = app.buy(&mut c, &date, &[45]).await;
    assert_problem(
        app.scan(&old).await,
        StatusCode::CONFLICT,
        "TICKET_REFUNDED",
    )
    .await;
    let new = app.code_of(&c.user, &resold, 45).await;
    assert_eq!(app.scan(&new).await.status(), StatusCode::OK);
    app.assert_invariants(&tag).await;
}

/// A well-signed code of a seat no reservation of ours bought: 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_ticket_the_store_does_not_know_is_not_found() {
    let app = spawn_app_with(&[]).await;
    let keys = shared::flows::tickets::keys(state(&app)).unwrap();
    for (concert, date) in [
        (app.concert.clone(), app.dates[0].clone()),
        (unique("nowhere"), "2030-01-01".to_owned()),
    ] {
        let code = keys.sign(&Ticket {
            id: TicketId {
                reservation: ReservationId::generate(),
                seat: SeatNo::new(46).unwrap(),
            },
            concert: ConcertId::parse(&concert).unwrap(),
            date: ConcertDate::parse(&date).unwrap(),
        });
        assert_problem(app.scan(&code).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

/// The door is the operator's: without the operator's token, 401 before the code is even
/// looked at; a body that is not `{"code": "..."}` is 400 VALIDATION_FAILED naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_door_takes_operator_credentials_and_a_code_only() {
    let app = spawn_app_with(&[]).await;
    for token in [None, Some("op_wrong-operator-token-0123456789abcdef")] {
        let mut req = app
            .api
            .request(reqwest::Method::POST, "/admin/checkins")
            .json(&json!({"code": "x"}));
        if let Some(t) = token {
            req = req.operator(t);
        }
        assert_problem(
            req.send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "ADMIN_UNAUTHORIZED",
        )
        .await;
    }
    for (body, field) in [
        (json!({}), "code"),
        (json!({"code": 7}), "code"),
        (json!({"code": "x", "gate": 3}), "gate"),
    ] {
        let res = app
            .api
            .request(reqwest::Method::POST, "/admin/checkins")
            .operator(common::ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert!(
            problem["detail"].as_str().unwrap().starts_with(field),
            "{body}: {problem}"
        );
    }
}
