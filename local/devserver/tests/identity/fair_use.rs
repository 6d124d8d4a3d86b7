//! Fair use over HTTP: a buyer's concurrent burst past `BUYER_BURST` is refused in part with
//! 429 and `Retry-After`, the refused charges wrote nothing, and another buyer is untouched.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_charges_past_the_buyers_burst_is_429_in_part_and_writes_nothing_refused() {
    let app = common::spawn_app_with(&[("BUYER_RATE_PER_SECOND", "1"), ("BUYER_BURST", "5")]).await;
    let _burst = app.burst().await;
    let (buyer, other) = (unique("u"), unique("v"));
    let token = app.token_for(&buyer).await;
    let other_token = app.token_for(&other).await;

    let charges = (0..20).map(|i| {
        let api = app.api.clone();
        let (token, buyer) = (token.clone(), buyer.clone());
        async move {
            let key = format!("burst-{i}");
            api.charge(&token, &buyer, 1_000, Some(&key)).await.unwrap()
        }
    });
    let answers = futures::future::join_all(charges).await;
    let charged = answers
        .iter()
        .filter(|a| a.status() == StatusCode::OK)
        .count();
    let refused: Vec<_> = answers
        .iter()
        .filter(|a| a.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(charged + refused.len(), 20, "only 200 or 429");
    assert!(
        !refused.is_empty(),
        "a burst of 20 over a burst of 5 is refused in part"
    );
    assert!((1..=5).contains(&charged), "{charged} charged");
    for answer in &refused {
        assert!(answer.header("retry-after").is_some());
        assert_eq!(answer.code().as_deref(), Some("TOO_MANY_REQUESTS"));
    }

    // The balance holds exactly the charges answered 200: the refused wrote nothing.
    let user = shared::domain::UserId::parse(&buyer).unwrap();
    let held = shared::flows::balance::get(&app.state, &user)
        .await
        .unwrap();
    assert_eq!(held.get(), 1_000 * charged as u64);

    // Another buyer, at once: untouched by the first one's bucket.
    let res = app
        .api
        .charge(&other_token, &other, 1_000, None)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text());
}
