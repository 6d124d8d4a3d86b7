//! `load bench`: DynamoDB round trips per operation, counted by an SDK interceptor, and
//! each write flow's throughput next to its bare transaction issued alone from the same SDK
//! client, at equal concurrency, so the ratio shows the flow's own overhead (its read, its
//! Redis calls, building items): holds of one seat and of four, charges, payments, releases by
//! the holder and refunds; the door's section (`door.rs`): a check-in next to a hold. Then the
//! seat map at 50 and 2,000 seats (its 2,000 all held only at SCALE 1,000 or more, `make
//! bench-full`), and hold attempts on 50 seats (1,000; 10 x SCALE from SCALE 1,000), which must
//! make exactly 50 winners. Run by `make bench` against its own in-memory stack, in-process (the stores'
//! environment, as `load poll`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::stream::{self, StreamExt};
use shared::domain::{
    Amount, ConcertDate, ConcertId, IdempotencyKey, PaymentId, QueueToken, ReservationId, SeatNo,
    UserId, Won,
};
use shared::flows::balance::{self, ChargeRequest};
use shared::flows::holds::{self, HoldRequest};
use shared::flows::payments::{self, PayRequest};
use shared::flows::refunds;
use shared::settings::Settings;
use shared::store::items::{
    BalanceItem, HoldItem, LedgerItem, LedgerKind, PaymentItem, ReservationItem,
};
use shared::store::payments::{PaymentOutcome, PaymentWrite};
use shared::store::refunds::{RefundOutcome, RefundWrite};
use shared::store::scripts::Issued;
use shared::store::seats::{HoldOutcome, HoldRef, HoldWrite, HolderReleaseOutcome};
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

/// The issue's target for a write flow: at least this share of its bare transaction's rate.
const FLOW_TARGET: f64 = 0.8;

/// One row: the flow, its transaction alone (the target's ratio) and, for a flow that reads
/// first, its read and its transaction issued raw one after the other (what is left of the gap
/// is our own overhead).
fn line(
    name: &str,
    flow: (f64, usize),
    raw: (f64, usize),
    read_raw: Option<(f64, usize)>,
    n: usize,
) {
    let ratio = flow.0 / raw.0;
    let read_raw = match read_raw {
        Some(r) => format!("{:.0}/s ({}/{n} ok) | {:.2}", r.0, r.1, flow.0 / r.0),
        None => "(no read) | -".to_owned(),
    };
    println!(
        "| {name} | {:.0}/s ({}/{n} ok) | {:.0}/s ({}/{n} ok) | {ratio:.2} ({}) | {read_raw} |",
        flow.0,
        flow.1,
        raw.0,
        raw.1,
        if ratio >= FLOW_TARGET {
            "met"
        } else {
            "MISSED"
        }
    );
}

