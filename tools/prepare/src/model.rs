//! The capacity model of docs/capacity.md as plain functions: what a crowd of `users` joining
//! one concert's line at the opening asks of the cache and of each table. Each constant names
//! the figure of capacity.md it comes from, at the default settings (`QUEUE_POLL_MAX_SECONDS`
//! 900, `QUEUE_POLL_BUDGET` 2,000).

/// Everyone joins within the first 5 minutes, uniformly ("Two on-sales, modelled").
pub const ARRIVAL_SECONDS: u64 = 300;

/// A join is one script of ~25 µs: 1-2 ECPU ("What each call uses"); the upper figure.
pub const ECPU_PER_JOIN: u64 = 2;

/// A poll is one script of ~15 µs: 1 ECPU.
pub const ECPU_PER_POLL: u64 = 1;

/// The peak poll rate (10 s) in percent of the join rate. A crowd told the longest hint comes
/// back in waves at about the rate it joined, and the modelled peaks of a million reach 1.31
/// times it (4,379/s at limit 2,000; 3,665/s at 100): 135 % covers them.
pub const PEAK_POLLS_PERCENT_OF_JOINS: u64 = 135;

/// A smaller crowd's peak can be its own admitted buyers polling at the head rather than a wave
/// (1,303/s for 100,000 at limit 2,000): the peak is never taken below the default poll budget.
pub const POLL_BUDGET: u64 = 2_000;

/// The cache minimum is twice the modelled peak: ECPUs per script are estimates ("a script of
/// ~30 µs may count a few"), a minimum too low means throttled polls at the worst moment, and
/// one too high costs cents ($0.0023 per million ECPUs: 23,000/s is $0.19 an hour).
pub const ECPU_HEADROOM: u64 = 2;

/// ElastiCache Serverless serves at most 30,000 ECPU/s per slot, and a concert's line is one
/// slot ("The waiting room"): no minimum raises that.
pub const SLOT_ECPU_LIMIT: u64 = 30_000;

/// What DynamoDB gives a new on-demand table ("a new on-demand table").
pub const ON_DEMAND_START: Warm = Warm {
    reads: 12_000,
    writes: 4_000,
};

/// Settings are rounded up to a whole thousand: readable, and never under the model.
pub const STEP: u64 = 1_000;

/// A table's warm throughput: read and write units per second it serves at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warm {
    pub reads: u64,
    pub writes: u64,
}

/// Joins per second while the crowd arrives.
pub fn joins_per_second(users: u64) -> u64 {
    users.div_ceil(ARRIVAL_SECONDS)
}

/// The highest poll rate of the sale (its waves), from the join rate, and at least the budget.
pub fn peak_polls_per_second(users: u64) -> u64 {
    (joins_per_second(users) * PEAK_POLLS_PERCENT_OF_JOINS)
        .div_ceil(100)
        .max(POLL_BUDGET)
}

/// ECPUs per second one concert's line asks at most: the joins and the polls' peak added,
/// though the waves come after the joins, so an upper bound.
pub fn peak_ecpu_per_second(users: u64) -> u64 {
    joins_per_second(users) * ECPU_PER_JOIN + peak_polls_per_second(users) * ECPU_PER_POLL
}

/// The cache's minimum ECPUs per second for the opening.
pub fn cache_ecpu_minimum(users: u64) -> u64 {
    round_up(peak_ecpu_per_second(users) * ECPU_HEADROOM)
}

/// Whether one concert's line would ask more of its slot than ElastiCache serves.
pub fn exceeds_one_slot(users: u64) -> bool {
    peak_ecpu_per_second(users) > SLOT_ECPU_LIMIT
}

/// Either table, whatever the crowd: a join is one Redis script and writes nothing to
/// DynamoDB, a function instance reads the concert once, and only the admitted (at most
/// `QUEUE_ACTIVE_LIMIT`: 28 WRU each, 2,000 at once at most) read seat maps and write. So a
/// new on-demand table's start is enough; a table that reads lower (once provisioned low) is
/// raised to it.
pub fn tables() -> Warm {
    ON_DEMAND_START
}

fn round_up(n: u64) -> u64 {
    n.div_ceil(STEP) * STEP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_join_at_the_rate_capacity_md_gives() {
        assert_eq!(joins_per_second(1_000_000), 3_334);
        assert_eq!(joins_per_second(100_000), 334);
        assert_eq!(joins_per_second(0), 0);
    }

    #[test]
    fn the_poll_peak_covers_every_modelled_peak() {
        // capacity.md, "peak (10 s)": 401 and 1,303 (100,000), 3,665 and 4,379 (1,000,000).
        assert!(peak_polls_per_second(100_000) >= 1_303);
        assert!(peak_polls_per_second(1_000_000) >= 4_379);
        assert_eq!(peak_polls_per_second(1_000_000), 4_501);
        assert_eq!(peak_polls_per_second(100_000), 2_000);
    }

    #[test]
    fn a_million_ask_the_cache_for_23_000_ecpus_a_second() {
        assert_eq!(peak_ecpu_per_second(1_000_000), 3_334 * 2 + 4_501);
        assert_eq!(cache_ecpu_minimum(1_000_000), 23_000);
        assert_eq!(cache_ecpu_minimum(100_000), 6_000);
    }

    #[test]
    fn the_cache_minimum_grows_with_the_crowd_and_is_whole_thousands() {
        let mut last = 0;
        for users in [
            1, 10_000, 100_000, 500_000, 1_000_000, 2_000_000, 10_000_000,
        ] {
            let minimum = cache_ecpu_minimum(users);
            assert!(minimum >= last, "{users}");
            assert_eq!(minimum % STEP, 0, "{users}");
            assert!(
                minimum >= peak_ecpu_per_second(users) * ECPU_HEADROOM,
                "{users}"
            );
            last = minimum;
        }
    }

    #[test]
    fn one_slot_serves_a_million_but_not_three() {
        assert!(!exceeds_one_slot(1_000_000));
        assert!(exceeds_one_slot(3_000_000));
    }

    #[test]
    fn the_tables_ask_for_a_new_tables_start_whatever_the_crowd() {
        assert_eq!(
            tables(),
            Warm {
                reads: 12_000,
                writes: 4_000
            }
        );
    }
}
