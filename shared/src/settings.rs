//! Settings from the environment, read once at cold start. A bad value stops the start with a
//! message naming the variable.

use std::time::Duration;

use crate::domain::operator::OperatorToken;
use crate::domain::paging::PageKey;
use crate::domain::tickets::{RetiredKey, TicketKeys};
use crate::domain::token::TokenKey;

#[derive(Debug, thiserror::Error)]
#[error("setting {var}={value:?} is invalid: {reason}")]
pub struct SettingsError {
    pub var: &'static str,
    pub value: String,
    pub reason: &'static str,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// TABLE_NAME: the main DynamoDB table (stream and TTL).
    pub table_name: String,
    /// RESERVATIONS_TABLE_NAME: reservations and their sweep index. Apart from the main table
    /// because DynamoDB Local never TTL-deletes in a table that has a GSI.
    pub reservations_table_name: String,
    /// REDIS_URL: `redis://` locally, `rediss://` (TLS) on ElastiCache. With `redis_cluster`,
    /// any one node of the cluster (ElastiCache Serverless: its endpoint); the rest is
    /// discovered from it.
    pub redis_url: String,
    /// REDIS_CLUSTER (`true`/`false`, default false): speak the cluster protocol (follow MOVED
    /// and ASK, route each script by its keys' slot). ElastiCache Serverless is always a cluster.
    pub redis_cluster: bool,
    /// REDIS_KEY_PREFIX: every key of concert `c` is `{prefix:c}:...`; the braces make it a
    /// cluster hash tag, so one concert's line lives in one slot and concerts spread over them.
    pub redis_key_prefix: String,
    /// HOLD_TTL_SECONDS
    pub hold_ttl: Duration,
    /// QUEUE_ACTIVE_LIMIT: ACTIVE tokens per concert.
    pub queue_active_limit: u32,
    /// ACTIVE_TOKEN_TTL_SECONDS: an ACTIVE token's life from its admission.
    pub active_token_ttl: Duration,
    /// ACTIVE_TOKEN_IDLE_SECONDS: an ACTIVE token that makes no call for this long ends, and
    /// its place goes to the next in line. A live hold of its user counts as a call until
    /// the hold ends.
    pub active_token_idle: Duration,
    /// WAITING_TOKEN_IDLE_SECONDS: a WAITING token drops out when it makes no call for its
    /// last hint plus this long, so a client that follows the hints never drops out, whatever
    /// the hint.
    pub waiting_token_idle: Duration,
    /// QUEUE_POLL_MAX_SECONDS (default 900): the longest `pollAfterSeconds` ever hinted.
    pub queue_poll_max: Duration,
    /// QUEUE_POLL_BUDGET: polls per second per concert the hints may ask for, beyond the head.
    pub queue_poll_budget: u32,
    /// QUEUE_TOKEN_KEY: the secret that signs queue tokens (at least 32 bytes; the stack keeps
    /// it in Secrets Manager). Without it, a local server signs with a key of its own process;
    /// in Lambda (AWS_LAMBDA_FUNCTION_NAME set) it must be set, since every instance must agree.
    pub queue_token_key: TokenKey,
    /// Seals the cursors of `GET /users/{userId}/reservations`: derived from QUEUE_TOKEN_KEY
    /// (one stack secret, under a label of its own), random with it.
    pub page_key: PageKey,
    /// TICKET_SIGNING_KEY: the secret whose SHA-256 seeds the Ed25519 pair that signs tickets
    /// (at least 32 bytes; the stack keeps it in Secrets Manager), and TICKET_RETIRED_KEYS:
    /// the public keys rotated away, `<x>@<YYYY-MM-DD>` comma-separated, each still verified
    /// and published through its date. Only the functions that sign or check tickets are
    /// given the secret, so in Lambda it may be absent (`None`: those functions refuse to
    /// work without it, and the template test sees that each has it). Without it, a local
    /// server signs with keys of its own process.
    pub ticket_keys: Option<std::sync::Arc<TicketKeys>>,
    /// SWEEP_INTERVAL_SECONDS: how often the local stack runs the sweep.
    pub sweep_interval: Duration,
    /// DATES_CACHE_TTL_SECONDS
    pub dates_cache_ttl: Duration,
    /// STORE_TIMEOUT_MS: the longest a request waits on Redis or one DynamoDB call before it
    /// answers 503.
    pub store_timeout: Duration,
    /// WRITE_RESOLVE_MS: how long a write whose answer was lost (a timeout) is driven again
    /// before the request gives up; it must end inside the function's own timeout.
    pub write_resolve: Duration,
    /// MAX_SEATS_PER_USER (default 4, 1 to 20): the seats of one concert a buyer may have in
    /// live holds and purchases together; also the most seats of one hold. Bounded so a
    /// payment's transaction (seats + 6 items) stays far within DynamoDB's 100 items.
    pub max_seats_per_user: u32,
    /// REFUND_CUTOFF_HOURS (default 24, 0 to 8,760): a paid reservation may be refunded until
    /// this long before its date starts (00:00 UTC).
    pub refund_cutoff: Duration,
    /// BUYER_RATE_PER_SECOND (default 5, 1 to 1,000,000): a buyer's calls per second on
    /// average, per concert (the guard's and the join's bucket) and on the routes without a
    /// queue token (a bucket of their own). Past it, 429 TOO_MANY_REQUESTS.
    pub buyer_rate_per_second: u32,
    /// BUYER_BURST (default 20, 1 to 1,000,000): how many calls a buyer may make at once
    /// before the rate binds (the bucket's size).
    pub buyer_burst: u32,
    /// ADMIN_TOKEN: the operator's bearer token where no IAM authorizer stands in front (the
    /// local server). Unset: only an IAM-authorized request is an operator's.
    pub admin_token: Option<OperatorToken>,
}

