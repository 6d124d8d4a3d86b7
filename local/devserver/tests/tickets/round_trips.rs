//! Each new route's DynamoDB round trips, counted on the client (every request sent).

use super::*;
use shared::domain::paging::PageLimit;
use shared::flows::{listing, tickets};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_routes_round_trips_are_what_its_handler_says() {
    let app = spawn_app_with(&[]).await;
    let mut b = app.buyer("trips").await;
    let date = app.dates[1].clone();
    let rid = app.buy(&mut b, &date, &[48, 49]).await;
    let refunded = app.buy(&mut b, &date, &[50]).await;
    let old = app.code_of(&b.user, &refunded, 50).await;
    assert_eq!(app.refund(&b, &refunded).await.status(), StatusCode::OK);
    let (state, counter) = shared::counting::counted_state(app.state.settings.clone())
        .await
        .unwrap();
    let who = user(&b.user);

    listing::list(&state, &who, PageLimit::DEFAULT, None)
        .await
        .unwrap();
    assert_eq!(counter.take(), ["Query"], "the list: one Query");

    let issued = tickets::tickets(&state, &who, &rid).await.unwrap();
    assert_eq!(
        counter.take(),
        ["GetItem", "BatchGetItem"],
        "tickets, first look at the date: the reservation, then its markers and the date"
    );
    tickets::tickets(&state, &who, &rid).await.unwrap();
    assert_eq!(counter.take(), ["GetItem", "BatchGetItem"], "tickets again");

    tickets::check_in(&state, &issued[0].code).await.unwrap();
    assert_eq!(
        counter.take(),
        ["UpdateItem"],
        "a check-in (the date already known)"
    );
    tickets::check_in(&state, &issued[0].code)
        .await
        .unwrap_err();
    assert_eq!(counter.take(), ["UpdateItem"], "a second scan");
    tickets::check_in(&state, &old).await.unwrap_err();
    assert_eq!(
        counter.take(),
        ["UpdateItem", "GetItem"],
        "a refunded seat's scan"
    );
    tickets::check_in(&state, &issued[1].code.replace('.', "_"))
        .await
        .unwrap_err();
    assert_eq!(counter.take(), Vec::<String>::new(), "an invalid code");

    // A process's first check-in of a date reads the date's sections first.
    let (fresh, counter) = shared::counting::counted_state(app.state.settings.clone())
        .await
        .unwrap();
    tickets::check_in(&fresh, &issued[1].code).await.unwrap();
    assert_eq!(
        counter.take(),
        ["GetItem", "UpdateItem"],
        "a first check-in"
    );

    let refused = shared::flows::refunds::refund(&fresh, &who, &rid, None)
        .await
        .unwrap_err();
    assert_eq!(refused.parts().1, "ALREADY_CHECKED_IN");
    assert_eq!(
        counter.take(),
        ["BatchGetItem", "TransactWriteItems"],
        "a refund refused by a seat let in: its read and its one transaction"
    );
}
