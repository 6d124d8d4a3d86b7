//! The catalog: created, changed, read back, refused, and raced.

use super::*;

#[tokio::test]
async fn a_put_creates_the_concert_and_the_same_body_again_changes_nothing() {
    let app = spawn_app().await;
    let concert = unique("op");
    let body = catalog("Winter Gala", &[day(3), day(4)]);
    let (status, created) = put(&app, &concert, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["concertId"], concert.as_str());
    assert_eq!(created["name"], "Winter Gala");
    assert_eq!(created["opensAt"], Value::Null);
    assert_eq!(created["dates"][0]["seats"], 50);
    assert_eq!(created["dates"][0]["sections"][1]["name"], "Balcony");
    assert_eq!(created["dates"][0]["locked"], false);

    let (status, again) = put(&app, &concert, &body).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        again, created,
        "the same body changes nothing, revision included"
    );
    let (status, read) = get(&app, &concert).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["revision"], created["revision"]);
    assert_eq!(read["dates"][1]["available"], 50);
    assert_eq!(read["dates"][1]["held"], 0);
    assert_eq!(read["dates"][1]["sold"], 0);
}

#[tokio::test]
async fn the_public_seat_map_shows_each_seats_section_and_a_hold_takes_its_price() {
    let app = spawn_app().await;
    let date = day(3);
    let concert = created(&app, std::slice::from_ref(&date)).await;
    let seats = seat_map(&app, &concert, &date).await;
    assert_eq!(seats.len(), 50);
    assert_eq!(seats[9]["section"], "Floor");
    assert_eq!(seats[9]["price"], 100_000);
    assert_eq!(seats[10]["section"], "Balcony");
    assert_eq!(seats[10]["price"], 60_000);
    let (status, view) = hold(&app, &concert, &date, 11).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["price"], 60_000);
}

#[tokio::test]
async fn a_price_changed_before_the_first_hold_is_never_served_stale_by_a_warm_process() {
    let app = spawn_app().await;
    let date = day(3);
    let concert = created(&app, std::slice::from_ref(&date)).await;
    // The process has the catalog now (the seat map read it).
    assert_eq!(seat_map(&app, &concert, &date).await[0]["price"], 100_000);
    let mut changed = catalog("Created", std::slice::from_ref(&date));
    changed["dates"][0]["sections"][0]["price"] = json!(120_000);
    let (status, view) = put(&app, &concert, &changed).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(seat_map(&app, &concert, &date).await[0]["price"], 120_000);
    let (status, held) = hold(&app, &concert, &date, 1).await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    assert_eq!(
        held["price"], 120_000,
        "the hold priced at the catalog as it is"
    );
}

