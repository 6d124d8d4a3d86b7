//! The opening: joins before `opensAt` form the pre-queue, put in line at the opening in a
//! uniformly random order, ahead of everyone who joins after it.

use super::*;
use futures::StreamExt;
use shared::domain::queue::LineControls;
use shared::domain::token::TokenId;
use shared::domain::UserId;
use shared::store::scripts::{Issued, Lookup, QueueScripts, Who};

/// Sleeps until `at` has passed (by a margin for the clock's ms).
async fn until_past(at: DateTime<Utc>) {
    let left = (at + chrono::Duration::milliseconds(50) - Utc::now()).to_std();
    tokio::time::sleep(left.unwrap_or_default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_opening_a_join_waits_with_no_position_and_the_opening_shown() {
    let app = spawn_app_with(&[]).await;
    let opens = Utc::now() + chrono::Duration::hours(1);
    app.open_at(opens).await;
    let user = unique("early");
    let view = app.issue_new(&user).await;
    assert_pre_queue(&view);
    let shown = DateTime::parse_from_rfc3339(view["opensAt"].as_str().unwrap()).unwrap();
    assert_eq!(shown.timestamp(), opens.timestamp(), "{view}");
    for key in FIELDS {
        assert!(view.get(key).is_some(), "{key} in {view}");
    }
    // Asking again and polling answer the same, with the same token.
    let (status, again) = app.issue(&user).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(token_of(&again), token_of(&view));
    assert_pre_queue(&again);
    // Nobody is let in before the opening, however many places are free.
    let polled = app.poll(&token_of(&view)).await;
    assert_pre_queue(&polled);
    assert!(
        polled["pollAfterSeconds"].as_u64().unwrap() <= app.state.settings.queue_poll_max.as_secs(),
        "{polled}"
    );
}

/// An opening as far ahead as the contract takes (the year 9999: 15 digits of ms) is shown
/// as it was set, by the join and by a poll, never a 500 (Lua's own number text would
/// have written it with an exponent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opening_in_the_year_9999_is_answered_as_set() {
    let app = spawn_app_with(&[]).await;
    let opens = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
        .unwrap()
        .with_timezone(&Utc);
    app.open_at(opens).await;
    let view = app.issue_new(&unique("far")).await;
    assert_pre_queue(&view);
    let polled = app.poll(&token_of(&view)).await;
    assert_pre_queue(&polled);
    for answer in [&view, &polled] {
        let shown = DateTime::parse_from_rfc3339(answer["opensAt"].as_str().unwrap()).unwrap();
        assert_eq!(shown.timestamp(), opens.timestamp(), "{answer}");
    }
}

/// A pre-queue token that polls as hinted keeps its place through the wait for the opening;
/// one that stops polling drops out like any waiter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_queue_token_that_polls_keeps_its_place_and_an_idle_one_drops_out() {
    let _timing = TIMING.read().await;
    let app = spawn_app_with(&[
        ("WAITING_TOKEN_IDLE_SECONDS", "2"),
        ("QUEUE_POLL_MAX_SECONDS", "1"),
    ])
    .await;
    app.open_at(Utc::now() + chrono::Duration::hours(1)).await;
    let keen = token_of(&app.issue_new(&unique("keen")).await);
    let idle = token_of(&app.issue_new(&unique("idle")).await);
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let view = app.poll(&keen).await;
        assert_pre_queue(&view);
        assert_eq!(view["pollAfterSeconds"], 1, "{view}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_problem(
        app.status(&idle).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_pre_queue_tokens_take_places_1_to_30_shuffled_ahead_of_later_joins() {
    let app = spawn_app_with(&[]).await;
    app.open_at(Utc::now() + chrono::Duration::hours(1)).await;
    // Paused through the opening, so every place stays visible.
    app.control(json!({ "paused": true })).await;
    let early: Vec<String> = (0..30)
        .map(|i| format!("{}-{i}", unique("early")))
        .collect();
    let mut tokens = Vec::new();
    for user in &early {
        let view = app.issue_new(user).await;
        assert_pre_queue(&view);
        tokens.push(token_of(&view));
    }

    let opens = Utc::now() + chrono::Duration::milliseconds(1_500);
    app.open_at(opens).await;
    until_past(opens).await;
    let late: Vec<String> = (0..5).map(|i| format!("{}-{i}", unique("late"))).collect();
    for (i, user) in late.iter().enumerate() {
        let view = app.issue_new(user).await;
        assert_waiting(&view, 31 + i as u64);
        assert!(view["opensAt"].is_null(), "{view}");
    }

    let mut places = Vec::new();
    for (token, user) in tokens.iter().zip(&early) {
        let view = app.poll(token).await;
        assert!(view["opensAt"].is_null(), "{view}");
        let place = view["position"]
            .as_u64()
            .expect("a place after the opening");
        // Asking again never changes a place.
        let (_, again) = app.issue(user).await;
        assert_eq!(again["position"], place, "{again}");
        places.push(place);
    }
    let mut sorted = places.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=30).collect::<Vec<u64>>(), "{places:?}");
    assert_ne!(places, sorted, "the pre-queue kept its join order");
}

