//! `pollAfterSeconds`, and a line that cleans up after itself.

use super::*;

/// The head is told two seconds and everyone a hint within the maximum, later places no sooner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_head_is_told_two_seconds_and_no_hint_exceeds_the_maximum() {
    // 30 admitted in the last minute: half a token a second, so places 1 to 5 are due within
    // 10 s.
    let app = spawn_app_with(&[
        ("QUEUE_ACTIVE_LIMIT", "30"),
        ("QUEUE_POLL_MAX_SECONDS", "20"),
    ])
    .await;
    for _ in 0..30 {
        assert_active(&app.issue_new(&unique("a")).await);
    }
    let mut hints = Vec::new();
    for n in 1..=40 {
        let view = app.issue_new(&unique("w")).await;
        assert_waiting(&view, n);
        hints.push(view["pollAfterSeconds"].as_u64().unwrap());
    }
    assert_eq!(hints[..5], [2; 5], "{hints:?}");
    assert!(hints.iter().all(|&h| (1..=20).contains(&h)), "{hints:?}");
    // Later places no sooner, but for the jitter (a tenth at most).
    assert!(
        hints.windows(2).all(|w| w[1] as f64 >= 0.9 * w[0] as f64),
        "{hints:?}"
    );
    // A poll is paced the same way.
    let polled = app
        .poll(&token_of(&app.issue_new(&unique("w")).await))
        .await;
    assert!(
        polled["pollAfterSeconds"].as_u64().is_some_and(|h| h <= 20),
        "{polled}"
    );
}

/// Every key of the line, and of the dates cache, ends by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_of_the_line_has_an_end() {
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let active = app.issue_new(&unique("a")).await;
    let waiting = app.issue_new(&unique("w")).await;
    app.poll(&token_of(&waiting)).await;
    let dates = app
        .api
        .dates(&token_of(&active), &app.concert)
        .await
        .unwrap();
    assert_eq!(dates.status(), StatusCode::OK);
    let keys = app.redis_keys().await;
    assert!(keys.len() >= 7, "{keys:?}");
    for key in keys {
        let k = key.clone();
        let ttl: i64 = app
            .state
            .redis
            .run(|mut c| async move { redis::cmd("PTTL").arg(k).query_async(&mut c).await })
            .await
            .unwrap();
        assert!(ttl > 0, "{key} never ends (PTTL {ttl})");
    }
}

/// Tokens that join together are told hints spread by the jitter: more than one distinct
/// hint, each within a tenth below the model's unjittered one, none over the maximum or under
/// 1, and the head told 2 whatever the draw.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hints_of_tokens_that_join_together_are_spread_within_a_tenth() {
    use shared::domain::queue::Standing;
    use shared::store::scripts::Issued;
    let app = spawn_app_with(&[("QUEUE_ACTIVE_LIMIT", "30")]).await;
    for _ in 0..30 {
        assert_active(&app.issue_new(&unique("a")).await);
    }
    let concert = ConcertId::parse(&app.concert).unwrap();
    let settings = &app.state.settings;
    let model = shared::flows::queue::pacing(settings);
    let slowest = shared::flows::queue::slowest_rate(settings, 30);
    let users: Vec<_> = (0..200)
        .map(|_| shared::domain::UserId::parse(&unique("w")).unwrap())
        .collect();
    let joins = join_all(
        users
            .iter()
            .map(|u| shared::flows::queue::issue(&app.state, u, &concert)),
    )
    .await;
    let (mut spread, mut heads) = (BTreeSet::new(), 0);
    for join in joins {
        let Ok(Issued::New(status)) = join else {
            panic!("a new token: {join:?}")
        };
        let Standing::Waiting {
            position,
            recent_admissions,
            line,
        } = status.standing
        else {
            panic!("waiting: {status:?}")
        };
        let told = status.poll_after_seconds.expect("a hint");
        let unjittered = model.hint(position, line, recent_admissions, slowest);
        assert!(
            told <= unjittered && (unjittered - told) as f64 <= 0.1 * unjittered as f64,
            "place {position}: told {told}, the model {unjittered}"
        );
        assert!((1..=model.max_seconds).contains(&told), "{told}");
        if unjittered == 2 {
            assert_eq!(told, 2, "the head, place {position}");
            heads += 1;
        }
        if unjittered >= 30 {
            spread.insert((unjittered, told));
        }
    }
    assert!(heads >= 1, "nobody at the head");
    // Places that the model tells alike are told apart.
    let by_model: HashMap<u64, HashSet<u64>> =
        spread
            .iter()
            .fold(HashMap::new(), |mut m, (unjittered, told)| {
                m.entry(*unjittered).or_default().insert(*told);
                m
            });
    let distinct: usize = by_model.values().map(HashSet::len).sum();
    assert!(
        distinct > by_model.len(),
        "no two places of one model hint were told apart: {by_model:?}"
    );
}