impl Settings {
    /// The highest MAX_SEATS_PER_USER allowed, and so the most seats of any one hold.
    pub const MAX_SEATS_BOUND: u64 = 20;

    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// Reads settings through `lookup`, so tests can pass their own.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let text = |var: &'static str, default: &str| -> Result<String, SettingsError> {
            let value = lookup(var).unwrap_or_else(|| default.to_owned());
            if value.trim().is_empty() {
                return Err(SettingsError {
                    var,
                    value,
                    reason: "must not be empty",
                });
            }
            Ok(value)
        };
        let number = |var: &'static str, default: u64, min: u64, max: u64| {
            let Some(value) = lookup(var) else {
                return Ok(default);
            };
            match value.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(SettingsError {
                    var,
                    value,
                    reason: "must be a whole number in its allowed range",
                }),
            }
        };
        let secs = |var, default, max| number(var, default, 1, max).map(Duration::from_secs);

        let redis_key_prefix = text("REDIS_KEY_PREFIX", "cb")?;
        if !redis_key_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            return Err(SettingsError {
                var: "REDIS_KEY_PREFIX",
                value: redis_key_prefix,
                reason: "must contain only A-Z, a-z, 0-9, '_', '-' and '.'",
            });
        }
        let redis_url = text("REDIS_URL", "redis://127.0.0.1:6379")?;
        if !(redis_url.starts_with("redis://") || redis_url.starts_with("rediss://")) {
            return Err(SettingsError {
                var: "REDIS_URL",
                value: redis_url,
                reason: "must start with redis:// or rediss://",
            });
        }

        let redis_cluster = match lookup("REDIS_CLUSTER").as_deref().map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(SettingsError {
                    var: "REDIS_CLUSTER",
                    value: other.to_owned(),
                    reason: "must be true or false",
                })
            }
        };

        let waiting_token_idle = secs("WAITING_TOKEN_IDLE_SECONDS", 120, 86_400)?;
        let queue_poll_max = Duration::from_secs(number("QUEUE_POLL_MAX_SECONDS", 900, 1, 3_600)?);
        let (queue_token_key, page_key) = match lookup("QUEUE_TOKEN_KEY") {
            Some(secret) if secret.len() >= TokenKey::MIN_LEN => (
                TokenKey::from_secret(secret.as_bytes()),
                PageKey::from_secret(secret.as_bytes()),
            ),
            Some(_) => {
                return Err(SettingsError {
                    var: "QUEUE_TOKEN_KEY",
                    value: "(hidden)".into(),
                    reason: "must be at least 32 bytes",
                })
            }
            None if lookup("AWS_LAMBDA_FUNCTION_NAME").is_some() => {
                return Err(SettingsError {
                    var: "QUEUE_TOKEN_KEY",
                    value: String::new(),
                    reason: "must be set in Lambda: every instance must sign with one key",
                })
            }
            None => (TokenKey::random(), PageKey::random()),
        };
        let ticket_keys = ticket_keys(&lookup)?;

        let admin_token = match lookup("ADMIN_TOKEN") {
            None => None,
            Some(raw) => Some(OperatorToken::parse(&raw).map_err(|e| SettingsError {
                var: "ADMIN_TOKEN",
                value: "(hidden)".into(),
                reason: e.0,
            })?),
        };

        Ok(Self {
            admin_token,
            buyer_rate_per_second: number("BUYER_RATE_PER_SECOND", 5, 1, 1_000_000)? as u32,
            buyer_burst: number("BUYER_BURST", 20, 1, 1_000_000)? as u32,
            max_seats_per_user: number("MAX_SEATS_PER_USER", 4, 1, Self::MAX_SEATS_BOUND)? as u32,
            refund_cutoff: Duration::from_secs(
                number("REFUND_CUTOFF_HOURS", 24, 0, 8_760)? * 3_600,
            ),
            table_name: text("TABLE_NAME", "concert-booking")?,
            reservations_table_name: text(
                "RESERVATIONS_TABLE_NAME",
                "concert-booking-reservations",
            )?,
            redis_url,
            redis_cluster,
            redis_key_prefix,
            hold_ttl: secs("HOLD_TTL_SECONDS", 300, 86_400)?,
            queue_active_limit: number("QUEUE_ACTIVE_LIMIT", 100, 1, 1_000_000)? as u32,
            active_token_ttl: secs("ACTIVE_TOKEN_TTL_SECONDS", 600, 86_400)?,
            active_token_idle: secs("ACTIVE_TOKEN_IDLE_SECONDS", 180, 86_400)?,
            waiting_token_idle,
            queue_poll_max,
            queue_poll_budget: number("QUEUE_POLL_BUDGET", 2_000, 1, 10_000_000)? as u32,
            queue_token_key,
            page_key,
            ticket_keys,
            sweep_interval: secs("SWEEP_INTERVAL_SECONDS", 60, 86_400)?,
            dates_cache_ttl: secs("DATES_CACHE_TTL_SECONDS", 30, 86_400)?,
            store_timeout: Duration::from_millis(number("STORE_TIMEOUT_MS", 2_000, 50, 60_000)?),
            write_resolve: Duration::from_millis(number("WRITE_RESOLVE_MS", 8_000, 0, 600_000)?),
        })
    }
}

