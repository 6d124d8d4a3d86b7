//! Many charges of one user at once.

use super::*;

/// A hundred concurrent charges of one won make a balance of 100 and 100 ledger entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_charges_of_one_won_make_100_in_100_entries() {
    let app = spawn_app_with(&[]).await;
    let _burst = app.burst().await;
    let c = app.caller().await;
    let started = Instant::now();
    let results = join_all((0..100).map(|_| async {
        let res = app.charge(&c, 1, None).await;
        (res.status(), res.text())
    }))
    .await;
    let elapsed = started.elapsed();
    for (status, body) in &results {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    // Every answer is a different balance: no two charges saw the same one.
    let mut answered: Vec<u64> = results
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["balance"]
                .as_u64()
                .unwrap()
        })
        .collect();
    answered.sort_unstable();
    assert_eq!(answered, (1..=100).collect::<Vec<u64>>());

    assert_eq!(app.balance_of(&c).await, 100);
    let entries = app.ledger(&c.user).await;
    assert_eq!(entries.len(), 100);
    assert!(entries.iter().all(|e| e.amount == 1));
    assert_ledger_adds_up(&entries, 100);
    eprintln!("100 concurrent charges on one user over HTTP: {elapsed:?}");
}