#[tokio::test]
async fn a_date_that_had_a_hold_keeps_its_sections_but_names_dates_and_openings_still_change() {
    let app = spawn_app().await;
    let (held_date, free_date) = (day(3), day(4));
    let concert = created(&app, &[held_date.clone(), free_date.clone()]).await;
    let (status, view) = hold(&app, &concert, &held_date, 5).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");

    let mut repriced = catalog("Created", &[held_date.clone(), free_date.clone()]);
    repriced["dates"][0]["sections"][0]["price"] = json!(1);
    let res = app
        .api
        .put_concert(ADMIN_TOKEN, &concert, &repriced)
        .await
        .unwrap();
    let problem = assert_problem(res, StatusCode::CONFLICT, "CATALOG_LOCKED").await;
    assert!(
        problem["detail"].as_str().unwrap().contains(&held_date),
        "{problem}"
    );
    // Leaving the held date out would take its seats away: refused too.
    let dropped = catalog("Created", std::slice::from_ref(&free_date));
    let res = app
        .api
        .put_concert(ADMIN_TOKEN, &concert, &dropped)
        .await
        .unwrap();
    assert_problem(res, StatusCode::CONFLICT, "CATALOG_LOCKED").await;
    let (_, read) = get(&app, &concert).await;
    assert_eq!(
        read["dates"][0]["sections"][0]["price"], 100_000,
        "nothing was written"
    );
    assert_eq!(read["dates"][0]["locked"], true);

    // A new name, a new date, a future opening, and new prices for the date never held.
    let opens = (chrono::Utc::now() + chrono::Duration::days(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut allowed = catalog("Renamed", &[held_date.clone(), free_date.clone(), day(5)]);
    allowed["opensAt"] = json!(opens);
    allowed["dates"][1]["sections"][1]["price"] = json!(55_000);
    let (status, view) = put(&app, &concert, &allowed).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["name"], "Renamed");
    assert_eq!(view["opensAt"], opens.as_str());
    assert_eq!(view["dates"].as_array().unwrap().len(), 3);
    assert_eq!(view["dates"][1]["sections"][1]["price"], 55_000);
    // Absent keeps the opening; null clears it.
    let (_, kept) = put(
        &app,
        &concert,
        &catalog("Renamed", &[held_date.clone(), free_date.clone(), day(5)]),
    )
    .await;
    assert_eq!(kept["opensAt"], opens.as_str());
    let mut cleared = allowed.clone();
    cleared["opensAt"] = Value::Null;
    let (status, view) = put(&app, &concert, &cleared).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["opensAt"], Value::Null);
    // A date never held may go.
    let (status, view) = put(
        &app,
        &concert,
        &catalog("Renamed", std::slice::from_ref(&held_date)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["dates"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_bad_catalog_is_400_naming_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let concert = unique("op");
    let date = day(3);
    let good = catalog("Good", std::slice::from_ref(&date));
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|v| v["dates"][0]["sections"][1]["fromSeat"] = json!(12)),
            "dates[0].sections",
        ),
        (
            with(&|v| v["dates"][0]["sections"][1]["fromSeat"] = json!(10)),
            "dates[0].sections",
        ),
        (
            with(&|v| v["dates"][0]["sections"][0]["price"] = json!(0)),
            "dates[0].sections[0].price",
        ),
        (
            with(&|v| v["dates"][0]["sections"][0]["price"] = json!(10_000_001)),
            "dates[0].sections[0].price",
        ),
        (
            with(&|v| v["dates"][0]["sections"][1]["toSeat"] = json!(2_001)),
            "dates[0].sections[1].toSeat",
        ),
        (
            with(&|v| v["dates"][0]["sections"][1]["name"] = json!("Floor")),
            "dates[0].sections[1].name",
        ),
        (
            with(&|v| v["dates"][0]["sections"] = json!([])),
            "dates[0].sections",
        ),
        (
            with(&|v| v["dates"][0]["date"] = json!("2026-02-30")),
            "dates[0].date",
        ),
        (
            with(&|v| v["dates"] = json!([v["dates"][0].clone(), v["dates"][0].clone()])),
            "dates[1].date",
        ),
        (with(&|v| v["name"] = json!("")), "name"),
        (
            with(&|v| v["opensAt"] = json!("2020-01-01T00:00:00Z")),
            "opensAt",
        ),
        (with(&|v| v["opensAt"] = json!("tomorrow")), "opensAt"),
        (with(&|v| v["extra"] = json!(1)), "extra"),
        (
            with(&|v| {
                v.as_object_mut().unwrap().remove("dates");
            }),
            "dates",
        ),
    ];
    for (body, field) in cases {
        let res = app
            .api
            .put_concert(ADMIN_TOKEN, &concert, &body)
            .await
            .unwrap();
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.starts_with(field), "{field}: {detail}");
    }
    let res = app
        .api
        .request(Method::PUT, "/admin/concerts/bad%20id")
        .operator(ADMIN_TOKEN)
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    let res = app.api.admin_concert(ADMIN_TOKEN, &concert).await.unwrap();
    assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn concurrent_puts_of_one_concert_leave_one_of_them_whole() {
    let app = spawn_app().await;
    let _burst = app.burst().await;
    let concert = unique("op");
    let dates = [day(3), day(4), day(5)];
    let bodies: Vec<Value> = (0..12u64)
        .map(|i| {
            let mut body = catalog(&format!("Take {i}"), &dates);
            for d in 0..dates.len() {
                body["dates"][d]["sections"][0]["price"] = json!(1_000 + i);
            }
            body
        })
        .collect();
    let answers = futures::future::join_all(bodies.iter().map(|b| put(&app, &concert, b))).await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "exactly one created it: {answers:?}");
    for (status, view) in &answers {
        assert!(status.is_success(), "{status} {view}");
    }
    let (_, read) = get(&app, &concert).await;
    let name = read["name"].as_str().unwrap();
    let i: u64 = name.strip_prefix("Take ").unwrap().parse().unwrap();
    for d in 0..dates.len() {
        assert_eq!(
            read["dates"][d]["sections"][0]["price"],
            1_000 + i,
            "{read}"
        );
    }
}