/// The line's script computes the hints as the model does, operation for operation: the same
/// pace, hint and jitter for lines up to ten million, any admission rate and the limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scripts_pacing_is_the_models() {
    use shared::domain::queue::{line_bucket, Pacing, JITTER_DRAWS};
    let app = spawn_app_with(&[]).await;
    // (max, budget), then (position, line, admissions, slowest, draw).
    let mut cases = Vec::new();
    for (max, budget) in [(900u64, 2_000u64), (30, 2_000), (600, 100), (1, 1)] {
        for line in [1u64, 9, 120, 5_000, 99_999, 1_000_000, 10_000_000] {
            for position in [1, line / 3, line] {
                for admissions in [0u64, 1, 33, 660, 6_000] {
                    for slowest in [100.0 / 600.0, 2_000.0 / 600.0] {
                        let draw = (line * 7_919 + position) % JITTER_DRAWS;
                        cases.push((
                            max,
                            budget,
                            position.max(1),
                            line,
                            admissions,
                            slowest,
                            draw,
                        ));
                    }
                }
            }
        }
    }
    let probe = format!(
        "{}\n{}",
        shared::store::scripts::pacing_source(),
        r#"
local out = {}
for i = 1, #ARGV, 7 do
  local max_s, budget = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  local position, line = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local admits, slowest, draw = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6])
  local r = pace_rate(admits, slowest)
  local k = pace(line_bucket(math.max(line, position)), r, max_s, budget)
  local h = paced_hint(position, r, k, max_s)
  out[#out + 1] = string.format('%.17g %d %d %d %d', k, h, jittered(h, draw),
    hint_before_opening(line, max_s, budget), line_bucket(line))
end
return out
"#
    );
    let script = redis::Script::new(&probe);
    let mut inv = script.prepare_invoke();
    for (max, budget, position, line, admissions, slowest, draw) in &cases {
        inv.arg(max)
            .arg(budget)
            .arg(position)
            .arg(line)
            .arg(admissions)
            .arg(format!("{slowest:.17e}"))
            .arg(draw);
    }
    let lua: Vec<String> = app
        .state
        .redis
        .run(|mut c| async move { inv.invoke_async(&mut c).await })
        .await
        .expect("the probe runs");
    assert_eq!(lua.len(), cases.len());
    for (case, got) in cases.iter().zip(&lua) {
        let &(max, budget, position, line, admissions, slowest, draw) = case;
        let p = Pacing {
            max_seconds: max,
            budget: budget as f64,
        };
        let r = Pacing::rate(admissions, slowest);
        let k = p.pace(line_bucket(line.max(position)), r);
        let h = p.hint(position, line, admissions, slowest);
        let (lua_k, rest) = got.split_once(' ').unwrap();
        let lua_k: f64 = lua_k.parse().unwrap();
        assert_eq!(
            lua_k.to_bits(),
            k.to_bits(),
            "the pace of {case:?}: {lua_k} vs {k}"
        );
        let want = format!(
            "{h} {} {} {}",
            Pacing::jittered(h, draw),
            p.hint_before_opening(line),
            line_bucket(line)
        );
        assert_eq!(rest, want, "{case:?}");
    }
}
