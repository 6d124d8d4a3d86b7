//! A reservations table made before the user index (as `make run`'s kept tables, or the stack
//! in AWS before this release) gets the index from `create-tables`, filled from the
//! reservations already there: they are listed with nothing rewritten.

use super::*;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use shared::domain::paging::PageLimit;
use shared::domain::{ConcertDate, ConcertId, SeatNo, Won};
use shared::store::dynamo::to_item;
use shared::store::items::ReservationItem;
use shared::store::schema;

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

fn attribute(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_made_before_the_index_gets_it_with_its_reservations_listed() {
    let app = spawn_app_with(&[]).await;
    let mut settings = app.state.settings.clone();
    settings.reservations_table_name = unique("before-index");
    let state = AppState::new(settings).await.unwrap();
    let db = &state.db;
    // The reservations table as it was: the sweep's index only.
    db.client
        .create_table()
        .table_name(&db.reservations)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("PK", ScalarAttributeType::S))
        .attribute_definitions(attribute("SK", ScalarAttributeType::S))
        .attribute_definitions(attribute("heldShard", ScalarAttributeType::S))
        .attribute_definitions(attribute("expiresAt", ScalarAttributeType::N))
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(schema::HELD_BY_EXPIRY_INDEX)
                .key_schema(key("heldShard", KeyType::Hash))
                .key_schema(key("expiresAt", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("the old table is made");
    let user = super::user(&unique("old"));
    let now = chrono::Utc::now();
    let old: Vec<ReservationItem> = (0..3)
        .map(|i| {
            ReservationItem::held(
                ReservationId::generate(),
                &user,
                &ConcertId::parse(&app.concert).unwrap(),
                ConcertDate::parse(&app.dates[0]).unwrap(),
                SeatNo::new(1 + i).unwrap(),
                Won::new(50_000),
                now,
                now + chrono::Duration::milliseconds(i),
            )
        })
        .collect();
    for r in &old {
        db.client
            .put_item()
            .table_name(&db.reservations)
            .set_item(Some(to_item(r).unwrap()))
            .send()
            .await
            .unwrap();
    }
    assert!(
        db.reservations_of(&user, PageLimit::DEFAULT, None)
            .await
            .is_err(),
        "no index yet"
    );

    schema::create_tables(db).await.expect("the index is added");
    let page = shared::flows::listing::list(&state, &user, PageLimit::DEFAULT, None)
        .await
        .unwrap();
    let listed: Vec<ReservationId> = page.reservations.iter().map(|r| r.reservation_id).collect();
    let expected: Vec<ReservationId> = old.iter().rev().map(|r| r.reservation_id).collect();
    assert_eq!(listed, expected);
    // Again: nothing to add.
    schema::create_tables(db).await.unwrap();
    db.client
        .delete_table()
        .table_name(&db.reservations)
        .send()
        .await
        .unwrap();
}
