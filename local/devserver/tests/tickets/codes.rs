//! Tickets: one per seat of a paid reservation, each with a code the stack's key signed; the
//! JWKS that verifies them; and codes that are not ours, refused before any store is asked.

use super::*;
use shared::domain::tickets::{Ticket, TicketId, TicketKeys};
use shared::domain::{ConcertDate, ConcertId, SeatNo};

/// Two seats bought: two tickets, by seat, each of the section's name, with a code that the
/// JWKS's key verifies to exactly that ticket, and no check-in yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_reservation_has_a_ticket_per_seat_whose_code_verifies() {
    let app = spawn_app_with(&[]).await;
    let mut b = app.buyer("tix").await;
    let date = app.dates[0].clone();
    let rid = app.buy(&mut b, &date, &[12, 11]).await;
    let tickets = app.tickets_of(&b.user, &rid).await;
    assert_eq!(tickets.len(), 2);
    let keys = shared::flows::tickets::keys(state(&app)).unwrap();
    for (ticket, seat) in tickets.iter().zip([11u16, 12]) {
        assert_eq!(fields(ticket), BTreeSet::from(TICKET_FIELDS), "{ticket}");
        assert_eq!(ticket["ticketId"], format!("{rid}-{seat}"));
        assert_eq!(ticket["reservationId"], rid.to_string());
        assert_eq!(ticket["concertId"], app.concert);
        assert_eq!(ticket["date"], date);
        assert_eq!(ticket["seatNo"], seat);
        assert_eq!(ticket["section"], "General");
        assert_eq!(ticket["checkedInAt"], Value::Null);
        let code = ticket["code"].as_str().unwrap();
        assert!(code.len() <= 400, "{code}");
        assert!(code
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._~-".contains(&c)));
        let verified = keys
            .verify(code, ConcertDate::today_utc())
            .expect("the code verifies");
        assert_eq!(verified.id.to_string(), format!("{rid}-{seat}"));
        assert_eq!(verified.concert.as_str(), app.concert);
        eprintln!(
            "a code of concert {:?}: {} characters: {code}",
            app.concert,
            code.len()
        );
    }
    // Asked again: the same codes (Ed25519 signs deterministically).
    assert_eq!(app.tickets_of(&b.user, &rid).await, tickets);

    // The JWKS, asked with no credentials at all, has the key that signed them.
    let res = app.api.ticket_keys().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    assert_eq!(res.header("cache-control"), Some("public, max-age=300"));
    let jwks: Value = res.json().unwrap();
    let kid = keys.kid();
    assert_eq!(
        jwks["keys"],
        json!([{
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
            "kid": kid, "x": jwks["keys"][0]["x"],
        }])
    );
    assert_eq!(jwks["keys"][0]["x"].as_str().unwrap().len(), 43);
    assert!(tickets[0]["code"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{kid}.")));
}

/// Only a CONFIRMED reservation has tickets: held, released, refunded are 409
/// RESERVATION_NOT_PAID. Another buyer's is 403, an unknown one 404, no buyer 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_are_a_paid_reservations_and_its_buyers_only() {
    let app = spawn_app_with(&[]).await;
    let mut b = app.buyer("own").await;
    let held = app.hold(&b, &app.dates[1], &[20]).await;
    let released = app.hold(&b, &app.dates[1], &[21]).await;
    let res = app
        .api
        .release(&b.token, &released.to_string())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let refunded = app.buy(&mut b, &app.dates[1], &[22]).await;
    assert_eq!(app.refund(&b, &refunded).await.status(), StatusCode::OK);
    for rid in [held, released, refunded] {
        let res = app.api.tickets(&b.user, &rid.to_string()).await.unwrap();
        assert_problem(res, StatusCode::CONFLICT, "RESERVATION_NOT_PAID").await;
    }
    let paid = app.buy(&mut b, &app.dates[1], &[23]).await;
    let res = app
        .api
        .tickets(&unique("other"), &paid.to_string())
        .await
        .unwrap();
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let res = app
        .api
        .tickets(&b.user, &ReservationId::generate().to_string())
        .await
        .unwrap();
    assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let res = app
        .api
        .request(
            reqwest::Method::GET,
            &format!("/reservations/{paid}/tickets"),
        )
        .anonymous()
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .api
        .request(reqwest::Method::GET, "/reservations/not-a-uuid/tickets")
        .as_user(&b.user)
        .send()
        .await
        .unwrap();
    assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
}

/// Each byte of a real code changed, in turn, to another character of the code alphabet (and
/// to one outside it): every one is 400 TICKET_INVALID, from a server whose DynamoDB client
/// counts its calls and whose Redis is unreachable, and not one store call is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_changed_byte_anywhere_is_ticket_invalid_with_no_store_call() {
    let app = spawn_app_with(&[]).await;
    let mut b = app.buyer("byte").await;
    let rid = app.buy(&mut b, &app.dates[0], &[30]).await;
    let code = app.code_of(&b.user, &rid, 30).await;
    let (base, counter) = counted_app(&app).await;
    let door = common::Client::new(&base).unwrap();
    counter.take();
    let mut changed = Vec::new();
    for i in 0..code.len() {
        for with in [b'A', b'.', b'+'] {
            let mut bytes = code.clone().into_bytes();
            if bytes[i] == with {
                bytes[i] = b'B';
            } else {
                bytes[i] = with;
            }
            changed.push(String::from_utf8(bytes).unwrap());
        }
    }
    changed.extend([
        format!("{code}A"),
        code[..code.len() - 1].to_owned(),
        "x".repeat(401),
        String::new(),
    ]);
    for bad in &changed {
        let res = door.check_in(common::ADMIN_TOKEN, bad).await.unwrap();
        assert_problem(res, StatusCode::BAD_REQUEST, "TICKET_INVALID").await;
    }
    assert_eq!(counter.take(), Vec::<String>::new(), "no store call");
    eprintln!("{} altered codes refused with no store call", changed.len());
    // The code itself is let in, by the same server: its store works.
    let res = door.check_in(common::ADMIN_TOKEN, &code).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    assert_eq!(counter.take(), ["GetItem", "UpdateItem"]);
}

/// A code of a real seat, signed by a key that is not this stack's (a fresh key, or one made
/// to carry our kid): TICKET_INVALID, and the seat is not let in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_signed_by_another_key_is_ticket_invalid() {
    let app = spawn_app_with(&[]).await;
    let mut b = app.buyer("key").await;
    let date = app.dates[0].clone();
    let rid = app.buy(&mut b, &date, &[31]).await;
    let ticket = Ticket {
        id: TicketId {
            reservation: rid,
            seat: SeatNo::new(31).unwrap(),
        },
        concert: ConcertId::parse(&app.concert).unwrap(),
        date: ConcertDate::parse(&date).unwrap(),
    };
    let foreign = TicketKeys::random().sign(&ticket);
    let ours = shared::flows::tickets::keys(state(&app))
        .unwrap()
        .kid()
        .to_owned();
    let under_our_kid = format!("{ours}.{}", foreign.split_once('.').unwrap().1);
    for code in [foreign, under_our_kid] {
        assert_problem(
            app.scan(&code).await,
            StatusCode::BAD_REQUEST,
            "TICKET_INVALID",
        )
        .await;
    }
    assert_eq!(marker_checked_in(&app, &date, 31).await, None);
}
