//! Idempotent holds: `Idempotency-Key` on `POST /reservations`.

use super::*;

/// A hold whose answer was lost, sent again with its key, answers the same 201 and holds
/// nothing more; another body under the key is 422.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_retried_with_its_key_answers_the_same_and_holds_nothing_more() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let first = app
        .hold_seats(&token, &user, &date, &[33, 34], Some("h-1"))
        .await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    let again = app
        .hold_seats(&token, &user, &date, &[34, 33], Some("h-1"))
        .await;
    assert_eq!(again, first);
    assert_eq!(app.seat_count(&user, &app.concert).await, (2, 1));
    let (status, body) = app
        .hold_seats(&token, &user, &date, &[35], Some("h-1"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("IDEMPOTENCY_KEY_REUSED")
        )
    );
    assert_eq!(app.owners(&date, &[35]).await, vec![None]);
    assert_eq!(app.seat_count(&user, &app.concert).await, (2, 1));
}

/// Twenty concurrent requests with one key make one hold, and all answer it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_requests_with_one_key_make_one_hold() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[1].clone();
    let answers =
        join_all((0..20).map(|_| app.hold_seats(&token, &user, &date, &[36, 37], Some("h-20"))))
            .await;
    for answer in &answers {
        assert_eq!(*answer, answers[0], "{answer:?}");
    }
    assert_eq!(answers[0].0, StatusCode::CREATED, "{}", answers[0].1);
    assert_eq!(app.seat_count(&user, &app.concert).await, (2, 1));
}
