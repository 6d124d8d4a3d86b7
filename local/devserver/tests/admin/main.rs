//! The operator API over HTTP through the local server, against DynamoDB Local and Redis:
//! who may call it, the catalog (sections and prices, CATALOG_LOCKED, concurrent changes, a
//! change racing a first hold, a 2,000-seat date end to end) and the line controls.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod big;
mod catalog;
mod controls;

use common::{answer, assert_problem, spawn_app, spawn_app_with, unique, TestApp, ADMIN_TOKEN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::domain::{ConcertDate, ConcertId};

/// A date `days` from today, as the API writes it.
fn day(days: u64) -> String {
    ConcertDate::from_naive(ConcertDate::today_utc().naive() + chrono::Days::new(days)).to_string()
}

fn section(name: &str, from: u16, to: u16, price: u64) -> Value {
    json!({ "name": name, "fromSeat": from, "toSeat": to, "price": price })
}

/// A concert of `dates`, each with a floor (1..=10 at 100,000) and a balcony (11..=50 at
/// 60,000).
fn catalog(name: &str, dates: &[String]) -> Value {
    let dates: Vec<Value> = dates
        .iter()
        .map(|d| {
            json!({ "date": d, "sections": [
                section("Floor", 1, 10, 100_000),
                section("Balcony", 11, 50, 60_000),
            ]})
        })
        .collect();
    json!({ "name": name, "dates": dates })
}

async fn put(app: &TestApp, concert: &str, body: &Value) -> (StatusCode, Value) {
    answer(
        app.api
            .put_concert(ADMIN_TOKEN, concert, body)
            .await
            .unwrap(),
    )
    .await
}

async fn get(app: &TestApp, concert: &str) -> (StatusCode, Value) {
    answer(app.api.admin_concert(ADMIN_TOKEN, concert).await.unwrap()).await
}

async fn patch(app: &TestApp, concert: &str, body: &Value) -> (StatusCode, Value) {
    answer(
        app.api
            .patch_queue(ADMIN_TOKEN, concert, body)
            .await
            .unwrap(),
    )
    .await
}

/// A new concert of `dates`, created through the API.
async fn created(app: &TestApp, dates: &[String]) -> String {
    let concert = unique("op");
    let (status, view) = put(app, &concert, &catalog("Created", dates)).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    concert
}

/// An ACTIVE token of `user` for `concert`.
async fn active(app: &TestApp, user: &str, concert: &str) -> String {
    let (status, view) = answer(app.api.issue_token(user, concert).await.unwrap()).await;
    assert!(status.is_success(), "{status} {view}");
    assert_eq!(view["status"], "ACTIVE", "{view}");
    view["token"].as_str().unwrap().to_owned()
}

async fn hold(app: &TestApp, concert: &str, date: &str, seat: u16) -> (StatusCode, Value) {
    let user = unique("u");
    let token = active(app, &user, concert).await;
    answer(
        app.api
            .hold(&token, &user, concert, date, seat)
            .await
            .unwrap(),
    )
    .await
}

async fn seat_map(app: &TestApp, concert: &str, date: &str) -> Vec<Value> {
    let user = unique("u");
    let token = active(app, &user, concert).await;
    let (status, view) = answer(app.api.seats(&token, concert, date).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view["seats"].as_array().unwrap().clone()
}