/// TICKET_SIGNING_KEY and TICKET_RETIRED_KEYS; see [`Settings::ticket_keys`].
fn ticket_keys(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<std::sync::Arc<TicketKeys>>, SettingsError> {
    let retired = match lookup("TICKET_RETIRED_KEYS") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .filter(|k| !k.trim().is_empty())
            .map(RetiredKey::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SettingsError {
                var: "TICKET_RETIRED_KEYS",
                value: list.clone(),
                reason: e.0,
            })?,
    };
    let keys = match lookup("TICKET_SIGNING_KEY") {
        Some(secret) if secret.len() >= TicketKeys::MIN_SECRET_LEN => {
            TicketKeys::from_secret(secret.as_bytes(), retired)
        }
        Some(_) => {
            return Err(SettingsError {
                var: "TICKET_SIGNING_KEY",
                value: "(hidden)".into(),
                reason: "must be at least 32 bytes",
            })
        }
        None if lookup("AWS_LAMBDA_FUNCTION_NAME").is_some() => return Ok(None),
        None => TicketKeys::random(),
    };
    Ok(Some(std::sync::Arc::new(keys)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_contracts() {
        let s = from(&[]).unwrap();
        assert_eq!(s.hold_ttl, Duration::from_secs(300));
        assert_eq!(s.queue_active_limit, 100);
        assert_eq!(s.active_token_ttl, Duration::from_secs(600));
        assert_eq!(s.active_token_idle, Duration::from_secs(180));
        assert_eq!(s.waiting_token_idle, Duration::from_secs(120));
        assert_eq!(s.sweep_interval, Duration::from_secs(60));
        assert_eq!(s.dates_cache_ttl, Duration::from_secs(30));
        assert_eq!(s.queue_poll_max, Duration::from_secs(900));
        assert_eq!(s.queue_poll_budget, 2_000);
        assert_eq!(s.max_seats_per_user, 4);
        assert_eq!(s.refund_cutoff, Duration::from_secs(24 * 3_600));
        assert_eq!(s.buyer_rate_per_second, 5);
        assert_eq!(s.buyer_burst, 20);
    }

    #[test]
    fn fair_use_settings_out_of_range_are_refused_naming_them() {
        for (var, value) in [
            ("BUYER_RATE_PER_SECOND", "0"),
            ("BUYER_RATE_PER_SECOND", "2.5"),
            ("BUYER_RATE_PER_SECOND", "1000001"),
            ("BUYER_RATE_PER_SECOND", "fast"),
            ("BUYER_BURST", "0"),
            ("BUYER_BURST", "-3"),
            ("BUYER_BURST", ""),
        ] {
            let err = from(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value:?}");
            assert!(err.to_string().contains(var));
        }
        let s = from(&[("BUYER_RATE_PER_SECOND", "1"), ("BUYER_BURST", "1")]).unwrap();
        assert_eq!((s.buyer_rate_per_second, s.buyer_burst), (1, 1));
    }

    #[test]
    fn the_seat_limit_is_one_to_twenty() {
        assert_eq!(
            from(&[("MAX_SEATS_PER_USER", "0")]).unwrap_err().var,
            "MAX_SEATS_PER_USER"
        );
        assert_eq!(
            from(&[("MAX_SEATS_PER_USER", "21")]).unwrap_err().var,
            "MAX_SEATS_PER_USER"
        );
        assert_eq!(
            from(&[("MAX_SEATS_PER_USER", "20")])
                .unwrap()
                .max_seats_per_user,
            20
        );
        assert_eq!(
            from(&[("REFUND_CUTOFF_HOURS", "0")]).unwrap().refund_cutoff,
            Duration::ZERO
        );
    }

    #[test]
    fn any_idle_limit_goes_with_any_longest_hint() {
        // A waiter drops out after its own last hint plus the idle limit: no pairing to refuse.
        let s = from(&[
            ("QUEUE_POLL_MAX_SECONDS", "3600"),
            ("WAITING_TOKEN_IDLE_SECONDS", "1"),
        ])
        .unwrap();
        assert_eq!(s.queue_poll_max, Duration::from_secs(3_600));
        assert_eq!(s.waiting_token_idle, Duration::from_secs(1));
        assert_eq!(
            from(&[("QUEUE_POLL_MAX_SECONDS", "3601")]).unwrap_err().var,
            "QUEUE_POLL_MAX_SECONDS"
        );
    }

    #[test]
    fn a_short_token_key_is_refused_without_showing_it() {
        let err = from(&[("QUEUE_TOKEN_KEY", "short-secret")]).unwrap_err();
        assert_eq!(err.var, "QUEUE_TOKEN_KEY");
        assert!(!err.to_string().contains("short-secret"));
        assert!(from(&[("QUEUE_TOKEN_KEY", &"k".repeat(32))]).is_ok());
    }

    #[test]
    fn a_short_ticket_key_or_a_bad_retired_key_is_refused_naming_it() {
        let err = from(&[("TICKET_SIGNING_KEY", "short-secret")]).unwrap_err();
        assert_eq!(err.var, "TICKET_SIGNING_KEY");
        assert!(!err.to_string().contains("short-secret"));
        let err = from(&[("TICKET_RETIRED_KEYS", "nope@2026-01-01")]).unwrap_err();
        assert_eq!(err.var, "TICKET_RETIRED_KEYS");
        let key = "k".repeat(32);
        let a = from(&[("TICKET_SIGNING_KEY", &key)]).unwrap();
        let b = from(&[("TICKET_SIGNING_KEY", &key)]).unwrap();
        assert_eq!(
            a.ticket_keys.unwrap().kid(),
            b.ticket_keys.unwrap().kid(),
            "one secret, one key in every instance"
        );
    }

    #[test]
    fn lambda_starts_without_a_ticket_key_and_has_none() {
        let s = from(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "get_balance"),
            ("QUEUE_TOKEN_KEY", &"k".repeat(32)),
        ])
        .unwrap();
        assert!(s.ticket_keys.is_none());
        assert!(from(&[]).unwrap().ticket_keys.is_some());
    }

    #[test]
    fn redis_cluster_is_true_or_false() {
        assert!(!from(&[]).unwrap().redis_cluster);
        assert!(from(&[("REDIS_CLUSTER", "true")]).unwrap().redis_cluster);
        assert_eq!(
            from(&[("REDIS_CLUSTER", "yes")]).unwrap_err().var,
            "REDIS_CLUSTER"
        );
    }

    #[test]
    fn lambda_refuses_to_start_without_a_token_key() {
        let err = from(&[("AWS_LAMBDA_FUNCTION_NAME", "issue_token")]).unwrap_err();
        assert_eq!(err.var, "QUEUE_TOKEN_KEY");
    }

    #[test]
    fn a_bad_setting_names_its_variable() {
        let err = from(&[("QUEUE_ACTIVE_LIMIT", "lots")]).unwrap_err();
        assert_eq!(err.var, "QUEUE_ACTIVE_LIMIT");
        assert!(err.to_string().contains("QUEUE_ACTIVE_LIMIT"));
        assert_eq!(
            from(&[("HOLD_TTL_SECONDS", "0")]).unwrap_err().var,
            "HOLD_TTL_SECONDS"
        );
        assert_eq!(
            from(&[("ACTIVE_TOKEN_IDLE_SECONDS", "0")]).unwrap_err().var,
            "ACTIVE_TOKEN_IDLE_SECONDS"
        );
        assert_eq!(
            from(&[("REDIS_URL", "http://x")]).unwrap_err().var,
            "REDIS_URL"
        );
    }
}
