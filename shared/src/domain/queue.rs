//! The waiting room's rules that do not need Redis: what a token's state means to a client,
//! and how long a wait is estimated to be.

use chrono::{DateTime, Utc};

use super::ids::{ConcertId, QueueToken, UserId};

/// Admissions are counted over this sliding window to measure the admission rate.
pub const ADMISSION_WINDOW_MS: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// In line; `position` 1 is the next to be admitted.
    Waiting {
        position: u64,
        /// Admissions in the last [`ADMISSION_WINDOW_MS`].
        recent_admissions: u64,
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
}

impl TokenStatus {
    pub fn is_active(&self) -> bool {
        matches!(self.standing, Standing::Active { .. })
    }

    /// 0 once ACTIVE.
    pub fn position(&self) -> u64 {
        match self.standing {
            Standing::Waiting { position, .. } => position,
            Standing::Active { .. } => 0,
        }
    }

    /// From the measured admission rate: the time for `position` admissions at the rate of the
    /// last minute. Unknown (None) while nobody has been admitted in that window; 0 once ACTIVE.
    pub fn estimated_wait_seconds(&self) -> Option<u64> {
        match self.standing {
            Standing::Active { .. } => Some(0),
            Standing::Waiting {
                position,
                recent_admissions,
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
            Standing::Waiting { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(position: u64, recent_admissions: u64) -> TokenStatus {
        TokenStatus {
            token: QueueToken::generate(),
            user_id: UserId::parse("u").unwrap(),
            concert_id: ConcertId::parse("c").unwrap(),
            standing: Standing::Waiting {
                position,
                recent_admissions,
            },
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
}
