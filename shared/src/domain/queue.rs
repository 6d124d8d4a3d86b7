//! The waiting room's rules that do not need Redis: what a token's state means to a client,
//! how long a wait is estimated to be, and when to poll next ([`Pacing`]).

use chrono::{DateTime, Utc};

use super::ids::{ConcertId, QueueToken, UserId};

/// Admissions are counted over this sliding window to measure the admission rate.
pub const ADMISSION_WINDOW_MS: u64 = 60_000;

/// A concert's line controls, as the operator set them on the concert (and the line mirrors
/// them): `version` is the concert's revision they were read at, so an older copy never
/// replaces a newer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineControls {
    pub version: u64,
    /// None: `QUEUE_ACTIVE_LIMIT`.
    pub active_limit: Option<u32>,
    /// Nobody is admitted while paused; ACTIVE tokens keep working.
    pub paused: bool,
    /// Joins before it form the pre-queue, put in line in a random order at it.
    pub opens_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// In line before the opening: no position yet (the pre-queue's order is random).
    PreQueue {
        /// How many wait in this line, this token included.
        line: u64,
    },
    /// In line; `position` 1 is the next to be admitted.
    Waiting {
        position: u64,
        /// Admissions in the last [`ADMISSION_WINDOW_MS`].
        recent_admissions: u64,
        /// How many wait in this line, this token included.
        line: u64,
    },
    Active {
        until: DateTime<Utc>,
    },
}

/// A live token as the queue sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStatus {
    pub token: QueueToken,
    pub user_id: UserId,
    pub concert_id: ConcertId,
    pub standing: Standing,
    /// `pollAfterSeconds` while WAITING: the line's script's hint ([`Pacing`] is its model).
    pub poll_after_seconds: Option<u64>,
    /// The concert's opening while it is still ahead.
    pub opens_at: Option<DateTime<Utc>>,
}

impl TokenStatus {
    pub fn is_active(&self) -> bool {
        matches!(self.standing, Standing::Active { .. })
    }

    /// 0 once ACTIVE; none before the opening.
    pub fn position(&self) -> Option<u64> {
        match self.standing {
            Standing::Waiting { position, .. } => Some(position),
            Standing::Active { .. } => Some(0),
            Standing::PreQueue { .. } => None,
        }
    }

    /// From the measured admission rate: the time for `position` admissions at the rate of the
    /// last minute. Unknown (None) while nobody has been admitted in that window; 0 once ACTIVE.
    pub fn estimated_wait_seconds(&self) -> Option<u64> {
        match self.standing {
            Standing::Active { .. } => Some(0),
            Standing::PreQueue { .. } => None,
            Standing::Waiting {
                position,
                recent_admissions,
                ..
            } => {
                if recent_admissions == 0 {
                    return None;
                }
                let window_s = ADMISSION_WINDOW_MS / 1000;
                Some((position * window_s).div_ceil(recent_admissions))
            }
        }
    }

    pub fn active_until(&self) -> Option<DateTime<Utc>> {
        match self.standing {
            Standing::Active { until } => Some(until),
            Standing::Waiting { .. } | Standing::PreQueue { .. } => None,
        }
    }
}

/// A token expected in within this many seconds is at the head...
pub const HEAD_SECONDS: f64 = 10.0;
/// ...and polls this often.
pub const HEAD_POLL_SECONDS: u64 = 2;
/// Never slower than a tenth of one's expected wait: the wait shown stays fresh, and a token
/// admitted earlier than expected hears of it within a tenth of its wait.
const SLOWEST_SHARE: f64 = 0.1;
/// Hints are spread down by up to this share, so a crowd that joined in one instant does not
/// come back as one wave; the pace aims at the budget less this share, so the spread hints
/// still keep to it.
pub const JITTER: f64 = 0.1;
/// The jitter's draw is an integer in `0..JITTER_DRAWS` (from the caller: Lua's own random
/// numbers are seeded differently across Redis versions).
pub const JITTER_DRAWS: u64 = 1 << 20;