#[tokio::test]
async fn a_change_racing_a_first_hold_either_locks_the_date_or_prices_the_hold_never_half() {
    let app = spawn_app().await;
    let _burst = app.burst().await;
    for round in 0..8 {
        let date = day(3);
        let concert = created(&app, std::slice::from_ref(&date)).await;
        // The process knows the old catalog, as a warm function would.
        seat_map(&app, &concert, &date).await;
        let mut changed = catalog("Created", std::slice::from_ref(&date));
        changed["dates"][0]["sections"][0]["price"] = json!(7_000);
        let ((put_status, put_view), (hold_status, held)) = tokio::join!(
            put(&app, &concert, &changed),
            hold(&app, &concert, &date, 1)
        );
        assert_eq!(hold_status, StatusCode::CREATED, "round {round}: {held}");
        let (_, read) = get(&app, &concert).await;
        match put_status {
            StatusCode::OK => {
                assert_eq!(
                    held["price"], 7_000,
                    "round {round}: the hold came after the change"
                );
                assert_eq!(read["dates"][0]["sections"][0]["price"], 7_000);
            }
            StatusCode::CONFLICT => {
                assert_eq!(put_view["code"], "CATALOG_LOCKED", "{put_view}");
                assert_eq!(held["price"], 100_000, "round {round}: the hold came first");
                assert_eq!(read["dates"][0]["sections"][0]["price"], 100_000);
            }
            other => panic!("round {round}: {other} {put_view}"),
        }
        assert_eq!(read["dates"][0]["locked"], true);
    }
}

#[tokio::test]
async fn a_change_larger_than_one_transaction_is_400_and_writes_nothing() {
    let app = spawn_app().await;
    let concert = unique("op");
    let first: Vec<String> = (10..60).map(day).collect();
    let (status, created) = put(&app, &concert, &catalog("Fifty", &first)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // Fifty other dates: fifty removed and fifty added, 100 date writes in one change.
    let other: Vec<String> = (100..150).map(day).collect();
    let res = app
        .api
        .put_concert(ADMIN_TOKEN, &concert, &catalog("Fifty", &other))
        .await
        .unwrap();
    let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert!(
        problem["detail"].as_str().unwrap().starts_with("dates"),
        "{problem}"
    );
    let (_, read) = get(&app, &concert).await;
    assert_eq!(read["revision"], created["revision"], "nothing written");
    // In two changes it goes through.
    let half: Vec<String> = first[..25].iter().chain(&other[..25]).cloned().collect();
    let (status, _) = put(&app, &concert, &catalog("Fifty", &half)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, done) = put(&app, &concert, &catalog("Fifty", &other)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["dates"].as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn an_opening_past_the_year_9999_is_400() {
    let app = spawn_app().await;
    let concert = unique("op");
    let mut body = catalog("Far", &[day(3)]);
    body["opensAt"] = json!("9999-12-31T23:00:00-05:00");
    let res = app
        .api
        .put_concert(ADMIN_TOKEN, &concert, &body)
        .await
        .unwrap();
    let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert!(problem["detail"].as_str().unwrap().starts_with("opensAt"));
    let res = app.api.admin_concert(ADMIN_TOKEN, &concert).await.unwrap();
    assert_problem(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}
