//! The scheduled sweep of lapsed holds (it takes `TIMING` for writing: it is table-wide).

use super::*;

/// With a 1 second hold ttl the sweep expires the reservation frees the seat and deletes the
/// marker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_expires_a_lapsed_hold_and_frees_its_seat_and_marker() {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "1")]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let held = app.hold_ok(&token, &user, &date, 31).await;
    let id = reservation_id(&held);
    let expires = app.stored(&id).await.expires_at;
    sleep_past(expires, 300).await;

    sweep(&app.state).await.expect("the sweep runs");

    // Whoever did it (this sweep, or DynamoDB's TTL for the marker), the end state is released.
    assert_eq!(app.stored(&id).await.status, ReservationStatus::Expired);
    assert_eq!(app.stored(&id).await.held_shard, None);
    assert_eq!(status_of(&app.seats(&token, &date).await, 31), "AVAILABLE");
    assert_eq!(app.marker(&app.concert, &date, 31).await, None);
    let (status, view) = app.get_reservation(&token, &id.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "EXPIRED");
    // And the seat can be held again.
    app.hold_ok(&token, &user, &date, 31).await;
}

/// The sweep releases an expired hold ttl has not deleted and releasing it again does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_releases_a_lapsed_hold_and_a_second_release_does_nothing() {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let (r, _) = app.write_lapsed_hold(&user, &date, 32, true).await;
    assert!(app.marker(&app.concert, &date, 32).await.is_some());

    sweep(&app.state).await.expect("the sweep runs");
    assert_eq!(
        app.stored(&r.reservation_id).await.status,
        ReservationStatus::Expired
    );
    assert_eq!(app.marker(&app.concert, &date, 32).await, None);
    assert_eq!(status_of(&app.seats(&token, &date).await, 32), "AVAILABLE");

    // A second sweep and a direct release of the same hold change nothing.
    let before = app.reservation_raw(&r.reservation_id).await;
    sweep(&app.state).await.expect("the sweep runs");
    assert_eq!(
        release(&app.state, &HoldRef::from(&r)).await.unwrap(),
        Released::Nothing
    );
    assert_eq!(app.reservation_raw(&r.reservation_id).await, before);
    assert_eq!(app.marker(&app.concert, &date, 32).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_leaves_a_hold_whose_time_has_not_run_out() {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let held = app.hold_ok(&token, &user, &date, 33).await;
    sweep(&app.state).await.expect("the sweep runs");
    assert_eq!(
        app.stored(&reservation_id(&held)).await.status,
        ReservationStatus::Held
    );
    assert!(app.marker(&app.concert, &date, 33).await.is_some());
    assert_eq!(
        release(
            &app.state,
            &HoldRef::from(&app.stored(&reservation_id(&held)).await)
        )
        .await
        .unwrap(),
        Released::Nothing
    );
    assert_eq!(status_of(&app.seats(&token, &date).await, 33), "HELD");
}
