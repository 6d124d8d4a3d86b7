//! `load bench`'s door section: the round trips of a buyer's list, a reservation's tickets and
//! a check-in; a check-in's latency one at a time next to a hold's, on the same stores; and the
//! check-in flow's throughput next to its bare conditional write.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use shared::counting::Counter;
use shared::domain::paging::PageLimit;
use shared::domain::tickets::{Ticket, TicketId};
use shared::domain::{ConcertDate, ConcertId, SeatNo, UserId, Won};
use shared::flows::balance::{self, ChargeRequest};
use shared::flows::holds::{self, HoldRequest};
use shared::flows::payments::{self, PayRequest};
use shared::flows::{listing, tickets};
use shared::store::scripts::Issued;
use shared::AppState;

const CONCURRENCY: usize = 32;
/// Operations timed one at a time, for each latency row.
const SERIAL: usize = 200;

fn id<T>(r: Result<T, shared::domain::Invalid>) -> T {
    r.expect("bench ids are valid")
}

/// Percentiles of `samples` (sorted here), in milliseconds.
fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |p: f64| {
        let i = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1000.0
    };
    format!("{:.2} | {:.2} | {:.2}", at(0.5), at(0.9), at(0.99))
}

/// Seats sold, one per buyer, of `date` from seat `first` on: each buyer and ticket (not
/// timed), in no particular order.
async fn sold(
    state: &Arc<AppState>,
    concert: &ConcertId,
    date: ConcertDate,
    first: usize,
    n: usize,
    run: &str,
) -> anyhow::Result<Vec<(UserId, Ticket)>> {
    let made = stream::iter(0..n)
        .map(|i| {
            let state = state.clone();
            let concert = concert.clone();
            let who = id(UserId::parse(&format!("door-{run}-{}", first + i)));
            async move {
                let seat = id(SeatNo::new((first + i + 1) as i64));
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
                .await?;
                let charge = ChargeRequest {
                    amount: id(shared::domain::Amount::new(1_000)),
                };
                balance::charge(&state, &who, &charge, None).await?;
                let token = match shared::flows::queue::issue(&state, &who, &concert).await? {
                    Issued::New(s) | Issued::Existing(s) => s.token,
                };
                let payer = payments::Payer {
                    token: &token,
                    concert: &concert,
                };
                let pay = PayRequest {
                    user_id: who.clone(),
                    reservation_id: r.reservation_id,
                };
                payments::pay(&state, payer, &pay, None).await?;
                let ticket = Ticket {
                    id: TicketId {
                        reservation: r.reservation_id,
                        seat,
                    },
                    concert,
                    date,
                };
                Ok::<_, shared::ApiError>((who, ticket))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    Ok(made.into_iter().collect::<Result<Vec<_>, _>>()?)
}

pub async fn measure(state: &Arc<AppState>, counter: &Counter, run: &str) -> anyhow::Result<()> {
    let keys = tickets::keys(state)?;
    let concert = id(ConcertId::parse(&format!("door-{run}")));
    let date = ConcertDate::from_naive(ConcertDate::today_utc().naive() + chrono::Days::new(3));
    // Two probes, SERIAL holds, SERIAL seats scanned one at a time, and two rounds of n.
    let n = 4 * CONCURRENCY * 4;
    let seats = 2 + 2 * SERIAL + 2 * n;
    shared::flows::catalog::seed(&state.db, &concert, &[date], seats as u16, Won::new(1_000))
        .await?;
    shared::flows::seats::catalog(state, &concert, &date, false).await?;

    // ---- round trips
    let probe = sold(state, &concert, date, 0, 2, run).await?;
    let (buyer, ticket) = &probe[0];
    counter.take();
    listing::list(state, buyer, PageLimit::DEFAULT, None).await?;
    let list = counter.take().join(" + ");
    let issued = tickets::tickets(state, buyer, &ticket.id.reservation).await?;
    let read = counter.take().join(" + ");
    let code = &issued[0].code;
    tickets::check_in(state, code).await?;
    let first = counter.take().join(" + ");
    let again = tickets::check_in(state, code).await.is_err();
    let second = counter.take().join(" + ");
    let mut forged = code.clone();
    forged.pop();
    forged.push(if code.ends_with('A') { 'Q' } else { 'A' });
    let invalid = tickets::check_in(state, &forged).await.is_err();
    let none = counter.take();
    anyhow::ensure!(
        again && invalid,
        "a second scan and a forged code are refused"
    );
    println!("## The door: round trips, and a check-in next to a hold\n");
    println!("| operation | requests |\n| --- | --- |");
    println!("| a buyer's list (a page) | {list} |");
    println!("| a reservation's tickets (date known) | {read} |");
    println!("| check-in (date known) | {first} |");
    println!("| check-in, second scan | {second} |");
    println!(
        "| check-in, a forged code | {} |",
        if none.is_empty() {
            "none".to_owned()
        } else {
            none.join(" + ")
        }
    );
    println!(
        "\nA code of this concert ({} characters of concert ID) is {} characters.\n",
        concert.as_str().len(),
        code.len()
    );

    // ---- one at a time: a hold and a check-in, on the same stores
    let mut hold_times = Vec::with_capacity(SERIAL);
    for i in 0..SERIAL {
        let req = HoldRequest {
            user: id(UserId::parse(&format!("door-h-{run}-{i}"))),
            concert: concert.clone(),
            date,
            seats: vec![id(SeatNo::new((2 + i + 1) as i64))],
        };
        let start = Instant::now();
        holds::hold(state, req, None).await?;
        hold_times.push(start.elapsed());
    }
    let to_scan = sold(state, &concert, date, 2 + SERIAL, SERIAL, run).await?;
    let codes: Vec<String> = to_scan.iter().map(|(_, t)| keys.sign(t)).collect();
    let mut scan_times = Vec::with_capacity(SERIAL);
    for code in &codes {
        let start = Instant::now();
        tickets::check_in(state, code).await?;
        scan_times.push(start.elapsed());
    }
    println!(
        "| one at a time ({SERIAL} each) | p50 ms | p90 ms | p99 ms |\n| --- | --- | --- | --- |"
    );
    println!("| hold (1 seat) | {} |", percentiles(hold_times));
    println!("| check-in | {} |\n", percentiles(scan_times));

    // ---- throughput: the flow and its bare conditional write, at equal concurrency
    let flow_tickets = sold(state, &concert, date, 2 + 2 * SERIAL, n, run).await?;
    let raw_tickets = sold(state, &concert, date, 2 + 2 * SERIAL + n, n, run).await?;
    let rate = |ok: &AtomicUsize, secs: f64| (n as f64 / secs, ok.load(Ordering::Relaxed));
    let ok = AtomicUsize::new(0);
    let start = Instant::now();
    stream::iter(flow_tickets.iter().map(|(_, t)| keys.sign(t)))
        .for_each_concurrent(CONCURRENCY, |code| {
            let ok = &ok;
            async move {
                if tickets::check_in(state, &code).await.is_ok() {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .await;
    let flow = rate(&ok, start.elapsed().as_secs_f64());
    let ok = AtomicUsize::new(0);
    let start = Instant::now();
    stream::iter(raw_tickets.iter().map(|(_, t)| t))
        .for_each_concurrent(CONCURRENCY, |t| {
            let ok = &ok;
            async move {
                let done = state
                    .db
                    .check_in(t, chrono::Utc::now(), uuid::Uuid::new_v4())
                    .await;
                if matches!(
                    done,
                    Ok(shared::store::tickets::CheckInOutcome::CheckedIn { .. })
                ) {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .await;
    let raw = rate(&ok, start.elapsed().as_secs_f64());
    println!(
        "| concurrency {CONCURRENCY} | flow | its UpdateItem alone | ratio |\n| --- | --- | --- | --- |"
    );
    println!(
        "| check-in | {:.0}/s ({}/{n} ok) | {:.0}/s ({}/{n} ok) | {:.2} |\n",
        flow.0,
        flow.1,
        raw.0,
        raw.1,
        flow.0 / raw.0
    );
    anyhow::ensure!(flow.1 == n && raw.1 == n, "every seat sold is let in once");
    Ok(())
}
