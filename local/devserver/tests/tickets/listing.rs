//! `GET /users/{userId}/reservations`: newest first, a page at a time, cursors that reach the
//! user's own list only, and refusals that name what was wrong.

use super::*;
use shared::domain::{ConcertDate, ConcertId, SeatNo};
use shared::flows::holds::{self, HoldRequest};

impl TestApp {
    /// `n` reservations of a new user, made one after the other through the hold flow, each
    /// released again by its holder at once (so the seat limit never stops them): their IDs,
    /// oldest first.
    pub(crate) async fn reservations_made(&self, user: &str, n: usize) -> Vec<ReservationId> {
        let who = super::user(user);
        let mut made = Vec::new();
        for i in 0..n {
            let r = holds::hold(
                &self.state,
                HoldRequest {
                    user: who.clone(),
                    concert: ConcertId::parse(&self.concert).unwrap(),
                    date: ConcertDate::parse(&self.dates[i % 2]).unwrap(),
                    seats: vec![SeatNo::new(1 + (i / 2) as i64).unwrap()],
                },
                None,
            )
            .await
            .expect("the hold succeeds");
            holds::release_by_holder(&self.state, &who, &r.reservation_id)
                .await
                .expect("the release succeeds");
            made.push(r.reservation_id);
        }
        made
    }

    /// Every page of `user`'s list at `limit`, followed cursor by cursor: the IDs in the order
    /// listed, and the pages' sizes.
    pub(crate) async fn every_page(
        &self,
        user: &str,
        limit: Option<u32>,
    ) -> (Vec<String>, Vec<usize>) {
        let (mut ids, mut sizes) = (Vec::new(), Vec::new());
        let mut cursor: Option<String> = None;
        loop {
            let (status, body) = self.page(user, limit, cursor.as_deref()).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(
                fields(&body),
                BTreeSet::from(["userId", "reservations", "nextCursor"]),
                "{body}"
            );
            assert_eq!(body["userId"], user);
            let page = body["reservations"].as_array().unwrap();
            sizes.push(page.len());
            ids.extend(
                page.iter()
                    .map(|r| r["reservationId"].as_str().unwrap().to_owned()),
            );
            match body["nextCursor"].as_str() {
                Some(next) => {
                    assert!(!page.is_empty(), "a cursor after an empty page: {body}");
                    cursor = Some(next.to_owned());
                }
                None => {
                    assert!(body["nextCursor"].is_null(), "{body}");
                    return (ids, sizes);
                }
            }
        }
    }
}

fn newest_first(made: &[ReservationId]) -> Vec<String> {
    made.iter().rev().map(ToString::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_reservations_gets_one_empty_last_page() {
    let app = spawn_app_with(&[]).await;
    let (ids, sizes) = app.every_page(&unique("none"), None).await;
    assert!(ids.is_empty());
    assert_eq!(sizes, [0]);
}

/// One reservation: one page, no cursor, and the reservation exactly as its own read shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reservation_is_one_page_showing_it_as_its_own_read_does() {
    let app = spawn_app_with(&[]).await;
    let b = app.buyer("one").await;
    let rid = app.hold(&b, &app.dates[0], &[3, 4]).await;
    let (status, body) = app.page(&b.user, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, read) = answer(
        app.api
            .reservation(&b.token, &rid.to_string())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["reservations"], json!([read]));
    assert_eq!(body["nextCursor"], Value::Null);
}

/// Exactly a page (20, the default): one page, and no cursor to an empty one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_a_page_is_one_page_with_no_cursor() {
    let app = spawn_app_with(&[]).await;
    let user = unique("page");
    let made = app.reservations_made(&user, 20).await;
    let (ids, sizes) = app.every_page(&user, None).await;
    assert_eq!(sizes, [20]);
    assert_eq!(ids, newest_first(&made));
}

/// A page and one: the 20 newest, then a last page of the oldest; newest first throughout, each
/// once. The same at a limit of 7 (7, 7, 7) and of 100 (21).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_and_one_is_two_pages_newest_first_each_reservation_once() {
    let app = spawn_app_with(&[]).await;
    let user = unique("more");
    let made = app.reservations_made(&user, 21).await;
    let (ids, sizes) = app.every_page(&user, None).await;
    assert_eq!(sizes, [20, 1]);
    assert_eq!(ids, newest_first(&made));
    let (ids, sizes) = app.every_page(&user, Some(7)).await;
    assert_eq!(sizes, [7, 7, 7]);
    assert_eq!(ids, newest_first(&made));
    let (ids, sizes) = app.every_page(&user, Some(100)).await;
    assert_eq!(sizes, [21]);
    assert_eq!(ids, newest_first(&made));
}

