//! The tables, read directly: what the API would not show (markers, ledger entries,
//! idempotency records) or shows its own way. The one place the harness uses the store's
//! internals (`shared::store`), so a change there is fixed here.

use aws_sdk_dynamodb::types::AttributeValue;
use shared::domain::{ConcertDate, ConcertId, ReservationId, SeatNo};
use shared::store::dynamo::Item;
use shared::store::items::{keys, ReservationItem};

use super::TestApp;

impl TestApp {
    /// The reservation as stored, whatever the API would make of it.
    pub async fn stored(&self, id: &ReservationId) -> ReservationItem {
        self.state
            .db
            .get_reservation(id)
            .await
            .expect("DynamoDB answers")
            .expect("the reservation is stored")
    }

    /// One item as stored, attribute by attribute (a strongly consistent read).
    pub async fn get_raw(&self, table: &str, pk: String, sk: &str) -> Option<Item> {
        self.state
            .db
            .client
            .get_item()
            .table_name(table)
            .key("PK", AttributeValue::S(pk))
            .key("SK", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("DynamoDB answers")
            .item
    }

    /// The reservation item as stored, attribute by attribute.
    pub async fn reservation_raw(&self, id: &ReservationId) -> Option<Item> {
        self.get_raw(
            &self.state.db.reservations,
            keys::reservation_pk(id),
            keys::RESERVATION_SK,
        )
        .await
    }

    /// The hold marker item `SEATS#{concert}#{date}` / `SEAT#00NN#HOLD`, if there is one.
    pub async fn marker(&self, concert: &str, date: &str, seat: u16) -> Option<Item> {
        let concert = ConcertId::parse(concert).unwrap();
        let date = ConcertDate::parse(date).unwrap();
        let seat = SeatNo::new(i64::from(seat)).unwrap();
        self.get_raw(
            &self.state.db.table,
            keys::seats_pk(&concert, &date),
            &keys::hold_sk(seat),
        )
        .await
    }

    /// The user's items in the main table whose sort key starts with `prefix` ("" for all).
    pub async fn user_items(&self, user: &str, prefix: &str) -> Vec<Item> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .state
                .db
                .client
                .query()
                .table_name(&self.state.db.table)
                .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{user}")));
            query = if prefix.is_empty() {
                query.key_condition_expression("PK = :pk")
            } else {
                query
                    .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            };
            let out = query
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("DynamoDB answers");
            found.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return found,
            }
        }
    }
}

/// A string attribute of a raw item; panics, showing the item, when it is not one.
pub fn text(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("{name} is not a string in {item:?}: {other:?}"),
    }
}

impl TestApp {
    /// The buyer's seat count of `concert` (`seats`, and how many holds it lists); (0, 0)
    /// when they never held a seat of it.
    pub async fn seat_count(&self, user: &str, concert: &str) -> (i64, usize) {
        let count = self
            .state
            .db
            .seat_count(
                &shared::domain::UserId::parse(user).unwrap(),
                &shared::domain::ConcertId::parse(concert).unwrap(),
            )
            .await
            .expect("the seat count reads");
        count.map_or((0, 0), |c| (c.seats, c.holds.len()))
    }
}
