//! The stream release function, called with Lambda's own event shape.

use super::*;

/// The release function expires the reservation of a ttl deleted marker and frees the seat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ttl_deleted_marker_expires_its_reservation_and_frees_the_seat() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let token = app.active_token(&user).await;
    let date = app.dates[0].clone();
    let (r, m) = app.write_lapsed_hold(&user, &date, 36, false).await;
    // What TTL does: the marker is gone, the reservation still says HELD.
    app.delete_marker(&m).await;
    assert_eq!(
        app.stored(&r.reservation_id).await.status,
        ReservationStatus::Held
    );

    let seq = sequence_number();
    let response = app.deliver(vec![ttl_removal(&m, &seq)]).await;
    assert_eq!(failed_items(&response), Vec::<String>::new());
    let after = app.stored(&r.reservation_id).await;
    assert_eq!(after.status, ReservationStatus::Expired);
    assert_eq!(after.held_shard, None);
    assert_eq!(status_of(&app.seats(&token, &date).await, 36), "AVAILABLE");
    let (status, view) = app
        .get_reservation(&token, &r.reservation_id.to_string())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "EXPIRED");
}

/// The same stream record delivered twice changes nothing the second time and reports no
/// failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_delivered_twice_changes_nothing_the_second_time() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let date = app.dates[0].clone();
    let (r, m) = app.write_lapsed_hold(&user, &date, 37, false).await;
    app.delete_marker(&m).await;
    let record = ttl_removal(&m, &sequence_number());

    let first = app.deliver(vec![record.clone()]).await;
    assert_eq!(failed_items(&first), Vec::<String>::new());
    let after_first = app.reservation_raw(&r.reservation_id).await;
    assert_eq!(text(after_first.as_ref().unwrap(), "status"), "EXPIRED");

    // The seat is taken again meanwhile: the duplicate must not undo that either.
    let tb_user = unique("b");
    let tb = app.active_token(&tb_user).await;
    let newer = app.hold_ok(&tb, &tb_user, &date, 37).await;
    let newer_marker = app.marker(&app.concert, &date, 37).await;

    let second = app.deliver(vec![record.clone(), record]).await;
    assert_eq!(failed_items(&second), Vec::<String>::new());
    assert_eq!(app.reservation_raw(&r.reservation_id).await, after_first);
    assert_eq!(app.marker(&app.concert, &date, 37).await, newer_marker);
    assert_eq!(
        app.stored(&reservation_id(&newer)).await.status,
        ReservationStatus::Held
    );
}

/// A stream record for a hold that was paid or held again since is a no op for the seat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_for_a_hold_paid_or_held_again_since_is_a_no_op() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();

    // Paid: the record's old image is the HELD marker, the seat is SOLD now.
    let paid = app.write_paid_hold(&unique("p"), &date, 38).await;
    let paid_marker = app.marker(&app.concert, &date, 38).await;
    let paid_before = app.reservation_raw(&paid.reservation_id).await;
    let paid_old_image = HoldItem::held(&paid);

    // Held again: A's lapsed marker was overwritten by B's hold.
    let a = unique("a");
    let (old, old_marker) = app.write_lapsed_hold(&a, &date, 39, false).await;
    let b = unique("b");
    let tb = app.active_token(&b).await;
    let newer = app.hold_ok(&tb, &b, &date, 39).await;
    let newer_marker = app.marker(&app.concert, &date, 39).await;

    let response = app
        .deliver(vec![
            ttl_removal(&paid_old_image, &sequence_number()),
            ttl_removal(&old_marker, &sequence_number()),
        ])
        .await;
    assert_eq!(failed_items(&response), Vec::<String>::new());

    // The sale stands, untouched.
    assert_eq!(app.reservation_raw(&paid.reservation_id).await, paid_before);
    assert_eq!(app.marker(&app.concert, &date, 38).await, paid_marker);
    // B's hold stands; only A's reservation ends, as EXPIRED.
    assert_eq!(app.marker(&app.concert, &date, 39).await, newer_marker);
    assert_eq!(
        app.stored(&reservation_id(&newer)).await.status,
        ReservationStatus::Held
    );
    assert_eq!(
        app.stored(&old.reservation_id).await.status,
        ReservationStatus::Expired
    );
    let map = app.seats(&tb, &date).await;
    assert_eq!(status_of(&map, 38), "SOLD");
    assert_eq!(status_of(&map, 39), "HELD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_records_other_than_the_removal_of_a_held_marker_are_ignored() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let date = app.dates[0].clone();
    let (r, m) = app.write_lapsed_hold(&user, &date, 40, false).await;
    let before = app.reservation_raw(&r.reservation_id).await;
    let mut sold = m.clone();
    sold.status = HoldStatus::Sold;

    let response = app
        .deliver(vec![
            stream_record("INSERT", &m, &sequence_number()),
            stream_record("MODIFY", &m, &sequence_number()),
            ttl_removal(&sold, &sequence_number()),
        ])
        .await;
    assert_eq!(failed_items(&response), Vec::<String>::new());
    assert_eq!(app.reservation_raw(&r.reservation_id).await, before);
    assert!(app.marker(&app.concert, &date, 40).await.is_some());
}

/// A batch reports only the record whose release failed and releases the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_reports_only_the_failed_record_and_releases_the_rest() {
    let _shared = TIMING.read().await;
    let app = spawn_app_with(&[]).await;
    let date = app.dates[0].clone();
    let (good, good_marker) = app.write_lapsed_hold(&unique("g"), &date, 41, false).await;
    app.delete_marker(&good_marker).await;
    let (bad, bad_marker) = app.write_lapsed_hold(&unique("b"), &date, 42, false).await;
    app.delete_marker(&bad_marker).await;
    app.write_unexpirable(&bad).await;
    let bad_before = app.reservation_raw(&bad.reservation_id).await;

    let (good_seq, bad_seq) = (sequence_number(), sequence_number());
    let response = app
        .deliver(vec![
            ttl_removal(&bad_marker, &bad_seq),
            ttl_removal(&good_marker, &good_seq),
        ])
        .await;
    assert_eq!(failed_items(&response), vec![bad_seq]);
    assert_eq!(
        app.stored(&good.reservation_id).await.status,
        ReservationStatus::Expired
    );
    assert_eq!(app.reservation_raw(&bad.reservation_id).await, bad_before);

    app.state
        .db
        .client
        .delete_item()
        .table_name(&app.state.db.reservations)
        .key(
            "PK",
            AttributeValue::S(keys::reservation_pk(&bad.reservation_id)),
        )
        .key("SK", AttributeValue::S(keys::RESERVATION_SK.into()))
        .send()
        .await
        .expect("the padded reservation is removed");
}
