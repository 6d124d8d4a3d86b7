//! The app against a real 3-master Redis Cluster (`REDIS_CLUSTER=true`), as on ElastiCache
//! Serverless: each test starts its own cluster (redis-server in cluster mode, joined by
//! `redis-cli --cluster create`) on ports of its own (6900-6999), so it can move slots.
//! `make test` also runs the whole queue suite against a cluster (`stack cluster`).

#[path = "common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::LazyLock;

use common::{answer, spawn_app_with, unique, TestApp};
use reqwest::StatusCode;
use serde_json::Value;
use shared::domain::ConcertId;
use shared::store::scripts::concert_tag;
use stack::RedisCluster;

/// Clusters are started one at a time, so two tests never pick the same free ports.
static STARTING: LazyLock<std::sync::Mutex<()>> = LazyLock::new(|| std::sync::Mutex::new(()));

struct Cluster {
    inner: RedisCluster,
    dir: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.inner.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn cluster() -> Cluster {
    let _one = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    // A node also listens on its port + 10,000 (the cluster bus).
    let free = |p: u16| !stack::port_open(p) && !stack::port_open(p + 10_000);
    let base = (6900..6997)
        .step_by(3)
        .find(|&b| (b..b + 3).all(free))
        .expect("three free ports in 6900-6999");
    let dir = std::env::temp_dir().join(unique("cluster"));
    let inner = RedisCluster::start(base, &dir).expect("the cluster starts");
    Cluster { inner, dir }
}

/// An app on the cluster with this key prefix.
async fn app_on(cluster: &Cluster, prefix: &str) -> TestApp {
    app_with(cluster, prefix, &[]).await
}

async fn app_with(cluster: &Cluster, prefix: &str, more: &[(&str, &str)]) -> TestApp {
    let url = cluster.inner.url();
    let mut settings = vec![
        ("REDIS_URL", url.as_str()),
        ("REDIS_CLUSTER", "true"),
        ("REDIS_KEY_PREFIX", prefix),
    ];
    settings.extend_from_slice(more);
    spawn_app_with(&settings).await
}

/// The master that serves `app`'s concert's line.
fn owner(cluster: &Cluster, app: &TestApp) -> (u16, u16) {
    let tag = concert_tag(
        app.state.redis.prefix(),
        &ConcertId::parse(&app.concert).unwrap(),
    );
    let slot = cluster.inner.slot(&tag).expect("CLUSTER KEYSLOT");
    (slot, cluster.inner.owner(slot).expect("a master serves it"))
}

/// The keys on one master matching `pattern`, asked of that node alone.
fn keys_on(port: u16, pattern: &str) -> Vec<String> {
    stack::cluster::cli(port, &["KEYS", pattern])
        .expect("KEYS")
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn status_of(app: &TestApp, token: &str) -> Value {
    let (status, view) = answer(app.status(token).await).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concerts_lines_live_on_different_masters() {
    let cluster = cluster();
    let prefix = unique("c");
    let first = app_on(&cluster, &prefix).await;
    let (_, first_master) = owner(&cluster, &first);
    // Concert IDs are random: within a few, one hashes to another master (2 in 3 do).
    let mut second = app_on(&cluster, &prefix).await;
    for _ in 0..20 {
        if owner(&cluster, &second).1 != first_master {
            break;
        }
        second = app_on(&cluster, &prefix).await;
    }
    let (_, second_master) = owner(&cluster, &second);
    assert_ne!(first_master, second_master, "no concert on another master");

    for app in [&first, &second] {
        let token = app.token_for(&unique("u")).await;
        assert_eq!(status_of(app, &token).await["status"], "ACTIVE");
    }
    let first_keys = keys_on(first_master, &format!("{{{prefix}:{}}}*", first.concert));
    let second_keys = keys_on(second_master, &format!("{{{prefix}:{}}}*", second.concert));
    assert!(!first_keys.is_empty() && !second_keys.is_empty());
    assert!(
        keys_on(first_master, &format!("{{{prefix}:{}}}*", second.concert)).is_empty(),
        "the second concert's line is on its own master"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_of_a_concert_lives_in_its_one_slot() {
    let cluster = cluster();
    // One place: the second user waits, so the line has every kind of key.
    let app = app_with(&cluster, &unique("c"), &[("QUEUE_ACTIVE_LIMIT", "1")]).await;
    let (slot, master) = owner(&cluster, &app);
    let user = unique("u");
    let token = app.token_for(&user).await;
    let waiter = app.token_for(&unique("u")).await;
    assert_eq!(status_of(&app, &waiter).await["status"], "WAITING");
    // The line, then the dates cache (filled by a listing, invalidated by a hold).
    let dates = app.api.dates(&token, &app.concert).await.unwrap();
    assert_eq!(dates.status(), StatusCode::OK, "{}", dates.text());
    let held = app
        .api
        .hold(&token, &user, &app.concert, &app.dates[0], 1)
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::CREATED, "{}", held.text());

    let keys = keys_on(master, &format!("{{{}:*", app.state.redis.prefix()));
    let names: HashSet<&str> = keys.iter().filter_map(|k| k.rsplit(':').next()).collect();
    for name in ["users", "tok", "wait", "seen", "act", "adm", "meta", "v"] {
        assert!(names.contains(name), "{name} in {keys:?}");
    }
    for key in &keys {
        assert_eq!(cluster.inner.slot(key).unwrap(), slot, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dates_listing_is_cached_and_invalidated_on_a_cluster() {
    let cluster = cluster();
    let app = app_on(&cluster, &unique("c")).await;
    let user = unique("u");
    let token = app.token_for(&user).await;
    let available = |body: Value| body["dates"][0]["availableSeats"].as_u64().unwrap();
    let (_, before) = answer(app.api.dates(&token, &app.concert).await.unwrap()).await;
    let (_, cached) = answer(app.api.dates(&token, &app.concert).await.unwrap()).await;
    assert_eq!(available(before.clone()), available(cached));
    let held = app
        .api
        .hold(&token, &user, &app.concert, &app.dates[0], 7)
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::CREATED, "{}", held.text());
    let (_, after) = answer(app.api.dates(&token, &app.concert).await.unwrap()).await;
    assert_eq!(
        available(after),
        available(before) - 1,
        "the hold invalidated the cache"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_whose_slot_moved_answers_as_before_without_a_5xx() {
    let cluster = cluster();
    let app = app_on(&cluster, &unique("c")).await;
    // Three ACTIVE tokens: after the move each answers with the same state.
    let tokens: Vec<String> = {
        let mut t = Vec::new();
        for _ in 0..3 {
            t.push(app.token_for(&unique("u")).await);
        }
        t
    };
    let mut before = Vec::new();
    for t in &tokens {
        before.push(status_of(&app, t).await);
    }
    let (slot, from) = owner(&cluster, &app);
    let to = *cluster.inner.ports().iter().find(|&&p| p != from).unwrap();
    cluster.inner.move_slot(slot, to).expect("the slot moves");
    assert_eq!(cluster.inner.owner(slot).unwrap(), to);

    // The app's connection still maps the slot to the old master: the first call is answered
    // MOVED there and followed.
    for (t, was) in tokens.iter().zip(&before) {
        let now = status_of(&app, t).await;
        for field in ["token", "status", "activeUntil", "position"] {
            assert_eq!(now[field], was[field], "{field} after the move: {now}");
        }
    }
    let fresh = app.issue_token(&unique("u")).await;
    assert_eq!(fresh.status(), StatusCode::CREATED, "{}", fresh.text());
    assert!(!keys_on(to, &format!("{{{}:*", app.state.redis.prefix())).is_empty());
}