/// 500 joins across the opening instant: none lost or placed twice; everyone who joined
/// before the opening ahead of everyone after it, and those after in the places they were
/// told at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_joins_across_the_opening_are_each_placed_once() {
    let app = spawn_app_with(&[]).await;
    let _burst = app.burst().await;
    app.open_at(Utc::now() + chrono::Duration::hours(1)).await;
    app.control(json!({ "paused": true })).await;
    let start = tokio::time::Instant::now();
    let opens = Utc::now() + chrono::Duration::milliseconds(2_000);
    app.open_at(opens).await;
    let users: Vec<String> = (0..500).map(|i| format!("{}-{i}", unique("x"))).collect();
    // Joins every 8 ms over 4 s, the opening within them.
    let joined: Vec<(StatusCode, Value)> = join_all(users.iter().enumerate().map(|(i, u)| {
        let app = &app;
        async move {
            tokio::time::sleep_until(start + Duration::from_millis(8 * i as u64)).await;
            app.issue(u).await
        }
    }))
    .await;
    until_past(opens).await;

    let mut before = Vec::new();
    let mut after = Vec::new();
    for (status, view) in &joined {
        assert_eq!(*status, StatusCode::CREATED, "{view}");
        if view["opensAt"].is_string() {
            assert_pre_queue(view);
            before.push(token_of(view));
        } else {
            after.push((token_of(view), view["position"].as_u64().expect("a place")));
        }
    }
    assert!(
        !before.is_empty() && !after.is_empty(),
        "the joins did not straddle the opening: {} before, {} after",
        before.len(),
        after.len()
    );
    let distinct: HashSet<&String> = before.iter().chain(after.iter().map(|(t, _)| t)).collect();
    assert_eq!(distinct.len(), 500);

    let polled: Vec<Value> = join_all(before.iter().map(|t| app.poll(t))).await;
    let mut places: Vec<u64> = polled
        .iter()
        .map(|v| v["position"].as_u64().expect("a place"))
        .collect();
    places.sort_unstable();
    assert_eq!(places, (1..=before.len() as u64).collect::<Vec<_>>());
    let polled: Vec<Value> = join_all(after.iter().map(|(t, _)| app.poll(t))).await;
    let mut later = Vec::new();
    for (view, (_, told)) in polled.iter().zip(&after) {
        assert_eq!(view["position"], *told, "{view}");
        later.push(*told);
    }
    later.sort_unstable();
    let first = before.len() as u64 + 1;
    assert_eq!(later, (first..=500).collect::<Vec<_>>());
}

/// χ² over many small openings, straight on the scripts: 2,000 openings of 8 joins, then the
/// 8×8 table of join index against place. Uniform, every cell expects 250. Each opening is a
/// permutation (every row and column gets exactly one), so a cell's variance is 250·(7/8), not
/// 250: the sum is (8/7)·χ² with (8-1)(8-1) = 49 degrees of freedom (its mean is 56, not 49).
/// At α = 10⁻⁶ χ²(49) is 111.14, so the bound is 127.02 and a correct shuffle fails once in a
/// million runs. (The bound was 85.35, plain χ²(49) at α = 0.001: simulated, a correct shuffle
/// fails that 1.1% of the time, and it did in a run here.) A wrong shuffle is far beyond
/// either: one join that always ends last puts the sum well over 10,000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pre_queue_order_is_uniform_by_chi_square() {
    const OPENINGS: usize = 2_000;
    const N: usize = 8;
    const CHI2_49_DF_ALPHA_1E_6: f64 = 111.14;
    let bound = CHI2_49_DF_ALPHA_1E_6 * N as f64 / (N - 1) as f64;
    let app = spawn_app_with(&[]).await;
    let counts = futures::stream::iter(0..OPENINGS)
        .map(|n| {
            let state = &app.state;
            async move { one_opening(state, n).await }
        })
        .buffer_unordered(16)
        .fold([[0u64; N]; N], |mut table, places| async move {
            for (join, place) in places.into_iter().enumerate() {
                table[join][place - 1] += 1;
            }
            table
        })
        .await;
    let expected = (OPENINGS / N) as f64;
    let sum: f64 = counts
        .iter()
        .flatten()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum();
    println!("chi-square sum over {OPENINGS} openings of {N}: {sum:.2} (bound {bound:.2}: (8/7)·χ²(49) at alpha 1e-6); table {counts:?}");
    assert!(
        sum < bound,
        "chi-square sum {sum:.2} >= {bound:.2}: {counts:?}"
    );
}

