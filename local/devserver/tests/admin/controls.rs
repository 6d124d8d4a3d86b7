//! The line's controls and figures.

use super::*;

#[tokio::test]
async fn the_queue_controls_are_stored_and_answered_with_the_lines_figures() {
    let app = spawn_app().await;
    let concert = created(&app, &[day(3)]).await;
    let (_, read) = get(&app, &concert).await;
    let queue = &read["queue"];
    assert_eq!(queue["activeLimit"], app.state.settings.queue_active_limit);
    assert_eq!(queue["paused"], false);
    assert_eq!(queue["waiting"], 0);
    assert_eq!(queue["active"], 0);
    assert_eq!(queue["opensAt"], Value::Null);

    active(&app, &unique("u"), &concert).await;
    active(&app, &unique("u"), &concert).await;
    let (status, queue) = patch(&app, &concert, &json!({ "activeLimit": 7, "paused": true })).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["activeLimit"], 7);
    assert_eq!(queue["paused"], true);
    assert_eq!(queue["active"], 2);
    assert_eq!(queue["admittedLastMinute"], 2);
    let (_, queue) = patch(&app, &concert, &json!({ "paused": false })).await;
    assert_eq!(
        (queue["activeLimit"].clone(), queue["paused"].clone()),
        (json!(7), json!(false))
    );
    let (_, read) = get(&app, &concert).await;
    assert_eq!(read["queue"]["activeLimit"], 7, "kept with the concert");
    // A catalog change keeps the controls.
    let (status, _) = put(&app, &concert, &catalog("Renamed", &[day(3)])).await;
    assert_eq!(status, StatusCode::OK);
    let (_, read) = get(&app, &concert).await;
    assert_eq!(read["queue"]["activeLimit"], 7);
}

#[tokio::test]
async fn a_bad_control_is_400_and_an_unknown_concert_404() {
    let app = spawn_app().await;
    let concert = created(&app, &[day(3)]).await;
    for (body, field) in [
        (json!({}), "body"),
        (json!({ "activeLimit": 0 }), "activeLimit"),
        (json!({ "activeLimit": 100_001 }), "activeLimit"),
        (json!({ "activeLimit": null }), "activeLimit"),
        (json!({ "activeLimit": 1.5 }), "activeLimit"),
        (json!({ "paused": "yes" }), "paused"),
        (json!({ "paused": true, "other": 1 }), "other"),
    ] {
        let res = app
            .api
            .patch_queue(ADMIN_TOKEN, &concert, &body)
            .await
            .unwrap();
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.starts_with(field), "{body}: {detail}");
    }
    let (_, read) = get(&app, &concert).await;
    assert_eq!(read["queue"]["paused"], false, "nothing was written");
    let res = app
        .api
        .patch_queue(ADMIN_TOKEN, &unique("none"), &json!({ "paused": true }))
        .await
        .unwrap();
    assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

/// The change is stored before the line's copy of it is written: with Redis away it is still
/// answered as made (the counts only the line knows are null), since it is in DynamoDB.
#[tokio::test]
async fn with_redis_away_a_change_is_stored_and_answered_as_made() {
    let app = spawn_app_with(&[
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("STORE_TIMEOUT_MS", "300"),
    ])
    .await;
    let concert = unique("away");
    let (status, stored) = put(&app, &concert, &catalog("Away", &[day(3)])).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let (status, queue) = patch(&app, &concert, &json!({ "paused": true })).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["paused"], true);
    for count in ["waiting", "active", "admittedLastMinute"] {
        assert_eq!(queue[count], Value::Null, "{count}");
    }
    let item = app
        .state
        .db
        .concert_item(&ConcertId::parse(&concert).unwrap())
        .await
        .expect("DynamoDB answers")
        .expect("stored");
    assert!(item.paused);
}
