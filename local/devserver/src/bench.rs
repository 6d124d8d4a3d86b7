//! `devserver bench`: DynamoDB round trips per operation, counted by an SDK interceptor, and
//! each write flow's throughput next to its bare transaction issued alone from the same SDK
//! client, at equal concurrency, so the ratio shows the flow's own overhead (its read, its
//! Redis calls, building items). Run by `make bench` against its own in-memory stack.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::stream::{self, StreamExt};
use shared::domain::{
    Amount, ConcertDate, ConcertId, QueueToken, ReservationId, SeatNo, UserId, Won,
};
use shared::flows::balance::{self, ChargeRequest};
use shared::flows::holds::{self, HoldRequest};
use shared::flows::payments::{self, PayRequest};
use shared::settings::Settings;
use shared::store::items::{
    BalanceItem, HoldItem, LedgerItem, LedgerKind, PaymentItem, ReservationItem,
};
use shared::store::payments::PaymentWrite;
use shared::store::scripts::Issued;
use shared::AppState;

const CONCURRENCY: usize = 32;

fn id<T>(r: Result<T, shared::domain::Invalid>) -> T {
    r.expect("bench ids are valid")
}

async fn timed<F, Fut>(n: usize, op: F) -> (f64, usize)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let ok = AtomicUsize::new(0);
    let start = Instant::now();
    stream::iter(0..n)
        .for_each_concurrent(CONCURRENCY, |i| {
            let f = op(i);
            let ok = &ok;
            async move {
                if f.await {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .await;
    let secs = start.elapsed().as_secs_f64();
    (n as f64 / secs, ok.load(Ordering::Relaxed))
}

fn line(name: &str, flow: (f64, usize), raw: (f64, usize), n: usize) {
    println!(
        "| {name} | {:.0}/s ({}/{n} ok) | {:.0}/s ({}/{n} ok) | {:.2} |",
        flow.0,
        flow.1,
        raw.0,
        raw.1,
        flow.0 / raw.0
    );
}

pub async fn run(settings: Settings, scale: usize) -> Result<(), String> {
    let (state, counter) = crate::counting::counted_state(settings).await?;
    shared::store::schema::create_tables(&state.db)
        .await
        .map_err(|e| e.to_string())?;
    let state = Arc::new(state);
    let run = uuid_tag();

    // A catalog big enough for every hold below: dates of 500 seats.
    let concert = id(ConcertId::parse(&format!("bench-{run}")));
    let seats_per_date: u16 = 500;
    let dates_needed = (4 * scale).div_ceil(usize::from(seats_per_date)) + 2;
    let today = ConcertDate::today_utc().naive();
    let dates: Vec<ConcertDate> = (1..=dates_needed as u64)
        .map(|d| ConcertDate::from_naive(today + chrono::Days::new(d)))
        .collect();
    state
        .db
        .seed_catalog(&concert, &dates, seats_per_date, Won::new(1_000))
        .await
        .map_err(|e| e.to_string())?;
    let seat_at = |i: usize| {
        (
            dates[i / usize::from(seats_per_date)],
            id(SeatNo::new((i % usize::from(seats_per_date) + 1) as i64)),
        )
    };
    let user = |prefix: &str, i: usize| id(UserId::parse(&format!("{prefix}-{run}-{i}")));

    // ---- round trips
    println!("## DynamoDB round trips per operation (counted at the SDK)\n");
    println!("| operation | requests |\n| --- | --- |");
    counter.take();
    shared::flows::seats::seat_map(&state, &concert, &dates[0])
        .await
        .map_err(|e| e.to_string())?;
    println!("| seat map | {} |", counter.take().join(" + "));
    let hold = |i: usize, who: UserId| {
        let (date, seat) = seat_at(i);
        holds::hold(
            &state,
            HoldRequest {
                user: who,
                concert: concert.clone(),
                date,
                seat,
            },
        )
    };
    let probe_user = user("rt", 0);
    let held = hold(0, probe_user.clone())
        .await
        .map_err(|e| e.to_string())?;
    println!("| hold (catalog cached) | {} |", counter.take().join(" + "));
    let charge = ChargeRequest {
        amount: id(Amount::new(5_000)),
    };
    balance::charge(&state, &probe_user, &charge, None)
        .await
        .map_err(|e| e.to_string())?;
    println!("| charge | {} |", counter.take().join(" + "));
    let token = issue(&state, &probe_user, &concert).await?;
    counter.take();
    let pay = PayRequest {
        user_id: probe_user.clone(),
        reservation_id: held.reservation_id,
    };
    payments::pay(&state, &token, &pay, None)
        .await
        .map_err(|e| e.to_string())?;
    println!("| payment | {} |", counter.take().join(" + "));
    balance::get(&state, &probe_user)
        .await
        .map_err(|e| e.to_string())?;
    println!("| balance read | {} |\n", counter.take().join(" + "));

    // ---- throughput
    println!("## Throughput against DynamoDB Local, concurrency {CONCURRENCY}\n");
    println!("| write | flow | its transaction alone | ratio |\n| --- | --- | --- | --- |");
    let n = scale;
    // DynamoDB Local is a JVM: warm it up first, so neither side of a ratio pays for the JIT.
    timed(n / 2, |i| {
        let who = user("warm", i);
        let charge = charge.clone();
        let state = state.clone();
        async move { balance::charge(&state, &who, &charge, None).await.is_ok() }
    })
    .await;
    // Holds: distinct seats, so every one wins; the bare write is the same two-item put.
    let flow = timed(n, |i| {
        let who = user("hf", i);
        let f = hold(1 + i, who);
        async move { f.await.is_ok() }
    })
    .await;
    let raw = timed(n, |i| {
        let (date, seat) = seat_at(1 + n + i);
        let now = Utc::now();
        let r = ReservationItem::held(
            ReservationId::generate(),
            &user("hr", i),
            &concert,
            date,
            seat,
            Won::new(1_000),
            now + chrono::Duration::seconds(300),
            now,
        );
        let marker = HoldItem::held(&r);
        let state = state.clone();
        async move {
            state
                .db
                .put_hold(&marker, &r, now.timestamp_millis())
                .await
                .is_ok()
        }
    })
    .await;
    line("hold", flow, raw, n);

    // Charges: distinct users; the bare write is the balance + ledger transaction.
    let flow = timed(n, |i| {
        let who = user("cf", i);
        let state = state.clone();
        let charge = charge.clone();
        async move { balance::charge(&state, &who, &charge, None).await.is_ok() }
    })
    .await;
    let raw = timed(n, |i| {
        let who = user("cr", i);
        let now = Utc::now();
        let item = BalanceItem::new(&who, Won::new(5_000), now);
        let entry = LedgerItem::new(
            &who,
            uuid::Uuid::new_v4(),
            LedgerKind::Charge,
            Won::new(5_000),
            Won::new(5_000),
            now,
        );
        let state = state.clone();
        async move {
            state
                .db
                .move_balance(None, &item, &entry, None)
                .await
                .is_ok()
        }
    })
    .await;
    line("charge", flow, raw, n);

    // Payments: each payer holds a seat and has a balance first (not timed).
    let m = n / 2;
    let setup = |prefix: &'static str, offset: usize| {
        let state = state.clone();
        let concert = concert.clone();
        let charge = charge.clone();
        async move {
            let mut out = Vec::new();
            for chunk in (0..m).collect::<Vec<_>>().chunks(CONCURRENCY) {
                let made = futures::future::join_all(chunk.iter().map(|&i| {
                    let who = user(prefix, i);
                    let (date, seat) = seat_at(offset + i);
                    let state = state.clone();
                    let concert = concert.clone();
                    let charge = charge.clone();
                    async move {
                        let r = holds::hold(
                            &state,
                            HoldRequest {
                                user: who.clone(),
                                concert: concert.clone(),
                                date,
                                seat,
                            },
                        )
                        .await
                        .ok()?;
                        balance::charge(&state, &who, &charge, None).await.ok()?;
                        let token = issue(&state, &who, &concert).await.ok()?;
                        Some((who, r, token))
                    }
                }))
                .await;
                out.extend(made.into_iter().flatten());
            }
            out
        }
    };
    let payers = setup("pf", 1 + 2 * n).await;
    let flow = timed(payers.len(), |i| {
        let (who, r, token) = payers[i].clone();
        let state = state.clone();
        async move {
            let req = PayRequest {
                user_id: who,
                reservation_id: r.reservation_id,
            };
            payments::pay(&state, &token, &req, None).await.is_ok()
        }
    })
    .await;
    let payers_raw = setup("pr", 1 + 2 * n + m).await;
    let raw = timed(payers_raw.len(), |i| {
        let (who, r, _) = payers_raw[i].clone();
        let state = state.clone();
        async move {
            let now = Utc::now();
            let left = Won::new(5_000 - r.price.get());
            let balance = BalanceItem::new(&who, left, now);
            let payment = PaymentItem::new(&r, left, now);
            let entry = LedgerItem::new(
                &who,
                *payment.payment_id.as_uuid(),
                LedgerKind::Payment,
                r.price,
                left,
                now,
            );
            let write = PaymentWrite {
                old: Won::new(5_000),
                balance: &balance,
                reservation: &r,
                payment: &payment,
                entry: &entry,
                record: None,
            };
            state
                .db
                .commit_payment(&write, now.timestamp_millis())
                .await
                .is_ok()
        }
    })
    .await;
    line("payment", flow, raw, payers.len().min(payers_raw.len()));
    Ok(())
}

async fn issue(state: &AppState, who: &UserId, concert: &ConcertId) -> Result<QueueToken, String> {
    match shared::flows::queue::issue(state, who, concert)
        .await
        .map_err(|e| e.to_string())?
    {
        Issued::New(s) | Issued::Existing(s) => Ok(s.token),
    }
}

fn uuid_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}
