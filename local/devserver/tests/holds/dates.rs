//! The dates of a concert, and the dates cache that a hold must not leave stale.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_are_listed_ascending_with_50_available_seats_each() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = app.active_token(&unique("u")).await;
    let res = app
        .get(&format!("/concerts/{}/dates", app.concert), Some(&token))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().unwrap();
    assert_eq!(keys_of(&body), set_of(&["concertId", "dates"]), "{body}");
    assert_eq!(body["concertId"], app.concert.as_str());
    for d in body["dates"].as_array().unwrap() {
        assert_eq!(keys_of(d), set_of(&["date", "availableSeats"]), "{d}");
    }
    let expected: Vec<(String, u64)> = app.dates.iter().map(|d| (d.clone(), 50)).collect();
    assert_eq!(pairs(&body), expected);
    assert!(app.dates[0] < app.dates[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_dates_from_today_on_are_listed_in_ascending_order() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let seeded: Vec<ConcertDate> = [5, -1, 0, 2, -30]
        .into_iter()
        .map(days_from_today)
        .collect();
    let concert = app.seed_concert(&seeded, 2, 50_000).await;
    let token = app.token_for_concert(&unique("u"), &concert).await;

    let body = app.dates_of(&token, &concert).await;
    let today = ConcertDate::today_utc();
    let mut expected: Vec<(String, u64)> = seeded
        .iter()
        .filter(|d| **d >= today)
        .map(|d| (d.to_string(), 2))
        .collect();
    expected.sort();
    assert_eq!(expected.len(), 3);
    assert_eq!(pairs(&body), expected, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_whose_seats_are_all_held_or_sold_disappears_from_the_dates() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "200")]).await;
    let viewer = app.active_token(&unique("viewer")).await;
    let date = app.dates[0].clone();

    // Seat 50 is sold (what a payment leaves); the dates call caches the count.
    app.write_paid_hold(&unique("buyer"), &date, 50).await;
    assert_eq!(
        app.dates(&viewer).await,
        vec![(date.clone(), 49), (app.dates[1].clone(), 50)]
    );

    // Seats 1 to 49 are held by 49 users.
    let users: Vec<String> = (1..=49).map(|i| format!("{}-{i}", unique("h"))).collect();
    let tokens = app.active_tokens(&users).await;
    let holds = join_all(
        users
            .iter()
            .zip(&tokens)
            .zip(1u64..)
            .map(|((u, t), seat)| app.hold_ok(t, u, &date, seat)),
    )
    .await;
    assert_eq!(holds.len(), 49);

    assert_eq!(app.dates(&viewer).await, vec![(app.dates[1].clone(), 50)]);
    let map = app.seats(&viewer, &date).await;
    assert_eq!(statuses(&map).iter().filter(|s| *s == "HELD").count(), 49);
    assert_eq!(status_of(&map, 50), "SOLD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_makes_the_very_next_dates_call_show_one_seat_fewer() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let concert = ConcertId::parse(&app.concert).unwrap();
    let fifty: Vec<(String, u64)> = app.dates.iter().map(|d| (d.clone(), 50)).collect();
    assert_eq!(app.dates(&token).await, fifty);
    // The answer is cached now.
    let cached = ReadCache::new(&app.state.redis)
        .get(&concert, View::Dates)
        .await
        .unwrap();
    assert!(cached.body.is_some(), "the dates call filled the cache");
    assert_eq!(app.dates(&token).await, fifty);

    app.hold_ok(&token, &user, &app.dates[1], 1).await;
    assert_eq!(
        app.dates(&token).await,
        vec![(app.dates[0].clone(), 50), (app.dates[1].clone(), 49)]
    );
    app.hold_ok(&token, &user, &app.dates[1], 2).await;
    assert_eq!(
        app.dates(&token).await,
        vec![(app.dates[0].clone(), 50), (app.dates[1].clone(), 48)]
    );
}
