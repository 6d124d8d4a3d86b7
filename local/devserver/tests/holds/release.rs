//! Releases that must change nothing: a hold paid since, or a seat held again.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_a_hold_that_was_paid_since_changes_nothing() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let date = app.dates[0].clone();
    let paid = app.write_paid_hold(&user, &date, 34).await;
    let marker_before = app.marker(&app.concert, &date, 34).await;
    let record_before = app.reservation_raw(&paid.reservation_id).await;

    assert_eq!(
        release(&app.state, &HoldRef::from(&paid)).await.unwrap(),
        Released::Nothing
    );
    assert_eq!(
        app.stored(&paid.reservation_id).await.status,
        ReservationStatus::Confirmed
    );
    assert_eq!(
        app.reservation_raw(&paid.reservation_id).await,
        record_before
    );
    let m = app.marker(&app.concert, &date, 34).await;
    assert_eq!(m, marker_before);
    assert_eq!(text(&m.unwrap(), "status"), "SOLD");
}

/// Releasing an old hold whose seat was held again expires only the old reservation and keeps
/// the new marker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_an_old_hold_of_a_seat_held_again_keeps_the_new_marker() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let (a, b) = (unique("a"), unique("b"));
    let tb = app.active_token(&b).await;
    let date = app.dates[0].clone();
    let (old, _) = app.write_lapsed_hold(&a, &date, 35, false).await;
    // The lapsed hold does not block: B holds the seat over it, before any release.
    let newer = app.hold_ok(&tb, &b, &date, 35).await;
    let newer_marker = app
        .marker(&app.concert, &date, 35)
        .await
        .expect("B's marker");
    assert_eq!(
        text(&newer_marker, "reservationId"),
        newer["reservationId"].as_str().unwrap()
    );

    assert_eq!(
        release(&app.state, &HoldRef::from(&old)).await.unwrap(),
        Released::ExpiredOnly
    );
    assert_eq!(
        app.stored(&old.reservation_id).await.status,
        ReservationStatus::Expired
    );
    assert_eq!(
        app.stored(&reservation_id(&newer)).await.status,
        ReservationStatus::Held
    );
    assert_eq!(
        app.marker(&app.concert, &date, 35).await,
        Some(newer_marker.clone())
    );
    assert_eq!(status_of(&app.seats(&tb, &date).await, 35), "HELD");

    // Again: nothing more to do.
    assert_eq!(
        release(&app.state, &HoldRef::from(&old)).await.unwrap(),
        Released::Nothing
    );
    assert_eq!(
        app.marker(&app.concert, &date, 35).await,
        Some(newer_marker)
    );
}