pub async fn run(settings: Settings, scale: usize) -> anyhow::Result<()> {
    let (state, counter) = shared::counting::counted_state(settings).await?;
    shared::store::schema::create_tables(&state.db).await?;
    let state = Arc::new(state);
    let run = uuid_tag();

    // A catalog big enough for every hold below: dates of 500 seats.
    let concert = id(ConcertId::parse(&format!("bench-{run}")));
    let seats_per_date: u16 = 500;
    let dates_needed = (12 * scale).div_ceil(usize::from(seats_per_date)) + 2;
    let today = ConcertDate::today_utc().naive();
    let dates: Vec<ConcertDate> = (1..=dates_needed as u64)
        .map(|d| ConcertDate::from_naive(today + chrono::Days::new(d)))
        .collect();
    shared::flows::catalog::seed(&state.db, &concert, &dates, seats_per_date, Won::new(1_000))
        .await?;
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
    shared::flows::seats::seat_map(&state, &concert, &dates[0]).await?;
    println!("| seat map | {} |", counter.take().join(" + "));
    let hold = |i: usize, who: UserId| {
        let (date, seat) = seat_at(i);
        holds::hold(
            &state,
            HoldRequest {
                user: who,
                concert: concert.clone(),
                date,
                seats: vec![seat],
            },
            None,
        )
    };
    let probe_user = user("rt", 0);
    let held = hold(0, probe_user.clone()).await?;
    println!("| hold (catalog cached) | {} |", counter.take().join(" + "));
    let charge = ChargeRequest {
        amount: id(Amount::new(5_000)),
    };
    balance::charge(&state, &probe_user, &charge, None).await?;
    println!("| charge | {} |", counter.take().join(" + "));
    let token = issue(&state, &probe_user, &concert).await?;
    counter.take();
    let pay = PayRequest {
        user_id: probe_user.clone(),
        reservation_id: held.reservation_id,
    };
    let payer = payments::Payer {
        token: &token,
        concert: &concert,
    };
    payments::pay(&state, payer, &pay, None).await?;
    println!("| payment | {} |", counter.take().join(" + "));
    balance::get(&state, &probe_user).await?;
    println!("| balance read | {} |", counter.take().join(" + "));

    // Several seats, on the last date: no timed write reaches it, and it is days ahead, so
    // within the refund window. Its catalog cached first, as for the one-seat hold.
    let far = *dates.last().expect("a date");
    shared::flows::seats::catalog(&state, &concert, &far, false).await?;
    let several = |who: UserId, from: i64| HoldRequest {
        user: who,
        concert: concert.clone(),
        date: far,
        seats: (from..from + 3).map(|s| id(SeatNo::new(s))).collect(),
    };
    let buyer = user("rt", 1);
    counter.take();
    let three = holds::hold(&state, several(buyer.clone(), 1), None).await?;
    println!(
        "| hold of 3 seats (catalog cached) | {} |",
        counter.take().join(" + ")
    );
    let key = id(IdempotencyKey::parse(&format!("bench-{run}")));
    holds::hold(&state, several(user("rt", 2), 4), Some(&key)).await?;
    println!(
        "| hold of 3 seats, keyed | {} |",
        counter.take().join(" + ")
    );
    holds::hold(&state, several(user("rt", 2), 4), Some(&key)).await?;
    println!(
        "| hold of 3 seats, keyed, asked again | {} |",
        counter.take().join(" + ")
    );
    let releaser = user("rt", 3);
    let held = holds::hold(&state, several(releaser.clone(), 7), None).await?;
    counter.take();
    holds::release_by_holder(&state, &releaser, &held.reservation_id).await?;
    println!(
        "| release by the holder (3 seats) | {} |",
        counter.take().join(" + ")
    );
    balance::charge(&state, &buyer, &charge, None).await?;
    let token = issue(&state, &buyer, &concert).await?;
    let pay = PayRequest {
        user_id: buyer.clone(),
        reservation_id: three.reservation_id,
    };
    let payer = payments::Payer {
        token: &token,
        concert: &concert,
    };
    payments::pay(&state, payer, &pay, None).await?;
    counter.take();
    refunds::refund(&state, &buyer, &three.reservation_id, None).await?;
    println!("| refund (3 seats) | {} |", counter.take().join(" + "));
    refunds::refund(&state, &buyer, &three.reservation_id, None).await?;
    println!("| refund, asked again | {} |\n", counter.take().join(" + "));

    // ---- throughput
    println!("## Throughput against DynamoDB Local, concurrency {CONCURRENCY}\n");
    println!(
        "| write | flow | its transaction alone | ratio (target ≥ {FLOW_TARGET:.2}) | its read + transaction, raw | ratio |\n\
         | --- | --- | --- | --- | --- | --- |"
    );
    // DynamoDB Local is a JVM: warm it up first, so neither side of a ratio pays for the JIT.
    timed(scale / 2, |i| {
        let who = user("warm", i);
        let charge = charge.clone();
        let state = state.clone();
        async move { balance::charge(&state, &who, &charge, None).await.is_ok() }
    })
    .await;
    // Every date's catalog in the process's cache and every date locked, as in steady state:
    // otherwise the first holds on each date (up to CONCURRENCY of them at once) each read the
    // date, and each carries the date's lock, on which they conflict. A hold of a seat no timed
    // write takes (the date's last), released again, locks it.
    let lockers = user("lock", 0);
    for date in &dates {
        let req = HoldRequest {
            user: lockers.clone(),
            concert: concert.clone(),
            date: *date,
            seats: vec![id(SeatNo::new(i64::from(seats_per_date)))],
        };
        let held = holds::hold(&state, req, None).await?;
        holds::release_by_holder(&state, &lockers, &held.reservation_id).await?;
    }
    // Its speed still drifts (JIT, growing tables, a shared machine): every variant runs twice,
    // in the order A B C then C B A, at half the operations each, and keeps its better run.
    let half = scale.div_ceil(2);
    let next_seat = std::cell::Cell::new(1usize);
    let take_seats = |k: usize| {
        let first = next_seat.get();
        next_seat.set(first + k);
        first
    };
    let best = |a: (f64, usize), b: (f64, usize)| if b.0 > a.0 { b } else { a };

    // Holds: distinct seats, so every one wins; the bare write is the same two-item put.
    let hold_flow = |round: &str| {
        let first = take_seats(half);
        let prefix = format!("hf{round}");
        let (hold, user) = (&hold, &user);
        timed(half, move |i| {
            let f = hold(first + i, user(&prefix, i));
            async move { f.await.is_ok() }
        })
    };
    let hold_raw = |round: &str| {
        let first = take_seats(half);
        let prefix = format!("hr{round}");
        let (state, concert, seat_at, user) = (&state, &concert, &seat_at, &user);
        timed(half, move |i| {
            let (date, seat) = seat_at(first + i);
            let now = Utc::now();
            let r = ReservationItem::held(
                ReservationId::generate(),
                &user(&prefix, i),
                concert,
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
                    .put_hold(&marker, &r, now.timestamp_millis(), None)
                    .await
                    .is_ok()
            }
        })
    };
    let (f1, r1) = (hold_flow("a").await, hold_raw("a").await);
    let (r2, f2) = (hold_raw("b").await, hold_flow("b").await);
    line("hold", best(f1, f2), best(r1, r2), None, half);

    // Charges: distinct users; the bare write is the balance + ledger transaction, and the
    // charge's own two round trips are its BatchGetItem then that transaction.
    let charge_flow = |round: &str| {
        let prefix = format!("cf{round}");
        let (state, charge, user) = (&state, &charge, &user);
        timed(half, move |i| {
            let who = user(&prefix, i);
            let (state, charge) = (state.clone(), charge.clone());
            async move { balance::charge(&state, &who, &charge, None).await.is_ok() }
        })
    };
    let charge_tx = |round: &str, read_first: bool| {
        let prefix = format!("c{}{round}", if read_first { "q" } else { "r" });
        let (state, user) = (&state, &user);
        timed(half, move |i| {
            let who = user(&prefix, i);
            let state = state.clone();
            async move {
                let old = if read_first {
                    match state.db.balance_and_record(&who, None).await {
                        Ok(read) => read.balance.map(|b| b.balance),
                        Err(_) => return false,
                    }
                } else {
                    None
                };
                let now = Utc::now();
                let new = Won::new(old.map_or(0, |w| w.get()) + 5_000);
                let item = BalanceItem::new(&who, new, now);
                let entry = LedgerItem::new(
                    &who,
                    uuid::Uuid::new_v4(),
                    LedgerKind::Charge,
                    Won::new(5_000),
                    new,
                    now,
                );
                state
                    .db
                    .move_balance(old, &item, &entry, None)
                    .await
                    .is_ok()
            }
        })
    };
    let (f1, r1, q1) = (
        charge_flow("a").await,
        charge_tx("a", false).await,
        charge_tx("a", true).await,
    );
    let (q2, r2, f2) = (
        charge_tx("b", true).await,
        charge_tx("b", false).await,
        charge_flow("b").await,
    );
    line(
        "charge",
        best(f1, f2),
        best(r1, r2),
        Some(best(q1, q2)),
        half,
    );

    // Payments: each payer holds a seat and has a balance first (not timed).
    let m = half.div_ceil(2);
    let setup = |prefix: String| {
        let offset = take_seats(m);
        let state = state.clone();
        let concert = concert.clone();
        let charge = charge.clone();
        let (seat_at, user) = (&seat_at, &user);
        async move {
            let mut out = Vec::new();
            for chunk in (0..m).collect::<Vec<_>>().chunks(CONCURRENCY) {
                let made = futures::future::join_all(chunk.iter().map(|&i| {
                    let who = user(&prefix, i);
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
                                seats: vec![seat],
                            },
                            None,
                        )
                        .await
                        .ok()?;
                        // The payment's bare transaction needs the stored item (not timed).
                        let r = state.db.get_reservation(&r.reservation_id).await.ok()??;
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
    let pay_flow = |round: &'static str| {
        let setup = &setup;
        let state = &state;
        async move {
            let payers = setup(format!("pf{round}")).await;
            let run = timed(payers.len(), |i| {
                let (who, r, token) = payers[i].clone();
                let state = state.clone();
                async move {
                    let req = PayRequest {
                        user_id: who,
                        reservation_id: r.reservation_id,
                    };
                    let payer = payments::Payer {
                        token: &token,
                        concert: &r.concert_id,
                    };
                    payments::pay(&state, payer, &req, None).await.is_ok()
                }
            })
            .await;
            (run, payers.len())
        }
    };
    // The bare transaction; `read_first`: after the payment's BatchGetItem, issued raw.
    let pay_tx = |round: &'static str, read_first: bool| {
        let setup = &setup;
        let state = &state;
        async move {
            let kind = if read_first { "pq" } else { "pr" };
            let payers = setup(format!("{kind}{round}")).await;
            let run = timed(payers.len(), |i| {
                let (who, r, _) = payers[i].clone();
                let state = state.clone();
                async move {
                    let (r, old) = if read_first {
                        match state.db.payment_read(&r.reservation_id, &who, None).await {
                            Ok(read) => match read.reservation {
                                Some(r) => (r, read.balance.map_or(Won::ZERO, |b| b.balance)),
                                None => return false,
                            },
                            Err(_) => return false,
                        }
                    } else {
                        (r, Won::new(5_000))
                    };
                    let now = Utc::now();
                    let left = Won::new(old.get() - r.price.get());
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
                        old,
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
                        .is_ok_and(|o| matches!(o, PaymentOutcome::Committed))
                }
            })
            .await;
            (run, payers.len())
        }
    };
    let (f1, r1, q1) = (
        pay_flow("a").await,
        pay_tx("a", false).await,
        pay_tx("a", true).await,
    );
    let (q2, r2, f2) = (
        pay_tx("b", true).await,
        pay_tx("b", false).await,
        pay_flow("b").await,
    );
    let paid = [f1.1, r1.1, q1.1, q2.1, r2.1, f2.1]
        .into_iter()
        .min()
        .unwrap_or(0);
    line(
        "payment",
        best(f1.0, f2.0),
        best(r1.0, r2.0),
        Some(best(q1.0, q2.0)),
        paid,
    );

    // Holds of 4 seats (the default MAX_SEATS_PER_USER), each of its own buyer: four markers,
    // the reservation and the seat count in one transaction. A block of 4 starts at a multiple
    // of 4, so it never spans two dates (500 seats each).
    const K: usize = 4;
    let quarter = half.div_ceil(2);
    let blocks = |n: usize| take_seats(K * (n + 1)).next_multiple_of(K);
    let block = move |first: usize, i: usize| {
        let (date, _) = seat_at(first + K * i);
        let seats: Vec<SeatNo> = (0..K).map(|j| seat_at(first + K * i + j).1).collect();
        (date, seats)
    };
    let multi_flow = |round: &str| {
        let first = blocks(quarter);
        let prefix = format!("mf{round}");
        let (state, concert, user) = (&state, &concert, &user);
        timed(quarter, move |i| {
            let (date, seats) = block(first, i);
            let req = HoldRequest {
                user: user(&prefix, i),
                concert: concert.clone(),
                date,
                seats,
            };
            let state = state.clone();
            async move { holds::hold(&state, req, None).await.is_ok() }
        })
    };
    let multi_raw = |round: &str| {
        let first = blocks(quarter);
        let prefix = format!("mr{round}");
        let (state, concert, user) = (&state, &concert, &user);
        timed(quarter, move |i| {
            let (date, seats) = block(first, i);
            let now = Utc::now();
            let r = ReservationItem::held_seats(
                ReservationId::generate(),
                &user(&prefix, i),
                concert,
                date,
                &seats,
                Won::new(1_000 * K as u64),
                now + chrono::Duration::seconds(300),
                now,
            );
            let state = state.clone();
            async move {
                let markers = HoldItem::markers(&r);
                let write = HoldWrite {
                    markers: &markers,
                    reservation: &r,
                    limit: state.settings.max_seats_per_user,
                    lock_at: None,
                    record: None,
                };
                matches!(
                    state.db.hold_seats(&write, now.timestamp_millis()).await,
                    Ok(HoldOutcome::Held)
                )
            }
        })
    };
    let (f1, r1) = (multi_flow("a").await, multi_raw("a").await);
    let (r2, f2) = (multi_raw("b").await, multi_flow("b").await);
    line(
        &format!("hold of {K} seats"),
        best(f1, f2),
        best(r1, r2),
        None,
        quarter,
    );

    // Releases by the holder: each buyer holds a seat first (not timed). The flow reads the
    // reservation (GetItem) before its transaction.
    let prepare = |prefix: String, paid: bool| {
        let first = take_seats(quarter);
        let (state, concert, charge, seat_at, user) = (&state, &concert, &charge, &seat_at, &user);
        async move {
            let mut out = Vec::new();
            for chunk in (0..quarter).collect::<Vec<_>>().chunks(CONCURRENCY) {
                let made = futures::future::join_all(chunk.iter().map(|&i| {
                    let who = user(&prefix, i);
                    let (date, seat) = seat_at(first + i);
                    let (state, concert, charge) = (state.clone(), concert.clone(), charge.clone());
                    async move {
                        let req = HoldRequest {
                            user: who.clone(),
                            concert: concert.clone(),
                            date,
                            seats: vec![seat],
                        };
                        let r = holds::hold(&state, req, None).await.ok()?;
                        if paid {
                            balance::charge(&state, &who, &charge, None).await.ok()?;
                            let token = issue(&state, &who, &concert).await.ok()?;
                            let req = PayRequest {
                                user_id: who.clone(),
                                reservation_id: r.reservation_id,
                            };
                            let payer = payments::Payer {
                                token: &token,
                                concert: &concert,
                            };
                            payments::pay(&state, payer, &req, None).await.ok()?;
                        }
                        let r = state.db.get_reservation(&r.reservation_id).await.ok()??;
                        Some((who, r))
                    }
                }))
                .await;
                out.extend(made.into_iter().flatten());
            }
            out
        }
    };
    let release = |round: &'static str, how: Raw| {
        let (prepare, state) = (&prepare, &state);
        async move {
            let held = prepare(format!("l{how:?}{round}"), false).await;
            let run = timed(held.len(), |i| {
                let (who, r) = held[i].clone();
                let state = state.clone();
                async move {
                    match how {
                        Raw::Flow => holds::release_by_holder(&state, &who, &r.reservation_id)
                            .await
                            .is_ok(),
                        Raw::Tx | Raw::ReadTx => {
                            let r = if how == Raw::ReadTx {
                                match state.db.get_reservation(&r.reservation_id).await {
                                    Ok(Some(r)) => r,
                                    _ => return false,
                                }
                            } else {
                                r
                            };
                            matches!(
                                state
                                    .db
                                    .release_by_holder(&HoldRef::from(&r), Utc::now())
                                    .await,
                                Ok(HolderReleaseOutcome::Released)
                            )
                        }
                    }
                }
            })
            .await;
            (run, held.len())
        }
    };
    let (f1, r1, q1) = (
        release("a", Raw::Flow).await,
        release("a", Raw::Tx).await,
        release("a", Raw::ReadTx).await,
    );
    let (q2, r2, f2) = (
        release("b", Raw::ReadTx).await,
        release("b", Raw::Tx).await,
        release("b", Raw::Flow).await,
    );
    let n = [f1.1, r1.1, q1.1, q2.1, r2.1, f2.1]
        .into_iter()
        .min()
        .unwrap_or(0);
    line(
        "release by the holder",
        best(f1.0, f2.0),
        best(r1.0, r2.0),
        Some(best(q1.0, q2.0)),
        n,
    );

    // Refunds: each buyer holds, is charged and pays first (not timed), on dates at least a
    // day ahead (past the first 500 seats), so within the refund window. The flow reads
    // (BatchGetItem) before its transaction; the bare one credits the balance the payment
    // left (5,000 - 1,000).
    next_seat.set(next_seat.get().max(usize::from(seats_per_date)));
    let refund = |round: &'static str, how: Raw| {
        let (prepare, state) = (&prepare, &state);
        async move {
            let paid = prepare(format!("r{how:?}{round}"), true).await;
            let run = timed(paid.len(), |i| {
                let (who, r) = paid[i].clone();
                let state = state.clone();
                async move {
                    if how == Raw::Flow {
                        return refunds::refund(&state, &who, &r.reservation_id, None)
                            .await
                            .is_ok();
                    }
                    let (r, old) = if how == Raw::ReadTx {
                        match state.db.refund_read(&r.reservation_id, &who, None).await {
                            Ok(read) => match read.reservation {
                                Some(r) => (r, read.balance.map(|b| b.balance)),
                                None => return false,
                            },
                            Err(_) => return false,
                        }
                    } else {
                        (r, Some(Won::new(4_000)))
                    };
                    let now = Utc::now();
                    let new = Won::new(old.map_or(0, |w| w.get()) + r.price.get());
                    let balance = BalanceItem::new(&who, new, now);
                    let entry = LedgerItem::new(
                        &who,
                        *PaymentId::of(&r.reservation_id).as_uuid(),
                        LedgerKind::Refund,
                        r.price,
                        new,
                        now,
                    );
                    let write = RefundWrite {
                        old,
                        balance: &balance,
                        entry: &entry,
                        reservation: &r,
                        record: None,
                    };
                    matches!(
                        state.db.commit_refund(&write, now).await,
                        Ok(RefundOutcome::Committed)
                    )
                }
            })
            .await;
            (run, paid.len())
        }
    };
    let (f1, r1, q1) = (
        refund("a", Raw::Flow).await,
        refund("a", Raw::Tx).await,
        refund("a", Raw::ReadTx).await,
    );
    let (q2, r2, f2) = (
        refund("b", Raw::ReadTx).await,
        refund("b", Raw::Tx).await,
        refund("b", Raw::Flow).await,
    );
    let n = [f1.1, r1.1, q1.1, q2.1, r2.1, f2.1]
        .into_iter()
        .min()
        .unwrap_or(0);
    line(
        "refund",
        best(f1.0, f2.0),
        best(r1.0, r2.0),
        Some(best(q1.0, q2.0)),
        n,
    );
    println!();

    // The date of 2,000 seats all held takes 2,000 holds to set up (a third of the default
    // run's time): only the long run (`make bench-full`, SCALE 1,000) measures it.
    let full = scale >= 1_000;
    crate::seatmap::measure(&state, &run, full).await?;
    crate::door::measure(&state, &counter, &run).await?;
    // The race on 50 seats: 1,000 attempts show exactly 50 winners as well as 10,000 do; the
    // long run keeps its 10 x SCALE.
    storm(&state, &run, if full { 10 * scale } else { 1_000 }).await
}

