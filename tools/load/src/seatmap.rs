//! `load bench`'s seat-map section: what one seat map costs at 50 and 2,000 seats, empty and
//! with every seat held: the read units of a rebuild from DynamoDB (the date item and its
//! markers, strongly consistent), the latency of a rebuild and of a cached read, and the size
//! of the answer.
//!
//! Read units are DynamoDB's rule applied to the items read (a strongly consistent read costs
//! one unit per 4 KB, a Query summed over its items before rounding), since DynamoDB Local
//! does not meter them; a Query's rounding is per page, and a page here stays under 1 MB.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use futures::stream::{self, StreamExt};
use shared::domain::{ConcertDate, ConcertId, ReservationId, SeatNo, UserId, Won};
use shared::store::dynamo::to_item;
use shared::store::items::{DateItem, HoldItem, ReservationItem};
use shared::AppState;

/// DynamoDB's size of an attribute value (names are counted by the caller).
fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        _ => 0,
    }
}

fn item_size(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn units(bytes: usize) -> usize {
    bytes.div_ceil(4096).max(1)
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i].as_secs_f64() * 1000.0
}

/// Every date empty and all held, at 50 seats and at 2,000; without `full`, the 2,000 all
/// held is left out (setting it up is 2,000 holds).
pub async fn measure(state: &Arc<AppState>, run: &str, full: bool) -> anyhow::Result<()> {
    println!("## The seat map at 50 and 2,000 seats\n");
    println!("A rebuild reads the date item and the date's markers (strongly consistent); every hold, payment and release of the date invalidates the cached map, and one reader rebuilds it while the others wait for it.\n");
    println!("| seats | held | read units per rebuild | rebuild p50 (ms) | cached read p50 / p99 (ms) | answer (KB) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for seats in [50u16, 2_000] {
        let concert =
            ConcertId::parse(&format!("map-{seats}-{run}")).map_err(|e| anyhow::anyhow!("{e}"))?;
        let date = ConcertDate::from_naive(ConcertDate::today_utc().naive() + chrono::Days::new(2));
        shared::flows::catalog::seed(&state.db, &concert, &[date], seats, Won::new(1_000)).await?;
        for held in [0, seats] {
            if held == 2_000 && !full {
                println!("| 2000 | 2000 | (`make bench-full`) | | | |");
                continue;
            }
            if held > 0 {
                hold_all(state, &concert, date, seats).await?;
            }
            let date_item = state
                .db
                .date(&concert, &date)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the date was seeded"))?;
            let marker_bytes: usize = state
                .db
                .date_holds(&concert, &date)
                .await?
                .iter()
                .map(|h| to_item(h).map(|i| item_size(&i)).unwrap_or(0))
                .sum();
            let rcu = units(item_size(&to_item::<DateItem>(&date_item)?)) + units(marker_bytes);
            let mut rebuilds = Vec::new();
            for _ in 0..20 {
                shared::flows::seats::invalidate(state, &concert, &[date]).await;
                let start = Instant::now();
                shared::flows::seats::seat_map(state, &concert, &date).await?;
                rebuilds.push(start.elapsed());
            }
            let mut hits = Vec::new();
            let mut bytes = 0;
            for _ in 0..300 {
                let start = Instant::now();
                let map = shared::flows::seats::seat_map(state, &concert, &date).await?;
                hits.push(start.elapsed());
                let view = shared::http::views::SeatsView::new(concert.clone(), date, &map);
                bytes = serde_json::to_string(&view)?.len();
            }
            println!(
                "| {seats} | {held} | {rcu} | {:.2} | {:.2} / {:.2} | {:.1} |",
                percentile(&mut rebuilds, 0.5),
                percentile(&mut hits, 0.5),
                percentile(&mut hits, 0.99),
                bytes as f64 / 1024.0
            );
        }
    }
    println!();
    Ok(())
}

/// Every seat of the date held, through the hold's own transaction.
async fn hold_all(
    state: &Arc<AppState>,
    concert: &ConcertId,
    date: ConcertDate,
    seats: u16,
) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<()>> = stream::iter(1..=seats)
        .map(|n| {
            let state = state.clone();
            let concert = concert.clone();
            async move {
                let now = chrono::Utc::now();
                let user =
                    UserId::parse(&format!("map-{n}")).map_err(|e| anyhow::anyhow!("{e}"))?;
                let seat = SeatNo::new(i64::from(n)).map_err(|e| anyhow::anyhow!("{e}"))?;
                let r = ReservationItem::held(
                    ReservationId::generate(),
                    &user,
                    &concert,
                    date,
                    seat,
                    Won::new(1_000),
                    now + chrono::Duration::seconds(600),
                    now,
                );
                state
                    .db
                    .put_hold(&HoldItem::held(&r), &r, now.timestamp_millis(), None)
                    .await?;
                Ok(())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    shared::flows::seats::invalidate(state, concert, &[date]).await;
    Ok(())
}
