//! `load spike`: a ticket opening. Every user arrives at once and, over HTTP:
//!
//! 0. signs in (the local issuer's `POST /local/sign-in`: one round trip; every call after it
//!    carries the access token, as a page does);
//! 1. takes a token, and polls `/queue/status` until it is ACTIVE;
//! 2. lists the concert's dates (none left: sold out, goes home) and the date's seats;
//! 3. tries to hold one of the `hot` lowest-numbered available seats, so most users aim at the
//!    same few seats; refused, it lists the seats again and tries another, `attempts` times;
//! 4. charges the price to its balance, then pays (both with an Idempotency-Key, retried on
//!    503 as `Retry-After` says, and resent after a 500, whose write may have committed);
//! 5. except that one user in ten (index 3 mod 10) lets its hold go (`DELETE
//!    /reservations/{id}`) instead, and one in ten (7 mod 10) pays, then takes a new token
//!    (WAITING or ACTIVE: a refund takes either) and is refunded (keyed). Their seats are for
//!    sale again, to whoever comes next.
//!
//! Then it checks, from the answers and from the tables: no seat sold twice, the debits add
//! up to the prices of the seats still sold, every refund gave the price back, every balance
//! is what its user was charged minus what it paid plus what it got back, and (`devserver
//! check-invariants` over the run's concert and users) every balance equals its ledger,
//! every sale and every refund is whole and every buyer's seat count is their seats.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::api::{with_resends, with_retries, Api, Fail, Reservation, SIGN_IN};
use crate::stats::fmt_us;
use crate::Args;

pub struct Spike {
    pub url: String,
    pub concert: String,
    pub users: usize,
    pub connections: usize,
    pub hot: usize,
    /// Poll every this many ms (jittered) instead of as `pollAfterSeconds` says.
    pub poll_ms: Option<u64>,
    pub attempts: u32,
    pub user_prefix: String,
    pub devserver: Option<String>,
}

impl Spike {
    pub fn parse(args: &mut Args) -> anyhow::Result<Self> {
        let tag = crate::tag();
        Ok(Self {
            url: args.text("--url", "http://127.0.0.1:3000"),
            concert: args.required("--concert")?,
            users: args.number("--users", 1500)?,
            connections: args.number("--connections", 256)?,
            hot: args.number("--hot", 5)?,
            poll_ms: match args.optional("--poll-ms") {
                None => None,
                Some(v) => {
                    Some(v.parse().map_err(|_| {
                        anyhow::anyhow!("--poll-ms must be a whole number, not {v:?}")
                    })?)
                }
            },
            attempts: args.number("--attempts", 10)? as u32,
            user_prefix: args.text("--user-prefix", &format!("ld{tag}-")),
            devserver: args.optional("--devserver"),
        })
    }
}

/// What a user means to do once it holds a seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Buy,
    Release,
    Refund,
}

impl Plan {
    fn of(user: usize) -> Self {
        match user % 10 {
            3 => Plan::Release,
            7 => Plan::Refund,
            _ => Plan::Buy,
        }
    }
}

#[derive(Debug)]
enum Outcome {
    Paid {
        seat: u16,
        date: String,
        price: u64,
        amount: u64,
        balance_after: u64,
    },
    /// Paid, then refunded: `balance` is what the refund left.
    Refunded {
        date: String,
        price: u64,
        amount: u64,
        refunded: u64,
        balance: u64,
    },
    /// Held a seat, then let it go.
    Released,
    /// Every attempt at a seat was refused.
    Lost,
    /// No seat left by the time the user was admitted.
    SoldOut,
    /// Charged, then the payment failed: the balance keeps the charge.
    ChargedUnpaid {
        charged: u64,
        why: String,
    },
    Failed(String),
}

#[derive(Default)]
struct Live {
    waiting: AtomicUsize,
    active: AtomicUsize,
    holds: AtomicUsize,
    paid: AtomicUsize,
    released: AtomicUsize,
    refunded: AtomicUsize,
    lost: AtomicUsize,
    sold_out: AtomicUsize,
    failed: AtomicUsize,
}