/// When a waiting token should poll next (`pollAfterSeconds`).
///
/// A token at `position` expects to wait `w = position / r` seconds, `r` the measured admission
/// rate (admissions in the last minute / 60; while nobody was admitted in that minute, the
/// slowest rate the line can have, the concert's `activeLimit / ACTIVE_TOKEN_TTL_SECONDS`). The
/// head (`w <= 10`) is told 2. Everyone else is told `clamp(ceil(k * w), 2, QUEUE_POLL_MAX_SECONDS)`,
/// where `k` is the line's pace: the smallest value, and at least 0.1, for which the whole line
/// beyond the head, polling as told, asks for at most `QUEUE_POLL_BUDGET × (1 - JITTER)` polls
/// a second. Then each hint is spread down by a random share of up to [`JITTER`]
/// ([`Pacing::jittered`]): never over the maximum, never under 1, the head still 2.
///
/// That sum is bounded from the line's length `n` alone: positions are 1..n, so with the hint
/// `h(w)` non-decreasing it is at most `r * integral(10..n/r) dw / h(w)`, which has a closed form
/// (below); `k` is found by bisection, for `n` rounded up to two significant digits
/// ([`line_bucket`]: the sum grows with `n`, so that `k` keeps every shorter line to the
/// budget too, and the line's script computes it only when the bucket or the rate changes).
/// When even every hint at the maximum asks for more (a line longer than `budget × (1 -
/// JITTER) × max`, 1,620,000 at the defaults), the maximum wins: no hint exceeds it.
///
/// The line's script computes the same, operation for operation (`pacing_lib.lua`: the tests
/// check that both give the same hints); this is its model, for `make scale` and the docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    pub max_seconds: u64,
    pub budget: f64,
}

/// `n` rounded up to two significant digits (n itself under 100): the line length the pace is
/// computed for.
pub fn line_bucket(n: u64) -> u64 {
    if n < 100 {
        return n;
    }
    let mut m = 1;
    while n >= 100 * m {
        m *= 10;
    }
    n.div_ceil(m) * m
}

impl Pacing {
    /// Admissions a second, from the last minute's count, or `slowest` without one.
    pub fn rate(recent_admissions: u64, slowest: f64) -> f64 {
        if recent_admissions == 0 {
            return slowest.max(f64::MIN_POSITIVE);
        }
        recent_admissions as f64 / (ADMISSION_WINDOW_MS as f64 / 1000.0)
    }

    /// What the pace aims the line at: the budget less the jitter's share.
    fn target(&self) -> f64 {
        self.budget * (1.0 - JITTER)
    }

    fn fastest(&self) -> u64 {
        HEAD_POLL_SECONDS.min(self.max_seconds)
    }

    /// The hint, before the jitter, for a token at `position` of a line of `line` waiting,
    /// `recent_admissions` in the last minute and the slowest rate `slowest` (admissions a
    /// second) when there were none.
    pub fn hint(&self, position: u64, line: u64, recent_admissions: u64, slowest: f64) -> u64 {
        let r = Self::rate(recent_admissions, slowest);
        let wait = position as f64 / r;
        let fastest = self.fastest();
        if wait <= HEAD_SECONDS {
            return fastest;
        }
        let k = self.pace(line_bucket(line.max(position)), r);
        self.paced_hint(position, r, k)
    }

    /// The hint, before the jitter, for a token at `position` of a line at rate `r` and pace
    /// `k` (a caller that keeps the pace, as the line's script does, skips the bisection).
    pub fn paced_hint(&self, position: u64, r: f64, k: f64) -> u64 {
        let wait = position as f64 / r;
        let fastest = self.fastest();
        if wait <= HEAD_SECONDS {
            return fastest;
        }
        let h = (k * wait).ceil();
        (h as u64).clamp(fastest, self.max_seconds)
    }

    /// The hint before the opening, where nobody moves: the pre-queue's `line` polls within
    /// the budget less the jitter (`line / target`), within 2 and the maximum.
    pub fn hint_before_opening(&self, line: u64) -> u64 {
        let h = (line as f64 / self.target().max(1.0)).ceil() as u64;
        h.clamp(self.fastest(), self.max_seconds)
    }

