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
    /// `pollAfterSeconds`: set by [`Pacing::hint`] while WAITING.
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

/// When a waiting token should poll next (`pollAfterSeconds`).
///
/// A token at `position` expects to wait `w = position / r` seconds, `r` the measured admission
/// rate (admissions in the last minute / 60; while nobody was admitted in that minute, the
/// slowest rate the line can have, `activeLimit / ACTIVE_TOKEN_TTL_SECONDS`). The head
/// (`w <= 10`) is told 2. Everyone else is told `clamp(ceil(k * w), 2, QUEUE_POLL_MAX_SECONDS)`,
/// where `k` is the line's pace: the smallest value, and at least 0.1, for which the whole line
/// beyond the head, polling as told, asks for at most `QUEUE_POLL_BUDGET` polls a second.
///
/// That sum is bounded from the line's length `n` alone: positions are 1..n, so with the hint
/// `h(w)` non-decreasing it is at most `r * integral(10..n/r) dw / h(w)`, which has a closed form
/// (below); `k` is found by bisection. When even every hint at the maximum asks for more
/// (`(n - 10 r) / max > budget`: a line longer than `budget * max`), the maximum wins: no hint
/// exceeds it, so that a client that follows the hints never drops out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    pub max_seconds: u64,
    pub budget: f64,
    /// Admissions a second when none were measured.
    pub slowest_rate: f64,
}

impl Pacing {
    /// Admissions a second, from the last minute's count.
    pub fn rate(&self, recent_admissions: u64) -> f64 {
        if recent_admissions == 0 {
            return self.slowest_rate.max(f64::MIN_POSITIVE);
        }
        recent_admissions as f64 / (ADMISSION_WINDOW_MS as f64 / 1000.0)
    }

    /// The hint for a token at `position` of a line of `line` waiting.
    pub fn hint(&self, position: u64, line: u64, recent_admissions: u64) -> u64 {
        let r = self.rate(recent_admissions);
        let wait = position as f64 / r;
        let fastest = HEAD_POLL_SECONDS.min(self.max_seconds);
        if wait <= HEAD_SECONDS {
            return fastest;
        }
        let k = self.pace(line.max(position), r);
        let h = (k * wait).ceil();
        (h as u64).clamp(fastest, self.max_seconds)
    }

    /// The hint before the opening, where nobody moves: the pre-queue's `line` polls within
    /// the budget (`line / budget`), within 2 and the maximum, so it keeps its place.
    pub fn hint_before_opening(&self, line: u64) -> u64 {
        let fastest = HEAD_POLL_SECONDS.min(self.max_seconds);
        let h = (line as f64 / self.budget.max(1.0)).ceil() as u64;
        h.clamp(fastest, self.max_seconds)
    }

    /// The line's pace `k` (see the type's documentation).
    pub fn pace(&self, line: u64, r: f64) -> f64 {
        // Beyond this, every hint past the head is the maximum.
        let all_max = self.max_seconds as f64 / HEAD_SECONDS;
        if self.polls_per_second(SLOWEST_SHARE, line, r) <= self.budget {
            return SLOWEST_SHARE;
        }
        if self.polls_per_second(all_max, line, r) > self.budget {
            return all_max;
        }
        let (mut lo, mut hi) = (SLOWEST_SHARE, all_max);
        for _ in 0..48 {
            let mid = (lo + hi) / 2.0;
            if self.polls_per_second(mid, line, r) <= self.budget {
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

    fn pacing() -> Pacing {
        Pacing {
            max_seconds: 30,
            budget: 2_000.0,
            slowest_rate: 100.0 / 600.0,
        }
    }

    /// What a whole line asks for beyond the head, summed token by token as each is told.
    fn asked(p: &Pacing, line: u64, admissions: u64) -> f64 {
        let r = p.rate(admissions);
        (1..=line)
            .filter(|&pos| pos as f64 / r > HEAD_SECONDS)
            .map(|pos| 1.0 / p.hint(pos, line, admissions) as f64)
            .sum()
    }

    #[test]
    fn the_head_is_told_two_seconds() {
        // 120 admissions a minute: two a second, so the first 20 are expected within 10 s.
        let p = pacing();
        for pos in 1..=20 {
            assert_eq!(p.hint(pos, 1_000_000, 120), 2, "position {pos}");
        }
        assert!(p.hint(21, 1_000_000, 120) >= 2);
    }

    #[test]
    fn no_hint_exceeds_the_maximum() {
        let p = pacing();
        for line in [10, 1_000, 100_000, 1_000_000] {
            for pos in [1, line / 2, line] {
                for admissions in [0, 1, 100, 10_000] {
                    assert!(p.hint(pos, line, admissions) <= 30);
                }
            }
        }
    }

    #[test]
    fn a_line_within_budget_times_maximum_asks_for_at_most_the_budget() {
        let p = pacing();
        for (line, admissions) in [(1_000, 60), (20_000, 600), (50_000, 6_000), (59_000, 60)] {
            let sum = asked(&p, line, admissions);
            assert!(
                sum <= 2_000.0,
                "{line} waiting, {admissions}/min: {sum:.0} polls/s"
            );
        }
    }

    #[test]
    fn a_budget_that_allows_it_holds_for_a_million() {
        // The on-sale setting for a line of a million: a maximum of 600 s (idle limit 1,200 s).
        let p = Pacing {
            max_seconds: 600,
            ..pacing()
        };
        let sum = asked(&p, 1_000_000, 6_000);
        assert!(sum <= 2_000.0, "{sum:.0} polls/s");
    }

    #[test]
    fn beyond_budget_times_maximum_every_hint_past_the_head_is_the_maximum() {
        let p = pacing();
        assert_eq!(p.hint(500_000, 1_000_000, 6_000), 30);
        assert_eq!(p.hint(2_000, 1_000_000, 6_000), 30);
    }

    #[test]
    fn the_pre_queue_polls_within_the_budget_and_the_maximum() {
        let p = pacing();
        assert_eq!(p.hint_before_opening(10), 2);
        assert_eq!(p.hint_before_opening(20_000), 10);
        assert_eq!(p.hint_before_opening(1_000_000), 30);
    }

    #[test]
    fn a_short_line_polls_at_a_tenth_of_its_wait() {
        // 60 admissions a minute: position 300 expects 300 s and is told 30.
        let p = pacing();
        assert_eq!(p.hint(300, 300, 60), 30);
        assert_eq!(p.hint(100, 300, 60), 10);
    }
}
