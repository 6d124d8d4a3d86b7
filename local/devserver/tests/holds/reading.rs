//! Reading a reservation back.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_reads_the_reservation_held_exactly_as_the_hold_answered() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let held = app.hold_ok(&token, &user, &app.dates[0], 21).await;
    let res = app
        .get(
            &format!("/reservations/{}", held["reservationId"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    let view: Value = res.json().unwrap();
    assert_eq!(keys_of(&view), set_of(&RESERVATION_FIELDS), "{view}");
    assert_eq!(view["status"], "HELD");
    assert_eq!(view, held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_token_reading_a_reservation_is_403_forbidden() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let (a, b) = (unique("a"), unique("b"));
    let (ta, tb) = (app.active_token(&a).await, app.active_token(&b).await);
    let held = app.hold_ok(&ta, &a, &app.dates[0], 22).await;
    let id = held["reservationId"].as_str().unwrap();
    let res = app.get(&format!("/reservations/{id}"), Some(&tb)).await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
}

/// An unknown reservation id is 404 not found and a malformed one is 400 naming reservation id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_reservation_is_404_and_a_malformed_id_400() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = app.active_token(&unique("u")).await;
    let res = app
        .get(
            &format!("/reservations/{}", uuid::Uuid::new_v4()),
            Some(&token),
        )
        .await;
    assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    let simple = uuid::Uuid::new_v4().simple().to_string();
    let braced = format!("%7B{}%7D", uuid::Uuid::new_v4());
    for bad in ["not-a-uuid", "1", simple.as_str(), braced.as_str(), "%20"] {
        let res = app.get(&format!("/reservations/{bad}"), Some(&token)).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("reservationId"), "{bad}: {detail:?}");
    }
}
