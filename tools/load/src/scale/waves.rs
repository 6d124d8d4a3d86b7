//! The largest wave: a crowd joins one concert's line within one minute; in each second of the
//! next ten minutes (and twenty: the crowd told the longest hint, 900 s at the defaults, comes
//! back after ten), how many polls do their hints ask for? With the hints' jitter, and
//! without. A simulation by the model of the hints (`domain::queue::Pacing`, which the line's
//! scripts follow operation for operation), not by Redis, which cannot be told the time.
//!
//! The line: the first `limit` join straight into a place, and each place frees after 60 to
//! 300 s (uniform: a buyer's stay) and goes to the longest waiting, as docs/capacity.md
//! models an on-sale. Every client polls exactly when told, and its poll's answer tells it
//! when to come next, until it is admitted.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use shared::domain::queue::{line_bucket, Pacing, ADMISSION_WINDOW_MS, JITTER_DRAWS};

/// The crowd joins within this many seconds, evenly.
pub const JOIN_SECONDS: f64 = 60.0;

/// The second of the window that asked for the most polls, and how many.
#[derive(Debug, Clone, Copy)]
pub struct Wave {
    pub polls: u64,
    pub second: usize,
}

/// Admission instants (s): the first `limit` as they join, then each freed place in turn.
fn admissions(users: u64, limit: u64, window: usize, rng: &mut impl Rng) -> Vec<f64> {
    let join = |i: u64| JOIN_SECONDS * i as f64 / users as f64;
    let mut adm: Vec<f64> = (0..limit.min(users)).map(join).collect();
    // When each place frees, earliest first.
    let mut frees: Vec<f64> = adm
        .iter()
        .map(|t| t + rng.random_range(60.0..300.0))
        .collect();
    while (adm.len() as u64) < users {
        let (at, slot) = frees
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, i))
            .fold((f64::INFINITY, 0), |a, b| if b.0 < a.0 { b } else { a });
        if at > window as f64 {
            break;
        }
        let t = at.max(join(adm.len() as u64));
        adm.push(t);
        frees[slot] = t + rng.random_range(60.0..300.0);
    }
    adm
}

/// How many of `adm` are at or before `t`.
fn count(adm: &[f64], t: f64) -> u64 {
    adm.partition_point(|a| *a <= t) as u64
}

/// The most polls in one second of the first `window` seconds for `users` joining within a
/// minute a concert of `limit` places, each hint spread by the jitter or not.
pub fn largest(
    p: &Pacing,
    slowest: f64,
    users: u64,
    limit: u64,
    jitter: bool,
    window: usize,
) -> Wave {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let adm = admissions(users, limit, window, &mut rng);
    let window_s = ADMISSION_WINDOW_MS as f64 / 1000.0;
    let mut paces: HashMap<(u64, u64), f64> = HashMap::new();
    let mut per_second = vec![0u64; window];
    for i in 0..users {
        let admitted_at = adm.get(i as usize).copied().unwrap_or(f64::INFINITY);
        let mut t = JOIN_SECONDS * i as f64 / users as f64;
        if admitted_at <= t {
            continue;
        }
        loop {
            // The line as the call at `t` sees it.
            let admitted = count(&adm, t);
            let joined = ((t / JOIN_SECONDS * users as f64).floor() as u64 + 1).min(users);
            let line = joined.saturating_sub(admitted).max(1);
            let position = i + 1 - admitted;
            let recent = admitted - count(&adm, t - window_s);
            let r = Pacing::rate(recent, slowest);
            let bucket = line_bucket(line.max(position));
            let k = *paces
                .entry((bucket, r.to_bits()))
                .or_insert_with(|| p.pace(bucket, r));
            let mut h = p.paced_hint(position, r, k);
            if jitter {
                h = Pacing::jittered(h, rng.random_range(0..JITTER_DRAWS));
            }
            t += h as f64;
            if t >= window as f64 {
                break;
            }
            per_second[t as usize] += 1;
            if t >= admitted_at {
                break;
            }
        }
    }
    let (second, polls) = per_second
        .iter()
        .enumerate()
        .max_by_key(|(_, n)| **n)
        .map(|(s, n)| (s, *n))
        .unwrap_or((0, 0));
    Wave { polls, second }
}
