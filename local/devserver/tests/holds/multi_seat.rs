//! Several seats in one hold: all or none, one price, paid and expired together.

use super::*;

/// A hold of several seats holds them all, ascending, at the sum of their prices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_of_several_seats_holds_them_all_at_the_sum_of_their_prices() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let (status, view) = app.hold_seats(&token, &user, &date, &[5, 3], None).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["seatNos"], json!([3, 5]), "{view}");
    assert!(
        view.get("seatNo").is_none(),
        "several seats have no seatNo: {view}"
    );
    assert_eq!(view["price"], 100_000);
    let id = view["reservationId"].as_str().unwrap();
    assert_eq!(
        app.owners(&date, &[3, 5]).await,
        vec![Some(id.to_owned()); 2]
    );
    let map = app.seats(&token, &date).await;
    assert_eq!(status_of(&map, 3), "HELD");
    assert_eq!(status_of(&map, 5), "HELD");
    let (status, read) = app.get_reservation(&token, id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["seatNos"], json!([3, 5]));
    assert_eq!(app.seat_count(&user, &app.concert).await, (2, 1));
}

/// One taken seat refuses the whole hold, naming it, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_taken_seat_refuses_the_whole_hold_and_names_it() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let (a, b) = (unique("a"), unique("b"));
    let (ta, tb) = (app.active_token(&a).await, app.active_token(&b).await);
    let date = app.dates[0].clone();
    app.hold_ok(&tb, &b, &date, 14).await;
    let (status, body) = app.hold_seats(&ta, &a, &date, &[13, 14, 15], None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "SEAT_UNAVAILABLE");
    assert!(
        body["detail"].as_str().unwrap().contains("seat 14"),
        "{body}"
    );
    assert_eq!(app.owners(&date, &[13, 15]).await, vec![None, None]);
    assert_eq!(app.seat_count(&a, &app.concert).await, (0, 0));
}

/// A multi-seat hold racing single holds on overlapping seats never leaves a partial hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_multi_seat_hold_racing_single_holds_never_leaves_a_partial_hold() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let date = app.dates[1].clone();
    for round in 0..6u16 {
        let seats: Vec<u16> = (1..=4).map(|s| round * 4 + s).collect();
        let multi = unique("m");
        let singles: Vec<String> = (0..4).map(|_| unique("s")).collect();
        let tm = app.active_token(&multi).await;
        let ts = app.active_tokens(&singles).await;
        let (multi_answer, single_answers) = tokio::join!(
            app.hold_seats(&tm, &multi, &date, &seats, None),
            join_all(
                singles
                    .iter()
                    .zip(&ts)
                    .zip(&seats)
                    .map(|((u, t), s)| app.hold_as(t, u, &app.concert, &date, u64::from(*s)))
            )
        );
        let owners = app.owners(&date, &seats).await;
        if multi_answer.0 == StatusCode::CREATED {
            let id = multi_answer.1["reservationId"].as_str().unwrap().to_owned();
            assert_eq!(owners, vec![Some(id); 4], "round {round}");
            assert!(single_answers
                .iter()
                .all(|(s, _)| *s == StatusCode::CONFLICT));
            assert_eq!(app.seat_count(&multi, &app.concert).await, (4, 1));
        } else {
            assert_eq!(
                multi_answer.1["code"], "SEAT_UNAVAILABLE",
                "{:?}",
                multi_answer
            );
            assert!(owners.iter().all(|o| o
                .as_deref()
                .is_none_or(|o| o != multi_answer.1["reservationId"].as_str().unwrap_or("-"))));
            // Every seat the multi-seat hold did not get is a single's or free: never its own.
            let mine = app.seat_count(&multi, &app.concert).await;
            assert_eq!(mine, (0, 0), "round {round}");
        }
    }
}

/// Paying a multi-seat reservation sells every seat at once, for the sum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_a_multi_seat_reservation_sells_every_seat_for_the_sum() {
    let _shared = TIMING.read().await;
    let app = spawn_app().await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let (status, view) = app
        .hold_seats(&token, &user, &date, &[20, 21, 22], None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let id = view["reservationId"].as_str().unwrap();
    let res = app.api.charge(&token, &user, 150_000, None).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
    let (status, paid) = answer(app.api.pay(&token, &user, id, None).await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    assert_eq!(paid["amount"], 150_000);
    assert_eq!(paid["balance"], 0);
    for seat in [20, 21, 22] {
        let m = app
            .marker(&app.concert, &date, seat)
            .await
            .expect("a marker");
        assert_eq!(text(&m, "status"), "SOLD");
        assert_eq!(text(&m, "reservationId"), id);
    }
    // Sold seats stay counted; the hold is no longer a live one.
    assert_eq!(app.seat_count(&user, &app.concert).await, (3, 0));
}

/// A multi-seat hold's expiry frees every seat and gives them back to the count, once, from
/// the release of any one marker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_of_a_multi_seat_hold_frees_every_seat_once() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[("HOLD_TTL_SECONDS", "1")]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let (status, view) = app
        .hold_seats(&token, &user, &date, &[30, 31, 32], None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let id = reservation_id(&view);
    let stored = app.stored(&id).await;
    sleep_past(stored.expires_at, 100).await;
    // The stream's record of one marker's TTL deletion releases all three.
    let marker = HoldItem::held_seat(&stored, SeatNo::new(31).unwrap());
    let response = app
        .deliver(vec![ttl_removal(&marker, &sequence_number())])
        .await;
    assert!(failed_items(&response).is_empty());
    assert_eq!(
        app.owners(&date, &[30, 31, 32]).await,
        vec![None, None, None]
    );
    assert_eq!(app.stored(&id).await.status, ReservationStatus::Expired);
    assert_eq!(app.seat_count(&user, &app.concert).await, (0, 0));
    // A second delivery, and the sweep's release, change nothing.
    let response = app
        .deliver(vec![ttl_removal(&marker, &sequence_number())])
        .await;
    assert!(failed_items(&response).is_empty());
    assert_eq!(
        release(&app.state, &HoldRef::from(&stored)).await.unwrap(),
        Released::Nothing
    );
    assert_eq!(app.seat_count(&user, &app.concert).await, (0, 0));
}