/// How a timed write is issued: the flow, its transaction alone, or its read then its
/// transaction, raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Raw {
    Flow,
    Tx,
    ReadTx,
}

const STORM_SEATS: u16 = 50;
const STORM_CONCURRENCY: usize = 128;

/// `attempts` hold attempts (10 x the scale: 10,000 at 1,000), by as many users, on the 50 seats
/// of one date, through the hold flow at concurrency 128: exactly 50 must win, one per seat,
/// and the seat map must show each seat HELD by its winner's reservation.
async fn storm(state: &Arc<AppState>, run: &str, attempts: usize) -> anyhow::Result<()> {
    let concert = id(ConcertId::parse(&format!("storm-{run}")));
    let date = ConcertDate::from_naive(ConcertDate::today_utc().naive() + chrono::Days::new(1));
    shared::flows::catalog::seed(&state.db, &concert, &[date], STORM_SEATS, Won::new(1_000))
        .await?;
    let winners = std::sync::Mutex::new(Vec::new());
    let refused = AtomicUsize::new(0);
    let others = std::sync::Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    let start = Instant::now();
    stream::iter(0..attempts)
        .for_each_concurrent(STORM_CONCURRENCY, |i| {
            let (winners, refused, others) = (&winners, &refused, &others);
            let seat = id(SeatNo::new((i % usize::from(STORM_SEATS) + 1) as i64));
            let req = HoldRequest {
                user: id(UserId::parse(&format!("storm-{run}-{i}"))),
                concert: concert.clone(),
                date,
                seats: vec![seat],
            };
            async move {
                match holds::hold(state, req, None).await {
                    Ok(r) => winners
                        .lock()
                        .expect("winners lock")
                        .push((seat.get(), r.reservation_id)),
                    Err(shared::ApiError::SeatUnavailable(_)) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        *others
                            .lock()
                            .expect("others lock")
                            .entry(e.problem().code.to_string())
                            .or_default() += 1
                    }
                }
            }
        })
        .await;
    let secs = start.elapsed().as_secs_f64();
    let winners = winners.into_inner()?;
    let others = others.into_inner()?;

    // What the table says: every seat HELD by the reservation its winner was answered.
    let held: std::collections::BTreeMap<u16, ReservationId> = state
        .db
        .date_holds(&concert, &date)
        .await?
        .iter()
        .map(|h| (h.seat_no.get(), h.reservation_id))
        .collect();
    let answered: std::collections::BTreeMap<u16, ReservationId> =
        winners.iter().copied().collect();
    let exact = winners.len() == usize::from(STORM_SEATS)
        && answered.len() == winners.len()
        && held == answered;

    println!(
        "## {attempts} hold attempts on {STORM_SEATS} seats, concurrency {STORM_CONCURRENCY}\n"
    );
    println!("| attempts | won | SEAT_UNAVAILABLE | other answers | rate | seat map agrees | exactly {STORM_SEATS} winners |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {attempts} | {} | {} | {} | {:.0}/s | {} | {} |",
        winners.len(),
        refused.load(Ordering::Relaxed),
        if others.is_empty() {
            "none".to_owned()
        } else {
            format!("{others:?}")
        },
        attempts as f64 / secs,
        if held == answered { "yes" } else { "NO" },
        if exact { "met" } else { "MISSED" }
    );
    if exact {
        Ok(())
    } else {
        anyhow::bail!(
            "{} holds won for {STORM_SEATS} seats ({} seats held in the table)",
            winners.len(),
            held.len()
        )
    }
}

async fn issue(state: &AppState, who: &UserId, concert: &ConcertId) -> anyhow::Result<QueueToken> {
    match shared::flows::queue::issue(state, who, concert).await? {
        Issued::New(s) | Issued::Existing(s) => Ok(s.token),
    }
}

fn uuid_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}