/// One opening of 8 on a line of its own: 8 joins before it, the opening, then each one's
/// place (1-based) by join index. Paused, so nobody is admitted and every place shows.
async fn one_opening(state: &shared::AppState, n: usize) -> Vec<usize> {
    let scripts = QueueScripts::new(&state.redis, &state.settings);
    let concert = ConcertId::parse(&unique(&format!("chi{n}"))).unwrap();
    let before = LineControls {
        version: 1,
        active_limit: None,
        paused: true,
        opens_at: Some(Utc::now() + chrono::Duration::hours(1)),
    };
    scripts.mirror_controls(&concert, &before).await.unwrap();
    let mut tokens = Vec::new();
    for i in 0..8 {
        let user = UserId::parse(&format!("u{i}")).unwrap();
        let (issued, _) = scripts
            .issue(&user, &concert, TokenId::generate(), None)
            .await
            .unwrap()
            .done()
            .expect("the line has its controls");
        let Issued::New(status) = issued else {
            panic!("a new token")
        };
        assert_eq!(status.position(), None, "{status:?}");
        tokens.push(status.token);
    }
    let opened = LineControls {
        version: 2,
        opens_at: Some(Utc::now() - chrono::Duration::seconds(1)),
        ..before
    };
    scripts.mirror_controls(&concert, &opened).await.unwrap();
    let mut places = Vec::new();
    for token in &tokens {
        let signed = state.settings.queue_token_key.verify(token).unwrap();
        let (lookup, _) = scripts
            .status(&signed, Who::Holder(&signed.id), true, None)
            .await
            .unwrap()
            .done()
            .expect("the line has its controls");
        let Lookup::Live(status) = lookup else {
            panic!("a live token")
        };
        places.push(status.position().expect("a place") as usize);
    }
    places
}

/// An opening set while people wait in line: they keep their places, ahead of everyone who
/// joins before it (the pre-queue, placed at the opening in a random order), and everyone who
/// joins after it comes after both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opening_set_while_people_wait_keeps_them_ahead_of_the_pre_queue() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    assert_active(&app.issue_new(&unique("a")).await);
    let waiting: Vec<String> = (0..3).map(|_| unique("w")).collect();
    let mut in_line = Vec::new();
    for (n, user) in (1..).zip(&waiting) {
        let view = app.issue_new(user).await;
        assert_waiting(&view, n);
        in_line.push(token_of(&view));
    }
    // Paused through the opening, so every place stays visible.
    app.control(json!({ "paused": true })).await;
    let opens = Utc::now() + chrono::Duration::milliseconds(2_500);
    app.open_at(opens).await;
    let mut early = Vec::new();
    for _ in 0..10 {
        let view = app.issue_new(&unique("early")).await;
        assert_pre_queue(&view);
        early.push(token_of(&view));
    }
    // Before the opening, those in line still see their places; nobody moved.
    for (n, token) in (1..).zip(&in_line) {
        let view = app.poll(token).await;
        assert_waiting(&view, n);
        assert!(view["opensAt"].is_string(), "{view}");
    }

    until_past(opens).await;
    let late = app.issue_new(&unique("late")).await;
    assert_waiting(&late, 14);
    for (n, token) in (1..).zip(&in_line) {
        assert_waiting(&app.poll(token).await, n);
    }
    let mut places: Vec<u64> = Vec::new();
    for token in &early {
        let view = app.poll(token).await;
        places.push(
            view["position"]
                .as_u64()
                .expect("a place after the opening"),
        );
    }
    places.sort_unstable();
    assert_eq!(places, (4..=13).collect::<Vec<u64>>());
}
