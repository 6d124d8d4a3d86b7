//! A hold that succeeds: what it answers, and its price.

use super::*;

/// A hold is 201 with exactly the reservation fields status held and expires at hold ttl ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_is_201_held_with_the_reservation_fields_and_its_expiry() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[1].clone();
    let before = Utc::now();
    let res = app
        .post_json(
            "/reservations",
            Some(&token),
            &json!({"userId": user, "concertId": app.concert, "date": date, "seatNo": 12}),
        )
        .await;
    let after = Utc::now();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["content-type"], "application/json");
    let view: Value = res.json().unwrap();

    assert_eq!(keys_of(&view), set_of(&RESERVATION_FIELDS), "{view}");
    reservation_id(&view);
    assert_eq!(view["userId"], user.as_str());
    assert_eq!(view["concertId"], app.concert.as_str());
    assert_eq!(view["date"], date.as_str());
    assert_eq!(view["seatNo"], 12);
    assert_eq!(view["price"], 50_000);
    assert_eq!(view["status"], "HELD");
    // The default HOLD_TTL_SECONDS is 300; expiresAt is shown to the second.
    let expires = expires_at(&view);
    assert!(
        expires >= before + chrono::Duration::seconds(299),
        "{expires} vs {before}"
    );
    assert!(
        expires <= after + chrono::Duration::seconds(301),
        "{expires} vs {after}"
    );
    // It is what is stored.
    let r = app.stored(&reservation_id(&view)).await;
    assert_eq!(r.status, ReservationStatus::Held);
    assert_eq!(r.user_id.as_str(), user);
    assert_eq!(r.seat_no.get(), 12);
    assert_eq!(r.expires_at / 1000, expires.timestamp());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holds_price_is_the_seat_maps_price_of_that_seat() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let date = days_from_today(4);
    let concert = unique("concert");
    // Seat 3 is a section of its own, and costs more than the rest.
    let section = |name: &str, from: u16, to: u16, price: u64| json!({ "name": name, "fromSeat": from, "toSeat": to, "price": price });
    let body = json!({ "name": "Priced", "dates": [{ "date": date.to_string(), "sections": [
        section("A", 1, 2, 70_000), section("Box", 3, 3, 123_000), section("B", 4, 50, 70_000),
    ]}]});
    let put = app
        .api
        .put_concert(common::ADMIN_TOKEN, &concert, &body)
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED, "{}", put.text());
    let user = unique("u");
    let token = app.token_for_concert(&user, &concert).await;
    let date = date.to_string();

    let map = app.seat_map_of(&token, &concert, &date).await;
    let price_of = |n: u64| {
        map["seats"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["seatNo"] == n)
            .unwrap()["price"]
            .clone()
    };
    assert_eq!(price_of(3), 123_000);
    let seat3 = map["seats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["seatNo"] == 3)
        .unwrap();
    assert_eq!(seat3["section"], "Box");
    assert_eq!(price_of(4), 70_000);
    for seat in [3, 4] {
        let (status, view) = app.hold_as(&token, &user, &concert, &date, seat).await;
        assert_eq!(status, StatusCode::CREATED, "{view}");
        assert_eq!(view["price"], price_of(seat), "{view}");
        assert_eq!(
            app.stored(&reservation_id(&view)).await.price.get(),
            price_of(seat).as_u64().unwrap()
        );
    }
}
