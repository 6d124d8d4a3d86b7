//! A hold whose time ran out, before any release ran: it blocks nothing and reads expired.

use super::*;

/// With a 2 second hold ttl an expired hold shows available in the seat map before any release
/// ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_hold_shows_available_before_any_release_ran() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let view = app.hold_ok(&token, &user, &date, 9).await;
    let id = reservation_id(&view);
    let expires = app.stored(&id).await.expires_at;
    // Seen HELD at least once, unless this box was too slow to ask in time.
    let in_time = now_ms() + 1_000 < expires;

    // HELD while its time runs, AVAILABLE from expiresAt on: the server's clock is ours.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut held_seen = 0;
    loop {
        let asked = now_ms();
        let map = app.seats(&token, &date).await;
        let answered = now_ms();
        match status_of(&map, 9).as_str() {
            "HELD" => {
                assert!(asked < expires, "HELD after expiresAt");
                held_seen += 1;
            }
            "AVAILABLE" => {
                assert!(answered >= expires, "AVAILABLE before expiresAt");
                break;
            }
            other => panic!("seat 9 is {other}"),
        }
        assert!(Instant::now() < deadline, "still HELD long after expiry");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(held_seen > 0 || !in_time, "the seat was never seen HELD");
    // No release ran: the reservation is still HELD as stored.
    assert_eq!(app.stored(&id).await.status, ReservationStatus::Held);
}

/// With a 2 second hold ttl an expired hold does not block and another user gets 201 before any
/// release ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_hold_does_not_block_another_user_before_any_release() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    let (a, b) = (unique("a"), unique("b"));
    let (ta, tb) = (app.active_token(&a).await, app.active_token(&b).await);
    let date = app.dates[0].clone();
    let first = app.hold_ok(&ta, &a, &date, 6).await;
    let first_id = reservation_id(&first);
    let expires = app.stored(&first_id).await.expires_at;

    // While it runs, B is refused (if this box asked in time).
    let asked = now_ms();
    let (status, body) = app.hold_as(&tb, &b, &app.concert, &date, 6).await;
    if status == StatusCode::CONFLICT {
        assert_eq!(body["code"], "SEAT_UNAVAILABLE");
    } else {
        assert!(
            asked >= expires,
            "B got {status} while A's hold ran: {body}"
        );
    }

    sleep_past(expires, 200).await;
    let second = if status == StatusCode::CREATED {
        body
    } else {
        app.hold_ok(&tb, &b, &date, 6).await
    };
    assert_eq!(second["userId"], b.as_str());
    assert_ne!(second["reservationId"], first["reservationId"]);
    // The seat is B's now, and no release had run: A's reservation is still HELD as stored.
    let m = app
        .marker(&app.concert, &date, 6)
        .await
        .expect("B's marker");
    assert_eq!(
        text(&m, "reservationId"),
        second["reservationId"].as_str().unwrap()
    );
    assert_eq!(app.stored(&first_id).await.status, ReservationStatus::Held);
    assert_eq!(status_of(&app.seats(&tb, &date).await, 6), "HELD");
}

/// With a 2 second hold ttl the reservation reads expired after its time before any release
/// ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_hold_reads_expired_before_any_release_ran() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let held = app.hold_ok(&token, &user, &app.dates[0], 23).await;
    let id = held["reservationId"].as_str().unwrap().to_owned();
    let expires = app.stored(&reservation_id(&held)).await.expires_at;

    let deadline = Instant::now() + Duration::from_secs(30);
    let view = loop {
        let asked = now_ms();
        let (status, view) = app.get_reservation(&token, &id).await;
        let answered = now_ms();
        assert_eq!(status, StatusCode::OK, "{view}");
        match view["status"].as_str().unwrap() {
            "HELD" => assert!(asked < expires, "HELD after expiresAt: {view}"),
            "EXPIRED" => {
                assert!(answered >= expires, "EXPIRED before expiresAt: {view}");
                break view;
            }
            other => panic!("status {other}"),
        }
        assert!(Instant::now() < deadline, "still HELD long after expiry");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Everything else reads as it did.
    for field in RESERVATION_FIELDS.iter().filter(|f| **f != "status") {
        assert_eq!(view[field], held[field], "{field}");
    }
    assert_eq!(
        app.stored(&reservation_id(&held)).await.status,
        ReservationStatus::Held,
        "no release ran"
    );
}
