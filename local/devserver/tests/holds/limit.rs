//! The per-buyer limit: MAX_SEATS_PER_USER seats of a concert, held and bought together.

use super::*;

/// Twenty concurrent holds by one buyer on distinct seats leave at most the limit held.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_holds_by_one_buyer_leave_at_most_the_limit_held() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[1].clone();
    let answers =
        join_all((1..=20u64).map(|seat| app.hold_as(&token, &user, &app.concert, &date, seat)))
            .await;
    let won = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(won, 4, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], "SEAT_LIMIT_REACHED", "{body}");
    }
    let seats: Vec<u16> = (1..=20).collect();
    let held = app.owners(&date, &seats).await.iter().flatten().count();
    assert_eq!(held, 4);
    assert_eq!(app.seat_count(&user, &app.concert).await, (4, 4));
}

/// A hold past the limit is refused whole, with the seats of the buyer's other holds counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_past_the_limit_is_refused_and_writes_nothing() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let (status, _) = app
        .hold_seats(&token, &user, &date, &[40, 41, 42], None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = app.hold_seats(&token, &user, &date, &[43, 44], None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("SEAT_LIMIT_REACHED"))
    );
    let (status, body) = app
        .hold_seats(&token, &user, &date, &[1, 2, 3, 4, 5], None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("SEAT_LIMIT_REACHED"))
    );
    assert_eq!(app.owners(&date, &[43, 44, 1, 5]).await, vec![None; 4]);
    assert_eq!(app.seat_count(&user, &app.concert).await, (3, 1));
    // The other date counts too: the limit is per concert.
    let (status, _) = app
        .hold_seats(&token, &user, &app.dates[1], &[45], None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .hold_seats(&token, &user, &app.dates[1], &[46], None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

/// After an expiry the buyer may hold again, even before any release ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_expiry_the_buyer_may_hold_again_before_any_release() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "1")]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let (status, view) = app
        .hold_seats(&token, &user, &date, &[1, 2, 3, 4], None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let first = reservation_id(&view);
    sleep_past(app.stored(&first).await.expires_at, 100).await;
    let (status, view) = app.hold_seats(&token, &user, &date, &[5, 6], None).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    // The lapsed hold was released on the way (or by the sweep): off the count, EXPIRED.
    assert_eq!(app.stored(&first).await.status, ReservationStatus::Expired);
    assert_eq!(app.seat_count(&user, &app.concert).await, (2, 1));
}

/// A seatNos of more seats than the limit is refused; one of more than twenty, or with a seat
/// twice, or with seatNo too, is invalid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seat_lists_out_of_bounds_are_refused_before_any_write() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let many: Vec<u16> = (1..=21).collect();
    for (body, field) in [
        (
            json!({"userId": user, "concertId": app.concert, "date": date, "seatNos": many}),
            "seatNos",
        ),
        (
            json!({"userId": user, "concertId": app.concert, "date": date, "seatNos": []}),
            "seatNos",
        ),
        (
            json!({"userId": user, "concertId": app.concert, "date": date, "seatNos": [3, 3]}),
            "seatNos",
        ),
        (
            json!({"userId": user, "concertId": app.concert, "date": date, "seatNos": [3], "seatNo": 3}),
            "seatNos",
        ),
        (
            json!({"userId": user, "concertId": app.concert, "date": date}),
            "seatNo",
        ),
    ] {
        let res = app.post_json("/reservations", Some(&token), &body).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert!(
            problem["detail"].as_str().unwrap().contains(field),
            "{problem}"
        );
    }
    assert_eq!(app.seat_count(&user, &app.concert).await, (0, 0));
}
