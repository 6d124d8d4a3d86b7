//! Redis frozen, stopped, killed or back empty under a running app.

use super::*;

/// Redis frozen or stopped mid traffic answers 503 fast writes nothing and recovers without a
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_frozen_or_stopped_mid_traffic_is_503_and_recovers_unaided() {
    let mut stack = Stack::up("redis-stop", false).await;
    let app = Arc::new(app_on(&stack, 200, &[]).await);
    let crowd: Vec<Arc<Customer>> = customers(&app, 4, 0)
        .await
        .into_iter()
        .map(Arc::new)
        .collect();
    let prober = Customer {
        user: crowd[0].user.clone(),
        token: crowd[0].token.clone(),
        held: crowd[0].held.clone(),
    };
    let seats = Arc::new(AtomicUsize::new(crowd.len()));
    let stop = Arc::new(AtomicBool::new(false));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = crowd
        .iter()
        .map(|c| {
            tokio::spawn(traffic(
                app.clone(),
                c.clone(),
                seats.clone(),
                stop.clone(),
                in_flight.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;

    // Frozen: the process is there but answers nothing (SIGSTOP), the case a timeout is for.
    stack.redis.pause().expect("SIGSTOP");
    let in_flight_at_freeze = in_flight.load(Ordering::SeqCst);
    let frozen = every_endpoint(&app, &prober, seats.fetch_add(1, Ordering::SeqCst)).await;
    let slowest_frozen = assert_all_unavailable("Redis frozen", &frozen);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stack.redis.resume().expect("SIGCONT");
    let thawed = until_ok("a poll after SIGCONT", || app.status(&prober.token)).await;

    // Stopped: the process is gone, connections are refused.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_flight_at_stop = in_flight.load(Ordering::SeqCst);
    stack.redis.stop().expect("stopped");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopped = every_endpoint(&app, &prober, seats.fetch_add(1, Ordering::SeqCst)).await;
    let slowest_stopped = assert_all_unavailable("Redis stopped", &stopped);
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::SeqCst);
    let sent: Vec<Sent> = join_all(workers)
        .await
        .into_iter()
        .flat_map(|r| r.expect("a traffic worker"))
        .collect();

    // Mid-traffic: every answer is an answer, in time; the refusals are all 503.
    for s in &sent {
        let a = &s.answer;
        assert!(
            matches!(a.status, 200 | 201) || a.is_unavailable(),
            "{:?} answered {} {}: {}",
            s.op,
            a.status,
            a.code,
            a.body
        );
        assert!(a.took < BOUND, "{:?} took {:?}", s.op, a.took);
    }
    let refused: Vec<&Sent> = sent.iter().filter(|s| s.answer.status == 503).collect();
    assert!(!refused.is_empty(), "the traffic never met the fault");
    let slowest_traffic_503 = refused.iter().map(|s| s.answer.took).max().unwrap();

    // Nothing half-written, nothing written for a refusal: the reservations are exactly the
    // holds that answered 201, the charge keys exactly the charges that answered 200.
    let s = stored(&app.state.db).await;
    let mut held: BTreeSet<String> = crowd.iter().map(|c| c.held.clone()).collect();
    held.extend(
        sent.iter()
            .filter(|s| s.op == Op::Hold && s.answer.status == 201)
            .filter_map(|s| s.id.clone()),
    );
    assert_eq!(
        s.reservation_ids(),
        held,
        "reservations vs holds answered 201"
    );
    let charged: BTreeSet<String> = sent
        .iter()
        .filter(|s| s.op == Op::Charge && s.answer.status == 200)
        .filter_map(|s| s.id.clone())
        .collect();
    let refused_keys: BTreeSet<String> = sent
        .iter()
        .filter(|s| s.op == Op::Charge && s.answer.status == 503)
        .filter_map(|s| s.id.clone())
        .collect();
    let recorded = s.record_keys();
    assert!(
        charged.is_subset(&recorded),
        "a charge answered 200 is not recorded"
    );
    assert!(
        recorded.is_disjoint(&refused_keys),
        "a charge answered 503 was written"
    );
    let whole = assert_nothing_half_written(&app).await;

    // Redis returns, empty (no persistence), on the same port: the same app serves again.
    let redis_boot = stack.restart_redis().await;
    let fresh = unique("u");
    let recovered = until_ok("a new token after Redis returned", || app.issue(&fresh)).await;
    // The tokens from before are gone from Redis; their DynamoDB record makes them expired.
    let old = app.status(&prober.token).await;
    assert_eq!((old.status, old.code.as_str()), (401, "TOKEN_EXPIRED"));
    let user = &prober.user;
    let token = app.token(user).await;
    let a = app
        .hold(&token, user, seats.fetch_add(1, Ordering::SeqCst))
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let a = app.charge(&token, user, 1_000, &unique("k")).await;
    assert_eq!(a.status, 200, "{a:?}");
    let a = app.pay(&token, user, &prober.held, &unique("k")).await;
    assert_eq!(a.status, 201, "{a:?}");
    let whole_after = assert_nothing_half_written(&app).await;

    println!(
        "redis fault: {} requests of traffic ({} answered 503, slowest {:?}); in flight when frozen {}, when stopped {}; \
         every endpoint 503 while frozen (slowest {:?}) and stopped (slowest {:?}); \
         polls answered 200 again {:?} after SIGCONT; redis back in {:?}, first new token {:?} after; \
         before: {whole}; after: {whole_after}",
        sent.len(),
        refused.len(),
        slowest_traffic_503,
        in_flight_at_freeze,
        in_flight_at_stop,
        slowest_frozen,
        slowest_stopped,
        thawed,
        redis_boot,
        recovered,
    );
}

/// Redis back empty expires every token and everyone queues again with their seats and money
/// kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_back_empty_expires_tokens_and_keeps_seats_and_money() {
    let mut stack = Stack::up("redis-empty", false).await;
    let app = app_on(&stack, 20, &[("QUEUE_ACTIVE_LIMIT", "2")]).await;
    let users: Vec<String> = (0..3).map(|_| unique("u")).collect();
    let mut before = Vec::new();
    for user in &users {
        let a = app.issue(user).await;
        assert_eq!(a.status, 201);
        before.push(a.body);
    }
    let statuses: Vec<&str> = before
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ACTIVE", "ACTIVE", "WAITING"]);
    let old: Vec<String> = before
        .iter()
        .map(|b| b["token"].as_str().unwrap().to_owned())
        .collect();
    let (a, b, c) = (&users[0], &users[1], &users[2]);
    let held = app.hold(&old[0], a, 0).await;
    assert_eq!(held.status, 201);
    let reservation = held.body["reservationId"].as_str().unwrap().to_owned();
    assert_eq!(
        app.charge(&old[0], a, 100_000, &unique("k")).await.status,
        200
    );

    // Redis dies (SIGKILL) and comes back with nothing.
    stack.redis.kill().expect("killed");
    stack.restart_redis().await;

    // Every token the line knew is expired: its signature tells it from a forgery.
    for token in &old {
        let s = until_ok_or_refused(|| app.status(token)).await;
        assert_eq!(
            (s.status, s.code.as_str()),
            (401, "TOKEN_EXPIRED"),
            "{}",
            s.body
        );
    }
    let refused = app.hold(&old[0], a, 1).await;
    assert_eq!(
        (refused.status, refused.code.as_str()),
        (401, "TOKEN_EXPIRED")
    );
    let refused = app.balance(&old[0], a).await;
    assert_eq!(
        (refused.status, refused.code.as_str()),
        (401, "TOKEN_EXPIRED")
    );
    let forged = app.status(&uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(
        (forged.status, forged.code.as_str()),
        (401, "TOKEN_INVALID")
    );

    // Everyone queues again, in the order they come back: c first now.
    let mut again = Vec::new();
    for user in [c, a, b] {
        let answer = app.issue(user).await;
        assert_eq!(answer.status, 201, "a new token: {}", answer.body);
        again.push(answer.body);
    }
    let statuses: Vec<&str> = again
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["ACTIVE", "ACTIVE", "WAITING"]);
    assert_eq!(again[2]["position"], 1);
    let new: Vec<String> = again
        .iter()
        .map(|b| b["token"].as_str().unwrap().to_owned())
        .collect();
    for token in &new {
        assert!(!old.contains(token), "a new token, not an old one");
    }
    let (new_c, new_a, new_b) = (&new[0], &new[1], &new[2]);

    // DynamoDB kept the seat and the money.
    let balance = app.balance(new_a, a).await;
    assert_eq!(balance.body["balance"], 100_000);
    let taken = app.hold(new_c, c, 0).await;
    assert_eq!(
        (taken.status, taken.code.as_str()),
        (409, "SEAT_UNAVAILABLE")
    );
    let waiting = app.hold(new_b, b, 2).await;
    assert_eq!(
        (waiting.status, waiting.code.as_str()),
        (403, "TOKEN_NOT_ACTIVE")
    );
    let paid = app.pay(new_a, a, &reservation, &unique("k")).await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    // The payment spent a's token, so b moves up.
    let b_now = app.status(new_b).await;
    assert_eq!(b_now.body["status"], "ACTIVE", "{}", b_now.body);
    assert_nothing_half_written(&app).await;
}
