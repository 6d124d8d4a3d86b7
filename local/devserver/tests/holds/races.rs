//! Concurrent holds on one seat and on one date (they take `TIMING` for writing).

use super::*;

/// Five hundred concurrent holds on one seat from 500 active users give exactly one 201 and 499
/// 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_holds_on_one_seat_have_one_winner() {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "1000"),
        ("STORE_TIMEOUT_MS", "60000"),
    ])
    .await;
    let users: Vec<String> = (0..500).map(|i| format!("{}-{i}", unique("r"))).collect();
    let tokens = app.active_tokens(&users).await;
    let date = app.dates[0].clone();
    // The price cache is warm, as it is after the first hold of a date on a live instance.
    app.seats(&tokens[0], &date).await;

    let answers: Vec<(StatusCode, Value)> = join_all(
        users
            .iter()
            .zip(&tokens)
            .map(|(u, t)| app.hold_as(t, u, &app.concert, &date, 17)),
    )
    .await;
    let winners: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, v)| v)
        .collect();
    let refused = answers
        .iter()
        .filter(|(s, v)| *s == StatusCode::CONFLICT && v["code"] == "SEAT_UNAVAILABLE")
        .count();
    let others: Vec<&(StatusCode, Value)> = answers
        .iter()
        .filter(|(s, _)| *s != StatusCode::CREATED && *s != StatusCode::CONFLICT)
        .collect();
    assert!(others.is_empty(), "unexpected answers: {others:?}");
    assert_eq!((winners.len(), refused), (1, 499));

    let m = app.marker(&app.concert, &date, 17).await.expect("a marker");
    assert_eq!(
        text(&m, "reservationId"),
        winners[0]["reservationId"].as_str().unwrap()
    );
    assert_eq!(text(&m, "userId"), winners[0]["userId"].as_str().unwrap());
    assert_eq!(status_of(&app.seats(&tokens[0], &date).await, 17), "HELD");
}

/// Two thousand concurrent holds over the 50 seats of a date give exactly 50 winners each seat
/// won once and all 50 held.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_holds_on_50_seats_have_50_winners_one_per_seat() {
    let _exclusive = TIMING.write().await;
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "5000"),
        ("STORE_TIMEOUT_MS", "60000"),
    ])
    .await;
    let users: Vec<String> = (0..2_000).map(|i| format!("{}-{i}", unique("s"))).collect();
    let tokens = app.active_tokens(&users).await;
    let date = app.dates[0].clone();
    app.seats(&tokens[0], &date).await;

    let answers: Vec<(StatusCode, Value)> = join_all(
        users
            .iter()
            .zip(&tokens)
            .enumerate()
            .map(|(i, (u, t))| app.hold_as(t, u, &app.concert, &date, i as u64 % 50 + 1)),
    )
    .await;
    let mut won: HashMap<u64, Vec<String>> = HashMap::new();
    let mut refused = 0;
    for (i, (status, view)) in answers.iter().enumerate() {
        match *status {
            StatusCode::CREATED => {
                assert_eq!(view["seatNo"], i as u64 % 50 + 1, "{view}");
                assert_eq!(view["userId"], users[i].as_str(), "{view}");
                won.entry(view["seatNo"].as_u64().unwrap())
                    .or_default()
                    .push(view["reservationId"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => {
                assert_eq!(view["code"], "SEAT_UNAVAILABLE", "{view}");
                refused += 1;
            }
            other => panic!("unexpected answer {other}: {view}"),
        }
    }
    assert_eq!(won.len(), 50, "every seat has a winner");
    assert!(
        won.values().all(|w| w.len() == 1),
        "a seat won twice: {won:?}"
    );
    assert_eq!(refused, 1_950);

    let map = app.seats(&tokens[0], &date).await;
    assert_eq!(statuses(&map), vec!["HELD".to_owned(); 50]);
    // Each seat's marker is its winner's.
    for (seat, ids) in &won {
        let m = app
            .marker(&app.concert, &date, *seat as u16)
            .await
            .expect("a marker");
        assert_eq!(text(&m, "reservationId"), ids[0], "seat {seat}");
    }
    // The other date is untouched.
    let other = app.seats(&tokens[0], &app.dates[1]).await;
    assert!(statuses(&other).iter().all(|s| s == "AVAILABLE"));
}
