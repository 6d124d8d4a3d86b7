//! The opening of a pre-queue of a million, on a second concert's line.

use std::time::{Duration, Instant};

use anyhow::bail;
use redis::Value;
use shared::domain::queue::LineControls;
use shared::domain::token::TokenId;
use shared::domain::ConcertId;
use shared::store::scripts::LineKeys;

use super::{Line, ACTIVE_LIMIT, FIRST_POLLS, POLLS, PRE_QUEUE};

/// The opening of a pre-queue, measured.
pub struct Opening {
    pub fill: Duration,
    pub join_us: f64,
    /// Redis's µs for each of the first polls after the opening.
    pub first: Vec<f64>,
    pub after_us: f64,
    pub max_script_ms: f64,
    pub over_5ms: usize,
}

/// A second concert's line: [`PRE_QUEUE`] join before its opening (each a random place), then
/// the opening passes on Redis's clock, as it would at an on-sale, and the first polls find it.
pub async fn opening(base: &Line) -> anyhow::Result<Opening> {
    let concert = ConcertId::parse("opening").expect("a concert ID");
    let line = Line {
        keys: LineKeys::new("scale", &concert).0.to_vec(),
        concert,
        ..base.clone()
    };
    let controls = LineControls {
        version: 1,
        opens_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        ..LineControls::default()
    };
    line.mirror(&controls).await?;
    line.command(&["SLOWLOG", "RESET"]).await?;
    line.command(&["CONFIG", "RESETSTAT"]).await?;
    let ids: Vec<TokenId> = (0..PRE_QUEUE).map(|_| TokenId::generate()).collect();
    let cmds = ids
        .iter()
        .enumerate()
        .map(|(i, id)| line.issue(&format!("early-{i}"), id))
        .collect();
    let t = Instant::now();
    line.run(cmds).await?;
    let fill = t.elapsed();
    let join_us = line.usec_per_call().await?;

    // The opening moves to a second from now (as a PUT would), and passes on Redis's clock.
    let opens = chrono::Utc::now() + chrono::Duration::seconds(1);
    line.mirror(&LineControls {
        version: 2,
        opens_at: Some(opens),
        ..controls
    })
    .await?;
    let left = (opens - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(100)).await;
    let mut first = Vec::new();
    for i in 0..FIRST_POLLS {
        line.command(&["CONFIG", "RESETSTAT"]).await?;
        let reply = line
            .run(vec![line.poll(&ids[i * 7919 % PRE_QUEUE], ACTIVE_LIMIT)])
            .await?;
        if !matches!(&reply, Some(Value::Array(v)) if v.len() == 10) {
            bail!("a poll after the opening answered {reply:?}");
        }
        first.push(line.usec_per_call().await?);
    }
    line.command(&["CONFIG", "RESETSTAT"]).await?;
    let cmds = (0..POLLS)
        .map(|i| line.poll(&ids[(i * 104_729) % PRE_QUEUE], ACTIVE_LIMIT))
        .collect();
    line.run(cmds).await?;
    let after_us = line.usec_per_call().await?;

    let slow: Vec<i64> = match line.command(&["SLOWLOG", "GET", "1024"]).await? {
        Value::Array(entries) => entries
            .iter()
            .filter_map(|e| match e {
                Value::Array(f) => match (f.get(2), f.get(3)) {
                    (Some(Value::Int(us)), Some(Value::Array(argv)))
                        if matches!(argv.first(), Some(Value::BulkString(c)) if c.eq_ignore_ascii_case(b"EVALSHA")) =>
                    {
                        Some(*us)
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Opening {
        fill,
        join_us,
        first,
        after_us,
        max_script_ms: slow.iter().copied().max().unwrap_or(0) as f64 / 1000.0,
        over_5ms: slow.iter().filter(|&&us| us > 5_000).count(),
    })
}
