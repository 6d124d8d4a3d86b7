//! Release by the holder: `DELETE /reservations/{id}`.

use super::*;

/// The holder's release frees every seat at once and answers RELEASED, the same again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_releases_a_hold_and_its_seats_are_free_at_once() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let dates_before = app.dates(&token).await;
    let (status, held) = app.hold_seats(&token, &user, &date, &[7, 8], None).await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let id = held["reservationId"].as_str().unwrap().to_owned();
    let (status, view) = app.release_as(&token, &id).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "RELEASED");
    assert_eq!(view["seatNos"], json!([7, 8]));
    let map = app.seats(&token, &date).await;
    assert_eq!(status_of(&map, 7), "AVAILABLE");
    assert_eq!(status_of(&map, 8), "AVAILABLE");
    // The dates cache was invalidated: the listing counts the seats free again.
    assert_eq!(app.dates(&token).await, dates_before);
    assert_eq!(app.owners(&date, &[7, 8]).await, vec![None, None]);
    let stored = app.stored(&reservation_id(&held)).await;
    assert_eq!(stored.status, ReservationStatus::Released);
    assert_eq!(stored.held_shard, None, "off the sweep's index");
    assert_eq!(app.seat_count(&user, &app.concert).await, (0, 0));
    // Again: the same answer, and GET shows it.
    assert_eq!(
        app.release_as(&token, &id).await,
        (StatusCode::OK, view.clone())
    );
    let (status, read) = app.get_reservation(&token, &id).await;
    assert_eq!(
        (status, read["status"].as_str()),
        (StatusCode::OK, Some("RELEASED"))
    );
}

/// Another user's release is 403 and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_release_is_forbidden() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let (a, b) = (unique("a"), unique("b"));
    let (ta, tb) = (app.active_token(&a).await, app.active_token(&b).await);
    let date = app.dates[0].clone();
    let held = app.hold_ok(&ta, &a, &date, 11).await;
    let id = held["reservationId"].as_str().unwrap();
    let (status, body) = app.release_as(&tb, id).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN"))
    );
    assert_eq!(
        app.stored(&reservation_id(&held)).await.status,
        ReservationStatus::Held
    );
    assert_eq!(status_of(&app.seats(&ta, &date).await, 11), "HELD");
}

/// A paid reservation is RESERVATION_NOT_HELD, an expired one RESERVATION_EXPIRED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_a_paid_or_expired_reservation_is_refused() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "2")]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let lapsing = app.hold_ok(&token, &user, &date, 12).await;
    let paid = app.hold_ok(&token, &user, &date, 13).await;
    let res = app.api.charge(&token, &user, 50_000, None).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .api
        .pay(&token, &user, paid["reservationId"].as_str().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    let token = app.active_token(&user).await;
    let (status, body) = app
        .release_as(&token, paid["reservationId"].as_str().unwrap())
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("RESERVATION_NOT_HELD"))
    );
    sleep_past(app.stored(&reservation_id(&lapsing)).await.expires_at, 100).await;
    let (status, body) = app
        .release_as(&token, lapsing["reservationId"].as_str().unwrap())
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("RESERVATION_EXPIRED"))
    );
    assert_eq!(status_of(&app.seats(&token, &date).await, 13), "SOLD");
}

/// After a release the buyer may hold again up to the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_release_the_buyer_may_hold_again() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[1].clone();
    let (_, held) = app
        .hold_seats(&token, &user, &date, &[1, 2, 3, 4], None)
        .await;
    let (status, _) = app.hold_seats(&token, &user, &date, &[5], None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .release_as(&token, held["reservationId"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .hold_seats(&token, &user, &date, &[5, 6, 7, 8], None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A release racing its own payment ends paid or released, never both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_racing_its_payment_ends_paid_or_released_never_both() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let date = app.dates[1].clone();
    for seat in 20..26u16 {
        let user = unique("u");
        let token = app.active_token(&user).await;
        let res = app.api.charge(&token, &user, 50_000, None).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let held = app.hold_ok(&token, &user, &date, u64::from(seat)).await;
        let id = held["reservationId"].as_str().unwrap();
        let (paid, released) = tokio::join!(
            app.api.pay(&token, &user, id, None),
            app.release_as(&token, id)
        );
        let paid = paid.unwrap();
        let stored = app.stored(&reservation_id(&held)).await;
        let marker = app.marker(&app.concert, &date, seat).await;
        match (paid.status(), released.0) {
            (StatusCode::CREATED, StatusCode::CONFLICT) => {
                assert_eq!(released.1["code"], "RESERVATION_NOT_HELD");
                assert_eq!(stored.status, ReservationStatus::Confirmed);
                assert_eq!(text(&marker.expect("sold"), "status"), "SOLD");
                assert_eq!(app.seat_count(&user, &app.concert).await, (1, 0));
            }
            (StatusCode::CONFLICT, StatusCode::OK) => {
                assert_eq!(paid.code().as_deref(), Some("RESERVATION_NOT_HELD"));
                assert_eq!(stored.status, ReservationStatus::Released);
                assert!(marker.is_none());
                assert_eq!(app.seat_count(&user, &app.concert).await, (0, 0));
            }
            other => panic!("paid and released: {other:?} {}", released.1),
        }
    }
}
