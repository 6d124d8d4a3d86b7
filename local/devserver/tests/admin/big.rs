//! A date of 2,000 seats, end to end: the seat map in one answer (past DynamoDB's 1 MB page),
//! a hold near the end, and the dates count.

use super::*;

#[tokio::test]
async fn a_date_of_two_thousand_seats_works_end_to_end() {
    let app = spawn_app().await;
    let date = day(3);
    let concert = unique("big");
    let body = json!({ "name": "Arena", "dates": [{ "date": date, "sections": [
        section("Floor", 1, 500, 150_000),
        section("Lower", 501, 1_200, 110_000),
        section("Upper", 1_201, 2_000, 70_000),
    ]}]});
    let (status, view) = put(&app, &concert, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["dates"][0]["seats"], 2_000);

    let seats = seat_map(&app, &concert, &date).await;
    assert_eq!(seats.len(), 2_000);
    let numbers: Vec<u64> = seats
        .iter()
        .map(|s| s["seatNo"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=2_000).collect::<Vec<u64>>());
    assert_eq!(seats[1_998]["section"], "Upper");

    let (status, held) = hold(&app, &concert, &date, 1_999).await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    assert_eq!(held["price"], 70_000);
    let (status, held) = hold(&app, &concert, &date, 2_001).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{held}");

    let seats = seat_map(&app, &concert, &date).await;
    assert_eq!(seats[1_998]["status"], "HELD");
    let user = unique("u");
    let token = active(&app, &user, &concert).await;
    let (status, dates) = answer(app.api.dates(&token, &concert).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{dates}");
    assert_eq!(dates["dates"][0]["availableSeats"], 1_999);
    let (_, read) = get(&app, &concert).await;
    assert_eq!(
        (
            read["dates"][0]["available"].clone(),
            read["dates"][0]["held"].clone()
        ),
        (json!(1_999), json!(1))
    );
}

#[tokio::test]
async fn a_seat_map_pages_through_a_partition_larger_than_one_query_answer() {
    // 2,000 markers of a date (every seat held or sold) are ~400 KB; with old catalog items a
    // partition can pass 1 MB. The Query follows LastEvaluatedKey, so the seat map is whole.
    let app = spawn_app().await;
    let date = day(3);
    let concert = unique("big");
    let body = json!({ "name": "Arena", "dates": [{ "date": date, "sections": [
        section("All", 1, 2_000, 1_000),
    ]}]});
    assert_eq!(put(&app, &concert, &body).await.0, StatusCode::CREATED);
    let (status, _) = hold(&app, &concert, &date, 1).await;
    assert_eq!(status, StatusCode::CREATED);
    // Pad the partition past 1 MB with items that are not markers.
    let id = shared::domain::ConcertId::parse(&concert).unwrap();
    let d = ConcertDate::parse(&date).unwrap();
    let pk = shared::store::items::keys::seats_pk(&id, &d);
    let filler = "x".repeat(300_000);
    for i in 0..4 {
        use aws_sdk_dynamodb::types::AttributeValue::S;
        app.state
            .db
            .client
            .put_item()
            .table_name(&app.state.db.table)
            .item("PK", S(pk.clone()))
            .item("SK", S(format!("PAD#{i}")))
            .item("pad", S(filler.clone()))
            .send()
            .await
            .expect("the filler is written");
    }
    let (status, _) = hold(&app, &concert, &date, 2_000).await;
    assert_eq!(status, StatusCode::CREATED);
    let seats = seat_map(&app, &concert, &date).await;
    assert_eq!(seats[0]["status"], "HELD");
    assert_eq!(
        seats[1_999]["status"], "HELD",
        "the marker after the first page was read"
    );
}