    /// `hint` spread down by `draw` (in `0..JITTER_DRAWS`): within [`JITTER`] of it, never
    /// under 1, and 2 stays 2.
    pub fn jittered(hint: u64, draw: u64) -> u64 {
        let share = JITTER * (draw as f64) / (JITTER_DRAWS as f64);
        ((hint as f64) * (1.0 - share)).ceil().max(1.0) as u64
    }

    /// The line's pace `k` (see the type's documentation).
    pub fn pace(&self, line: u64, r: f64) -> f64 {
        let target = self.target();
        // Beyond this, every hint past the head is the maximum.
        let all_max = self.max_seconds as f64 / HEAD_SECONDS;
        if self.polls_per_second(SLOWEST_SHARE, line, r) <= target {
            return SLOWEST_SHARE;
        }
        if self.polls_per_second(all_max, line, r) > target {
            return all_max;
        }
        let (mut lo, mut hi) = (SLOWEST_SHARE, all_max);
        for _ in 0..48 {
            let mid = (lo + hi) / 2.0;
            if self.polls_per_second(mid, line, r) <= target {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }

    /// What a line of `line` waiting at rate `r` asks for beyond the head at pace `k`:
    /// `r * (F(W) - F(10))` with `W = line / r` and `F(x) = integral(0..x) dw / clamp(k w, 2, max)`.
    pub fn polls_per_second(&self, k: f64, line: u64, r: f64) -> f64 {
        let end = line as f64 / r;
        if end <= HEAD_SECONDS {
            return 0.0;
        }
        let max = self.max_seconds as f64;
        let min = (HEAD_POLL_SECONDS as f64).min(max);
        // Below a, the hint is the minimum; above b, the maximum.
        let (a, b) = (min / k, max / k);
        let f = |x: f64| {
            if x <= a {
                x / min
            } else if x <= b {
                a / min + (x / a).ln() / k
            } else {
                a / min + (b / a).ln() / k + (x - b) / max
            }
        };
        r * (f(end) - f(HEAD_SECONDS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn waiting(position: u64, recent_admissions: u64) -> TokenStatus {
        TokenStatus {
            token: QueueToken::parse("t").unwrap(),
            user_id: UserId::parse("u").unwrap(),
            concert_id: ConcertId::parse("c").unwrap(),
            standing: Standing::Waiting {
                position,
                recent_admissions,
                line: position,
            },
            poll_after_seconds: None,
            opens_at: None,
        }
    }

    #[test]
    fn the_wait_is_unknown_until_someone_has_been_admitted() {
        assert_eq!(waiting(5, 0).estimated_wait_seconds(), None);
    }

    #[test]
    fn the_wait_follows_the_admission_rate_of_the_last_minute() {
        // 30 admissions a minute: one every 2 s, so the 10th in line waits 20 s.
        assert_eq!(waiting(10, 30).estimated_wait_seconds(), Some(20));
        // Rounded up: never promise less than the rate says.
        assert_eq!(waiting(1, 7).estimated_wait_seconds(), Some(9));
    }

    /// The defaults: QUEUE_POLL_MAX_SECONDS 900, QUEUE_POLL_BUDGET 2,000; a concert of
    /// activeLimit 100 with ACTIVE_TOKEN_TTL_SECONDS 600.
    fn pacing() -> Pacing {
        Pacing {
            max_seconds: 900,
            budget: 2_000.0,
        }
    }
    const SLOWEST: f64 = 100.0 / 600.0;

    /// What a whole line asks for beyond the head, summed token by token as each is told,
    /// every hint spread down by the most the jitter can (the worst case).
    fn asked(p: &Pacing, line: u64, admissions: u64) -> f64 {
        let r = Pacing::rate(admissions, SLOWEST);
        (1..=line)
            .filter(|&pos| pos as f64 / r > HEAD_SECONDS)
            .map(|pos| {
                let h = p.hint(pos, line, admissions, SLOWEST);
                1.0 / Pacing::jittered(h, JITTER_DRAWS - 1) as f64
            })
            .sum()
    }

    #[test]
    fn the_head_is_told_two_seconds() {
        // 120 admissions a minute: two a second, so the first 20 are expected within 10 s.
        let p = pacing();
        for pos in 1..=20 {
            assert_eq!(p.hint(pos, 1_000_000, 120, SLOWEST), 2, "position {pos}");
        }
        assert!(p.hint(21, 1_000_000, 120, SLOWEST) >= 2);
    }

    #[test]
    fn no_hint_exceeds_the_maximum() {
        let p = pacing();
        for line in [10, 1_000, 100_000, 1_000_000, 10_000_000] {
            for pos in [1, line / 2, line] {
                for admissions in [0, 1, 100, 10_000] {
                    assert!(p.hint(pos, line, admissions, SLOWEST) <= 900);
                }
            }
        }
    }

    #[test]
    fn at_the_defaults_lines_up_to_a_million_ask_at_most_the_budget_jitter_included() {
        let p = pacing();
        for (line, admissions) in [
            (1_000, 60),
            (100_000, 0),
            (100_000, 600),
            (1_000_000, 0),
            (1_000_000, 33),
            (1_000_000, 660),
            (1_000_000, 6_000),
        ] {
            let sum = asked(&p, line, admissions);
            assert!(
                sum <= 2_000.0,
                "{line} waiting, {admissions}/min: {sum:.0} polls/s"
            );
        }
    }

    #[test]
    fn the_slowest_rate_is_the_concerts_own() {
        // Nobody admitted in the last minute: the rate is the concert's limit over the TTL, so a
        // concert of limit 1,000 moves its line ten times as fast as one of 100.
        let p = pacing();
        let slow = p.hint(200, 1_000, 0, 100.0 / 600.0);
        let fast = p.hint(200, 1_000, 0, 1_000.0 / 600.0);
        assert_eq!((slow, fast), (120, 12));
    }

    #[test]
    fn the_jitter_spreads_a_hint_down_by_at_most_a_tenth() {
        for hint in [1, 2, 3, 10, 30, 555, 900] {
            let spread: BTreeSet<u64> = (0..JITTER_DRAWS)
                .step_by(997)
                .map(|draw| Pacing::jittered(hint, draw))
                .collect();
            for &h in &spread {
                assert!(h <= hint && h >= 1, "{hint} -> {h}");
                assert!((hint - h) as f64 <= 0.1 * hint as f64, "{hint} -> {h}");
            }
            if hint <= 2 {
                assert_eq!(
                    spread.len(),
                    1,
                    "{hint}: the head is told 2 whatever the draw"
                );
            }
            if hint >= 30 {
                assert!(spread.len() > 1, "{hint}: {spread:?}");
            }
        }
        assert_eq!(Pacing::jittered(900, 0), 900);
        assert_eq!(Pacing::jittered(900, JITTER_DRAWS - 1), 811);
    }

    #[test]
    fn beyond_the_budget_every_hint_past_the_head_is_the_maximum() {
        let p = Pacing {
            max_seconds: 30,
            ..pacing()
        };
        assert_eq!(p.hint(500_000, 1_000_000, 6_000, SLOWEST), 30);
        assert_eq!(p.hint(2_000, 1_000_000, 6_000, SLOWEST), 30);
    }

    #[test]
    fn the_pre_queue_polls_within_the_budget_and_the_maximum() {
        let p = pacing();
        assert_eq!(p.hint_before_opening(10), 2);
        assert_eq!(p.hint_before_opening(18_000), 10);
        assert_eq!(p.hint_before_opening(1_000_000), 556);
        assert_eq!(p.hint_before_opening(10_000_000), 900);
    }

    #[test]
    fn a_short_line_polls_at_a_tenth_of_its_wait() {
        // 60 admissions a minute: position 300 expects 300 s and is told 30.
        let p = pacing();
        assert_eq!(p.hint(300, 300, 60, SLOWEST), 30);
        assert_eq!(p.hint(100, 300, 60, SLOWEST), 10);
    }

    #[test]
    fn a_line_is_paced_for_its_length_rounded_up_to_two_digits() {
        assert_eq!(line_bucket(0), 0);
        assert_eq!(line_bucket(99), 99);
        assert_eq!(line_bucket(100), 100);
        assert_eq!(line_bucket(101), 110);
        assert_eq!(line_bucket(999), 1_000);
        assert_eq!(line_bucket(1_000), 1_000);
        assert_eq!(line_bucket(1_000_001), 1_100_000);
        assert_eq!(line_bucket(987_654), 990_000);
    }
}