/// Every reservation of every concert, whatever its status: HELD, RELEASED, CONFIRMED,
/// REFUNDED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_every_status_of_every_concert() {
    let app = spawn_app_with(&[]).await;
    let other = spawn_app_with(&[]).await;
    let mut b = app.buyer("all").await;
    let bought = app.buy(&mut b, &app.dates[1], &[5]).await;
    let refunded = app.buy(&mut b, &app.dates[1], &[6]).await;
    assert_eq!(app.refund(&b, &refunded).await.status(), StatusCode::OK);
    let held = app.hold(&b, &app.dates[0], &[7]).await;
    let token = other.active_token(&b.user).await;
    let elsewhere = other
        .hold(
            &Buyer {
                user: b.user.clone(),
                token,
            },
            &other.dates[0],
            &[1],
        )
        .await;
    let (status, body) = app.page(&b.user, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed: Vec<(String, String)> = body["reservations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["reservationId"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        (elsewhere, "HELD"),
        (held, "HELD"),
        (refunded, "REFUNDED"),
        (bought, "CONFIRMED"),
    ]
    .into_iter()
    .map(|(id, s)| (id.to_string(), s.to_owned()))
    .collect();
    assert_eq!(listed, expected);
}

/// A cursor changed by one character anywhere is a 400 naming `cursor`, as is one that is not
/// a cursor at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_cursor_is_refused_naming_cursor() {
    let app = spawn_app_with(&[]).await;
    let user = unique("tamper");
    app.reservations_made(&user, 3).await;
    let (_, body) = app.page(&user, Some(1), None).await;
    let cursor = body["nextCursor"].as_str().expect("a cursor").to_owned();
    let mut tampered: Vec<String> = (0..cursor.len())
        .map(|i| {
            let mut bytes = cursor.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            String::from_utf8(bytes).unwrap()
        })
        .collect();
    tampered.extend(["x".to_owned(), format!("{cursor}A"), cursor[1..].to_owned()]);
    for bad in tampered {
        let (status, problem) = app.page(&user, Some(1), Some(&bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert_eq!(problem["code"], "VALIDATION_FAILED");
        assert!(
            problem["detail"].as_str().unwrap().starts_with("cursor:"),
            "{problem}"
        );
    }
    // The cursor itself still works.
    let (status, _) = app.page(&user, Some(1), Some(&cursor)).await;
    assert_eq!(status, StatusCode::OK);
}

/// Alice's cursor on Bob's list is refused, so it reaches none of Alice's reservations through
/// Bob's list nor any of Bob's past where Alice's page ended; and Alice's list itself is
/// Alice's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_cursor_is_refused_and_another_users_list_forbidden() {
    let app = spawn_app_with(&[]).await;
    let (alice, bob) = (unique("alice"), unique("bob"));
    app.reservations_made(&alice, 2).await;
    app.reservations_made(&bob, 2).await;
    let (_, body) = app.page(&alice, Some(1), None).await;
    let alices = body["nextCursor"].as_str().expect("a cursor").to_owned();
    let (status, problem) = app.page(&bob, Some(1), Some(&alices)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem["detail"].as_str().unwrap().starts_with("cursor:"));

    // Bob signed in, asking for Alice's list (with or without her cursor): 403.
    for cursor in [None, Some(alices.as_str())] {
        let mut path = format!("/users/{alice}/reservations");
        if let Some(c) = cursor {
            path.push_str(&format!("?cursor={c}"));
        }
        let res = app
            .api
            .request(reqwest::Method::GET, &path)
            .as_user(&bob)
            .send()
            .await
            .unwrap();
        assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
}

/// `limit` must be 1 to 100, and the query holds `limit` and `cursor`, each once, and nothing
/// else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_limit_or_query_is_refused_naming_it() {
    let app = spawn_app_with(&[]).await;
    let user = unique("limit");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("limit=", "limit"),
        ("limit=5&limit=6", "limit"),
        ("cursor=a&cursor=b", "cursor"),
        ("page=2", "page"),
    ] {
        let res = app
            .api
            .request(
                reqwest::Method::GET,
                &format!("/users/{user}/reservations?{query}"),
            )
            .as_user(&user)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}:")),
            "{query}: {problem}"
        );
    }
    for limit in [1, 100] {
        let (status, body) = app.page(&user, Some(limit), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}