impl Live {
    fn message(&self) -> String {
        let g = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        format!(
            "waiting {} · active {} · holds won {} · paid {} · released {} · refunded {} · lost {} · sold out {} · failed {}",
            g(&self.waiting),
            g(&self.active),
            g(&self.holds),
            g(&self.paid),
            g(&self.released),
            g(&self.refunded),
            g(&self.lost),
            g(&self.sold_out),
            g(&self.failed)
        )
    }
}

pub async fn run(spike: Spike) -> anyhow::Result<bool> {
    let api = Api::new(&spike.url, spike.connections)?;
    let spike = Arc::new(spike);
    let live = Arc::new(Live::default());
    println!(
        "## Spike: {} users at once on concert {} ({} in flight at most, hot seats {}, {} attempts each)\n",
        spike.users, spike.concert, spike.connections, spike.hot, spike.attempts
    );
    let bar = ProgressBar::new(spike.users as u64);
    bar.set_style(ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} users done · {msg}",
    )?);
    bar.enable_steady_tick(Duration::from_millis(200));

    let start = Instant::now();
    let ticker = {
        let (bar, live) = (bar.clone(), live.clone());
        tokio::spawn(async move {
            loop {
                bar.set_message(live.message());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let tasks: Vec<_> = (0..spike.users)
        .map(|i| {
            let (api, spike, live, bar) = (api.clone(), spike.clone(), live.clone(), bar.clone());
            tokio::spawn(async move {
                let user = format!("{}{i}", spike.user_prefix);
                let outcome = one_user(&api, &spike, &live, &user, Plan::of(i)).await;
                let counter = match &outcome {
                    Outcome::Paid { .. } => &live.paid,
                    Outcome::Released => &live.released,
                    Outcome::Refunded { .. } => &live.refunded,
                    Outcome::Lost => &live.lost,
                    Outcome::SoldOut => &live.sold_out,
                    Outcome::ChargedUnpaid { .. } | Outcome::Failed(_) => &live.failed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                bar.inc(1);
                (user, outcome)
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for t in tasks {
        outcomes.push(
            t.await
                .map_err(|e| anyhow::anyhow!("a user task panicked: {e}"))?,
        );
    }
    let wall = start.elapsed();
    ticker.abort();
    bar.finish_and_clear();

    // ---- report
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    println!(
        "{} users in {:.1} s: {} paid, {} paid and were refunded, {} let their hold go, {} lost every seat they tried, {} found it sold out, {} failed\n",
        spike.users,
        wall.as_secs_f64(),
        count(|o| matches!(o, Outcome::Paid { .. })),
        count(|o| matches!(o, Outcome::Refunded { .. })),
        count(|o| matches!(o, Outcome::Released)),
        count(|o| matches!(o, Outcome::Lost)),
        count(|o| matches!(o, Outcome::SoldOut)),
        count(|o| matches!(o, Outcome::Failed(_) | Outcome::ChargedUnpaid { .. })),
    );
    let mut failures: HashMap<String, usize> = HashMap::new();
    for (_, o) in &outcomes {
        match o {
            Outcome::Failed(why) | Outcome::ChargedUnpaid { why, .. } => {
                *failures.entry(why.clone()).or_default() += 1
            }
            _ => {}
        }
    }
    println!(
        "Server errors (5xx or no answer) over all requests: {}\n",
        api.stats.server_errors()
    );
    for (why, n) in &failures {
        println!("- failed: {why} ({n} users)");
    }
    if !failures.is_empty() {
        println!();
    }
    println!("{}", api.stats.table());
    println!(
        "Requests per user: {} ({}).\n",
        api.stats.per_user(spike.users),
        match spike.poll_ms {
            Some(ms) => format!("polling every {ms} ms, jittered"),
            None => "polling as pollAfterSeconds says".into(),
        }
    );
    println!(
        "Latency is per request, from the moment it may go (at most {} in flight) to its answer; \
         throughput is requests over the span from an endpoint's first request to its last answer. \
         SEAT_UNAVAILABLE is the contract's answer to a lost race, not an error.\n",
        spike.connections
    );
    sign_in_cost(&api, spike.users);

    let ok = check(&spike, &outcomes).await?;
    Ok(ok)
}

async fn one_user(api: &Api, spike: &Spike, live: &Live, user: &str, plan: Plan) -> Outcome {
    match flow(api, spike, live, user, plan).await {
        Ok(o) => o,
        Err(f) => Outcome::Failed(f),
    }
}

/// A user's failure is an outcome of the run (counted, shown), not an error of the tool: text.
async fn flow(
    api: &Api,
    spike: &Spike,
    live: &Live,
    user: &str,
    plan: Plan,
) -> Result<Outcome, String> {
    let step = |what: &'static str| move |f: Fail| format!("{what}: {f}");
    // 0. Signed in: the access token every call below carries.
    with_retries(3, || api.sign_in(user))
        .await
        .map_err(step("sign-in"))?;
    // 1. In line, then admitted.
    let mut token = with_retries(3, || api.issue(user, &spike.concert))
        .await
        .map_err(step("token"))?;
    if !token.active() {
        live.waiting.fetch_add(1, Ordering::Relaxed);
        while !token.active() {
            // As the server says (a real client's way), or at a fixed pace when asked to.
            let wait = match (spike.poll_ms, token.poll_after_seconds) {
                (Some(ms), _) => ms as f64 * rand::random_range(0.5..1.5),
                (None, Some(s)) => s as f64 * 1000.0,
                (None, None) => 1000.0,
            };
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
            token = match api.status(&token.token).await {
                Ok(t) => t,
                Err(f) if f.retryable() => continue,
                Err(f) => {
                    live.waiting.fetch_sub(1, Ordering::Relaxed);
                    return Err(format!("poll at position {}: {f}", token.position));
                }
            };
        }
        live.waiting.fetch_sub(1, Ordering::Relaxed);
    }
    live.active.fetch_add(1, Ordering::Relaxed);
    let outcome = admitted(api, spike, live, user, &token.token, plan).await;
    live.active.fetch_sub(1, Ordering::Relaxed);
    outcome
}

async fn admitted(
    api: &Api,
    spike: &Spike,
    live: &Live,
    user: &str,
    token: &str,
    plan: Plan,
) -> Result<Outcome, String> {
    let step = |what: &'static str| move |f: Fail| format!("{what}: {f}");
    // 2. What is left.
    let dates = with_retries(3, || api.dates(token, &spike.concert))
        .await
        .map_err(step("dates"))?;
    let Some(date) = dates
        .iter()
        .find(|d| d.available_seats > 0)
        .map(|d| d.date.clone())
    else {
        return Ok(Outcome::SoldOut);
    };
    // 3. A hot seat, again and again.
    let mut held: Option<Reservation> = None;
    for _ in 0..spike.attempts {
        let seats = with_retries(3, || api.seats(token, &spike.concert, &date))
            .await
            .map_err(step("seats"))?;
        let free: Vec<u16> = seats
            .iter()
            .filter(|s| s.status == "AVAILABLE")
            .map(|s| s.seat_no)
            .take(spike.hot.max(1))
            .collect();
        if free.is_empty() {
            break;
        }
        let seat = free[rand::random_range(0..free.len())];
        match api.hold(token, user, &spike.concert, &date, seat).await {
            Ok(r) => {
                held = Some(r);
                break;
            }
            Err(f) if f.is("SEAT_UNAVAILABLE") || f.retryable() => continue,
            Err(f) => return Err(format!("hold: {f}")),
        }
    }
    let Some(r) = held else {
        return Ok(Outcome::Lost);
    };
    live.holds.fetch_add(1, Ordering::Relaxed);
    if plan == Plan::Release {
        let released = with_retries(3, || api.release(token, &r.reservation_id))
            .await
            .map_err(step("release"))?;
        if released.reservation_id != r.reservation_id || released.status != "RELEASED" {
            return Err(format!(
                "release answered {} {}",
                released.reservation_id, released.status
            ));
        }
        return Ok(Outcome::Released);
    }
    // 4. Charge the price, then pay.
    let charge_key = format!("charge-{user}");
    let charged = with_resends(4, || api.charge(token, user, r.price, &charge_key))
        .await
        .map_err(step("charge"))?
        .balance;
    let pay_key = format!("pay-{user}");
    match with_resends(4, || api.pay(token, user, &r.reservation_id, &pay_key)).await {
        Ok(p) if p.reservation_id == r.reservation_id && plan == Plan::Refund => {
            // The payment spent the token: a new one, admitted or not, is enough to refund.
            let again = with_retries(3, || api.issue(user, &spike.concert))
                .await
                .map_err(step("token for the refund"))?;
            let refund_key = format!("refund-{user}");
            let refunded = with_resends(4, || {
                api.refund(&again.token, &r.reservation_id, &refund_key)
            })
            .await
            .map_err(step("refund"))?;
            if refunded.reservation_id != r.reservation_id {
                return Err(format!("refund answered {}", refunded.reservation_id));
            }
            Ok(Outcome::Refunded {
                date,
                price: r.price,
                amount: p.amount,
                refunded: refunded.amount,
                balance: refunded.balance,
            })
        }
        Ok(p) if p.reservation_id == r.reservation_id => Ok(Outcome::Paid {
            seat: r.seat_no,
            date,
            price: r.price,
            amount: p.amount,
            balance_after: p.balance,
        }),
        Ok(p) => Err(format!("pay answered reservation {}", p.reservation_id)),
        Err(f) => Ok(Outcome::ChargedUnpaid {
            charged,
            why: format!("pay: {f}"),
        }),
    }
}

/// What signing in adds to a user's visit: its round trips and its time, next to the rest.
fn sign_in_cost(api: &Api, users: usize) {
    let Some((sign_ins, sign_in_us, p50, p99)) = api.stats.of(SIGN_IN) else {
        return;
    };
    let (requests, all_us) = api.stats.totals();
    let users = users.max(1) as f64;
    println!("## What sign-in adds per user\n");
    println!(
        "- round trips: {:.2} per user (`POST /local/sign-in`, once before the first call; the \
         access token then goes with every call for its 600 s), {:.1}% of the run's {requests} \
         requests: {:.2} per user with it, {:.2} without;",
        sign_ins as f64 / users,
        100.0 * sign_ins as f64 / requests.max(1) as f64,
        requests as f64 / users,
        (requests - sign_ins) as f64 / users,
    );
    println!(
        "- time: {} per user on average (p50 {}, p99 {} a sign-in), {:.1}% of a user's time in \
         requests ({} per user in all);",
        fmt_us((sign_in_us / users) as u64),
        fmt_us(p50),
        fmt_us(p99),
        100.0 * sign_in_us / all_us.max(1.0),
        fmt_us((all_us / users) as u64),
    );
    println!(
        "- on every call: the authorizer's check of the access token (RS256), made here by the \
         local server before the handler and in AWS by API Gateway before the function: no \
         round trip, and no store is asked (`load http` below times a poll with it).\n"
    );
}

/// The invariants, from the answers and from the stores. True when all hold.
async fn check(spike: &Spike, outcomes: &[(String, Outcome)]) -> anyhow::Result<bool> {
    println!("## Invariants\n");
    let mut ok = true;
    let mut verdict = |name: &str, pass: bool, detail: String| {
        ok &= pass;
        println!(
            "- [{}] {name}: {detail}",
            if pass { "ok" } else { "FAILED" }
        );
    };

    // From the answers alone.
    let paid: Vec<(&String, u16, &String, u64, u64, u64)> = outcomes
        .iter()
        .filter_map(|(u, o)| match o {
            Outcome::Paid {
                seat,
                date,
                price,
                amount,
                balance_after,
            } => Some((u, *seat, date, *price, *amount, *balance_after)),
            _ => None,
        })
        .collect();
    let distinct: HashSet<(u16, &String)> = paid.iter().map(|p| (p.1, p.2)).collect();
    verdict(
        "no seat sold twice (answers)",
        distinct.len() == paid.len(),
        format!(
            "{} payments succeeded, for {} distinct seats",
            paid.len(),
            distinct.len()
        ),
    );
    let debits: u64 = paid.iter().map(|p| p.4).sum();
    let prices: u64 = paid.iter().map(|p| p.3).sum();
    verdict(
        "every payment debited its seat's price (answers)",
        debits == prices && paid.iter().all(|p| p.5 == 0),
        format!(
            "debited {debits} won for seats priced {prices} won in all; every payer charged the \
             price and was left with 0"
        ),
    );
    // (price, paid, refunded, balance after the refund)
    let refunded: Vec<(u64, u64, u64, u64)> = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Refunded {
                price,
                amount,
                refunded,
                balance,
                ..
            } => Some((*price, *amount, *refunded, *balance)),
            _ => None,
        })
        .collect();
    verdict(
        "every refund gave back what was paid (answers)",
        refunded
            .iter()
            .all(|&(price, paid, back, balance)| paid == price && back == paid && balance == price),
        format!(
            "{} refunds of {} won in all; each refunded payer was left with the price it charged",
            refunded.len(),
            refunded.iter().map(|r| r.2).sum::<u64>()
        ),
    );

    // From the tables (the same DynamoDB the server writes to), where this process can reach it.
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        println!("- (AWS_ENDPOINT_URL_DYNAMODB is not set: the table checks are skipped)");
        return Ok(ok);
    }
    let state = shared::AppState::from_env()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the stores: {e}"))?;
    let concert = shared::domain::ConcertId::parse(&spike.concert)?;
    let mut dates: Vec<&String> = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            Outcome::Paid { date, .. } | Outcome::Refunded { date, .. } => Some(date),
            _ => None,
        })
        .collect();
    dates.sort();
    dates.dedup();
    let (mut sold, mut sold_value) = (HashSet::new(), 0u64);
    for date in dates {
        let d = shared::domain::ConcertDate::parse(date)?;
        let map = shared::flows::seats::seat_map(&state, &concert, &d)
            .await
            .map_err(|e| anyhow::anyhow!("seat map: {e}"))?;
        for s in map {
            if s.status == shared::domain::seats::SeatState::Sold {
                sold.insert((s.seat_no.get(), date));
                sold_value += s.price.get();
            }
        }
    }
    verdict(
        "no seat sold twice (table)",
        sold == distinct,
        format!(
            "{} seats SOLD in the seat map, each one a payment answered and not refunded",
            sold.len()
        ),
    );
    verdict(
        "the debits add up to the prices of the sold seats (table)",
        sold_value == debits,
        format!("SOLD seats are worth {sold_value} won; payments debited {debits} won"),
    );
    // Every balance: what its user was charged minus what it paid plus what it got back.
    let mut expected: Vec<(&String, u64)> = Vec::new();
    for (u, o) in outcomes {
        match o {
            Outcome::Paid { .. } | Outcome::Released => expected.push((u, 0)),
            Outcome::Refunded { price, .. } => expected.push((u, *price)),
            Outcome::ChargedUnpaid { charged, .. } => expected.push((u, *charged)),
            _ => {}
        }
    }
    let mut wrong = Vec::new();
    for (u, want) in &expected {
        let user = shared::domain::UserId::parse(u)?;
        let got = shared::flows::balance::get(&state, &user)
            .await
            .map_err(|e| anyhow::anyhow!("balance: {e}"))?
            .get();
        if got != *want {
            wrong.push(format!("{u}: {got} won, expected {want}"));
        }
    }
    verdict(
        "every balance is its charges minus its payments plus its refunds (table)",
        wrong.is_empty(),
        if wrong.is_empty() {
            format!("{} balances read", expected.len())
        } else {
            wrong.join("; ")
        },
    );

    // The whole data model, over this run's concert and users.
    if let Some(devserver) = &spike.devserver {
        let out = std::process::Command::new(devserver)
            .args([
                "check-invariants",
                "--concert-prefix",
                &spike.concert,
                "--user-prefix",
                &spike.user_prefix,
            ])
            .output()
            .map_err(|e| anyhow::anyhow!("cannot run {devserver}: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        // Its counts and verdict, without the scan line or any log line.
        let summary = text
            .lines()
            .filter(|l| l.starts_with("checked") || l.contains("violation"))
            .collect::<Vec<_>>()
            .join("; ");
        verdict(
            "every balance equals its ledger, every sale has one reservation and one payment, every refund is whole, no seat is in two live reservations, every seat count is its buyer's seats (devserver check-invariants)",
            out.status.success(),
            summary,
        );
        if !out.status.success() {
            print!("{text}{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    println!();
    Ok(ok)
}
