//! The seat map of a date: every seat, its price and its status.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seat_map_lists_seats_1_to_50_in_order_with_price_and_available() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = app.active_token(&unique("u")).await;
    for date in &app.dates {
        let res = app
            .get(
                &format!("/concerts/{}/dates/{date}/seats", app.concert),
                Some(&token),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "application/json");
        let body: Value = res.json().unwrap();
        assert_eq!(
            keys_of(&body),
            set_of(&["concertId", "date", "seats"]),
            "{body}"
        );
        assert_eq!(body["concertId"], app.concert.as_str());
        assert_eq!(body["date"], date.as_str());
        let seats = body["seats"].as_array().unwrap();
        let numbers: Vec<u64> = seats
            .iter()
            .map(|s| s["seatNo"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, (1..=50).collect::<Vec<u64>>());
        for seat in seats {
            assert_eq!(
                keys_of(seat),
                set_of(&["seatNo", "section", "price", "status"]),
                "{seat}"
            );
            assert_eq!(seat["price"], 50_000, "{seat}");
            assert_eq!(seat["status"], "AVAILABLE", "{seat}");
        }
    }
}

/// A held seat shows held in the seat map and every other seat stays available.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_seat_shows_held_and_the_others_stay_available() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    app.hold_ok(&token, &user, &app.dates[0], 7).await;

    let map = app.seats(&token, &app.dates[0]).await;
    for seat in &map {
        let expected = if seat["seatNo"] == 7 {
            "HELD"
        } else {
            "AVAILABLE"
        };
        assert_eq!(seat["status"], expected, "{seat}");
    }
    // The other date is untouched.
    let other = app.seats(&token, &app.dates[1]).await;
    assert!(statuses(&other).iter().all(|s| s == "AVAILABLE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sold_seat_shows_sold_in_the_seat_map() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = app.active_token(&unique("u")).await;
    app.write_paid_hold(&unique("buyer"), &app.dates[0], 3)
        .await;
    let map = app.seats(&token, &app.dates[0]).await;
    assert_eq!(status_of(&map, 3), "SOLD");
    assert_eq!(
        statuses(&map).iter().filter(|s| *s == "AVAILABLE").count(),
        49
    );
}
