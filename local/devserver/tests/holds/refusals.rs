//! What dates, seat maps and holds refuse: the token, the path, the body, the seat.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seats_of_an_unknown_date_are_404_not_found() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = app.active_token(&unique("u")).await;
    let unknown = days_from_today(3).to_string();
    for date in [unknown.as_str(), "2099-12-31", "2000-01-01"] {
        let res = app
            .get(
                &format!("/concerts/{}/dates/{date}/seats", app.concert),
                Some(&token),
            )
            .await;
        assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

/// A malformed date or concert id in the path is 400 naming the parameter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_date_or_concert_id_is_400_naming_it() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let token = app.active_token(&unique("u")).await;
    let concert = app.concert.clone();
    let date = app.dates[0].clone();
    let long = "x".repeat(65);
    let mut cases: Vec<(String, &str)> = Vec::new();
    for bad_date in [
        "2026-13-01",
        "2026-02-30",
        "tomorrow",
        "2026-1-01",
        "20261201",
        "%20",
    ] {
        cases.push((
            format!("/concerts/{concert}/dates/{bad_date}/seats"),
            "date",
        ));
    }
    for bad_concert in ["a%20b", "a%23b", long.as_str(), "%EC%82%AC", "a.b"] {
        cases.push((format!("/concerts/{bad_concert}/dates"), "concertId"));
        cases.push((
            format!("/concerts/{bad_concert}/dates/{date}/seats"),
            "concertId",
        ));
    }
    for (path, param) in cases {
        let res = app.get(&path, Some(&token)).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(param), "{path}: {detail:?} names {param}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_concert_is_403_forbidden_on_dates_and_seats() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let other = app.seed_concert(&[days_from_today(1)], 2, 50_000).await;
    let token = app.token_for_concert(&unique("u"), &other).await;
    let date = &app.dates[0];
    for path in [
        format!("/concerts/{}/dates", app.concert),
        format!("/concerts/{}/dates/{date}/seats", app.concert),
    ] {
        let res = app.get(&path, Some(&token)).await;
        assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    // The same token serves its own concert.
    assert_eq!(pairs(&app.dates_of(&token, &other).await).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_token_is_403_token_not_active_on_dates_seats_and_holds() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    app.active_token(&unique("first")).await;
    let user = unique("waiting");
    let (status, view) = answer(app.issue_token(&user).await).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(view["status"], "WAITING", "{view}");
    let token = view["token"].as_str().unwrap().to_owned();
    let date = app.dates[0].clone();

    for path in [
        format!("/concerts/{}/dates", app.concert),
        format!("/concerts/{}/dates/{date}/seats", app.concert),
    ] {
        let res = app.get(&path, Some(&token)).await;
        assert_problem(res, StatusCode::FORBIDDEN, "TOKEN_NOT_ACTIVE").await;
    }
    let res = app
        .post_json(
            "/reservations",
            Some(&token),
            &json!({"userId": user, "concertId": app.concert, "date": date, "seatNo": 1}),
        )
        .await;
    assert_problem(res, StatusCode::FORBIDDEN, "TOKEN_NOT_ACTIVE").await;
    assert_eq!(app.marker(&app.concert, &date, 1).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_is_401_token_missing_on_dates_seats_holds_and_reservations() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    for path in [
        format!("/concerts/{}/dates", app.concert),
        format!("/concerts/{}/dates/{date}/seats", app.concert),
        format!("/reservations/{}", uuid::Uuid::new_v4()),
    ] {
        let res = app.get(&path, None).await;
        assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_MISSING").await;
    }
    let res = app
        .post_json(
            "/reservations",
            None,
            &json!({"userId": unique("u"), "concertId": app.concert, "date": date, "seatNo": 1}),
        )
        .await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_MISSING").await;
    assert_eq!(app.marker(&app.concert, &date, 1).await, None);
}

/// A seat held by someone is 409 seat unavailable for another user and for the holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_seat_is_409_for_another_user_and_for_the_holder() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let (a, b) = (unique("a"), unique("b"));
    let (ta, tb) = (app.active_token(&a).await, app.active_token(&b).await);
    let date = app.dates[0].clone();
    let first = app.hold_ok(&ta, &a, &date, 5).await;

    for (token, user) in [(&tb, &b), (&ta, &a)] {
        let res = app
            .post_json(
                "/reservations",
                Some(token),
                &json!({"userId": user, "concertId": app.concert, "date": date, "seatNo": 5}),
            )
            .await;
        assert_problem(res, StatusCode::CONFLICT, "SEAT_UNAVAILABLE").await;
    }
    // The first hold stands.
    let m = app.marker(&app.concert, &date, 5).await.expect("a marker");
    assert_eq!(
        text(&m, "reservationId"),
        first["reservationId"].as_str().unwrap()
    );
    // The same seat number on the other date is another seat.
    app.hold_ok(&tb, &b, &app.dates[1], 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sold_seat_is_409_seat_unavailable() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    app.write_paid_hold(&unique("buyer"), &date, 4).await;
    let (status, body) = app.hold_as(&token, &user, &app.concert, &date, 4).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "SEAT_UNAVAILABLE");
}

/// Seat 51 or an unknown date is 404 not found and seat 0 or 10000 is 400 naming seat no.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seat_51_or_an_unknown_date_is_404_and_seat_0_or_10000_is_400() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let unknown_date = days_from_today(9).to_string();

    for (d, seat) in [
        (date.as_str(), 51),
        (date.as_str(), 9_999),
        (unknown_date.as_str(), 1),
    ] {
        let res = app
            .post_json(
                "/reservations",
                Some(&token),
                &json!({"userId": user, "concertId": app.concert, "date": d, "seatNo": seat}),
            )
            .await;
        assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    for seat in [0, 10_000, -1] {
        let res = app
            .post_json(
                "/reservations",
                Some(&token),
                &json!({"userId": user, "concertId": app.concert, "date": date, "seatNo": seat}),
            )
            .await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains("seatNo"), "seat {seat}: {detail:?}");
    }
    for (d, seat) in [(&date, 51u16), (&unknown_date, 1)] {
        assert_eq!(app.marker(&app.concert, d, seat).await, None);
    }
}

/// A hold for another user or another concert than the tokens is 403 forbidden and nothing is
/// written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_for_another_user_or_concert_is_403_and_writes_nothing() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let other_concert = app.seed_concert(&[days_from_today(1)], 3, 50_000).await;
    let date = app.dates[0].clone();

    let (status, body) = app
        .hold_as(&token, &unique("other"), &app.concert, &date, 2)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "FORBIDDEN");
    let other_date = days_from_today(1).to_string();
    let (status, body) = app
        .hold_as(&token, &user, &other_concert, &other_date, 2)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "FORBIDDEN");

    assert_eq!(app.marker(&app.concert, &date, 2).await, None);
    assert_eq!(app.marker(&other_concert, &other_date, 2).await, None);
    assert_eq!(status_of(&app.seats(&token, &date).await, 2), "AVAILABLE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_hold_body_is_400_naming_the_field_and_nothing_is_written() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let concert = app.concert.clone();
    let date = app.dates[0].clone();
    let ok = json!({"userId": user, "concertId": concert, "date": date, "seatNo": 8});
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = ok.clone();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "body"),
        ("{".to_owned(), "body"),
        ("not json".to_owned(), "body"),
        ("[]".to_owned(), "body"),
        (format!("[{ok}]"), "body"),
        ("null".to_owned(), "body"),
        (format!("{ok} {{}}"), "body"),
        (
            format!(
                r#"{{"userId": "{user}",{} "concertId": "{concert}", "date": "{date}", "seatNo": 8}}"#,
                " ".repeat(17 * 1024)
            ),
            "body",
        ),
        (without("userId"), "userId"),
        (without("concertId"), "concertId"),
        (without("date"), "date"),
        (without("seatNo"), "seatNo"),
        (with("price", json!(1)), "price"),
        (with("status", json!("HELD")), "status"),
        (with("userId", json!(42)), "userId"),
        (with("userId", json!("a b")), "userId"),
        (with("userId", json!("")), "userId"),
        (with("userId", json!("x".repeat(65))), "userId"),
        (with("concertId", json!(null)), "concertId"),
        (with("concertId", json!("a#b")), "concertId"),
        (with("date", json!("2026-13-01")), "date"),
        (with("date", json!("2026-02-30")), "date"),
        (with("date", json!("tomorrow")), "date"),
        (with("date", json!("2026-1-1")), "date"),
        (with("date", json!(20261224)), "date"),
        (with("date", json!(null)), "date"),
        (with("seatNo", json!("8")), "seatNo"),
        (with("seatNo", json!(8.5)), "seatNo"),
        (with("seatNo", json!(null)), "seatNo"),
        (with("seatNo", json!(true)), "seatNo"),
        (with("seatNo", json!([8])), "seatNo"),
        (with("seatNo", json!(0)), "seatNo"),
        (with("seatNo", json!(10_000)), "seatNo"),
        (with("seatNo", json!(-8)), "seatNo"),
        (with("seatNo", json!(u64::MAX)), "seatNo"),
        (
            format!(
                r#"{{"user_id": "{user}", "concertId": "{concert}", "date": "{date}", "seatNo": 8}}"#
            ),
            "user_id",
        ),
    ];
    for (body, field) in cases {
        let shown: String = body.chars().take(100).collect();
        let res = app.post_raw("/reservations", Some(&token), body).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains(field),
            "the detail {detail:?} names {field} (body {shown})"
        );
    }

    // Nothing written: every seat of both dates is free, and no reservation of this user.
    for d in &app.dates {
        let map = app.seats(&token, d).await;
        assert!(statuses(&map).iter().all(|s| s == "AVAILABLE"), "{d}");
    }
    let found = app
        .state
        .db
        .client
        .scan()
        .table_name(&app.state.db.reservations)
        .filter_expression("userId = :u")
        .expression_attribute_values(":u", AttributeValue::S(user.clone()))
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(found.len(), 0, "reservations of {user}: {found:?}");
    // The same body, well formed, is taken: the refusals were about the body alone.
    app.hold_ok(&token, &user, &date, 8).await;
}

/// A hold on a performance that is over is 404 not found and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_on_a_past_performance_is_404_and_writes_nothing() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let yesterday = days_from_today(-1);
    let concert = app.seed_concert(&[yesterday], 2, 50_000).await;
    let user = unique("u");
    let token = app.token_for_concert(&user, &concert).await;
    let res = app
        .post_json(
            "/reservations",
            Some(&token),
            &json!({"userId": user, "concertId": concert, "date": yesterday.to_string(), "seatNo": 1}),
        )
        .await;
    assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let seats = app
        .get(
            &format!("/concerts/{concert}/dates/{yesterday}/seats"),
            Some(&token),
        )
        .await;
    let body: Value = seats.json().unwrap();
    assert_eq!(body["seats"][0]["status"], "AVAILABLE", "{body}");
}
