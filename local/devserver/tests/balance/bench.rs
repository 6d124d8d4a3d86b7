//! Charge throughput against DynamoDB Local: a benchmark, run by hand.

use super::*;

/// Throughput against DynamoDB Local, for the closing note:
/// `cargo test -p devserver --test balance -- --ignored --nocapture bench`.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
#[ignore = "benchmark, run by hand"]
async fn charge_throughput_against_dynamodb_local() {
    let app = spawn_app_with(&[]).await;
    let request = ChargeRequest {
        amount: Amount::new(1).unwrap(),
    };
    // Many users, 32 at a time: no contention.
    let users: Vec<UserId> = (0..32)
        .map(|_| UserId::parse(&unique("bench")).unwrap())
        .collect();
    let per_user = 50;
    let started = Instant::now();
    join_all(users.iter().map(|u| async {
        for _ in 0..per_user {
            balance::charge(&app.state, u, &request, None)
                .await
                .unwrap();
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let n = users.len() * per_user;
    eprintln!(
        "{n} charges, 32 users in parallel: {elapsed:?}, {:.0} charges/s",
        n as f64 / elapsed.as_secs_f64()
    );

    // One user, 32 at a time: every commit but one per round loses the race.
    let one = UserId::parse(&unique("bench")).unwrap();
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    join_all((0..32).map(|_| async {
        for _ in 0..per_user {
            balance::charge(&app.state, &one, &request, None)
                .await
                .unwrap();
            done.fetch_add(1, Ordering::Relaxed);
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let n = done.load(Ordering::Relaxed);
    eprintln!(
        "{n} charges, one user, 32 in parallel: {elapsed:?}, {:.0} charges/s",
        n as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(
        balance::get(&app.state, &one).await.unwrap().get(),
        n as u64
    );

    // Through HTTP, the guard's Redis script included, 32 users.
    let callers = join_all((0..32).map(|_| app.caller())).await;
    let started = Instant::now();
    join_all(callers.iter().map(|c| async {
        for _ in 0..per_user {
            app.charge_ok(c, 1, None).await;
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let n = callers.len() * per_user;
    eprintln!(
        "{n} charges over HTTP, 32 users in parallel: {elapsed:?}, {:.0} charges/s",
        n as f64 / elapsed.as_secs_f64()
    );
}
