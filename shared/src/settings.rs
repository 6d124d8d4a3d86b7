//! Settings from the environment, read once at cold start. A bad value stops the start with a
//! message naming the variable.

use std::time::Duration;

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
    /// REDIS_URL: `redis://` locally, `rediss://` (TLS) on ElastiCache.
    pub redis_url: String,
    /// REDIS_KEY_PREFIX: every key is `{prefix}:...`; the braces make it a cluster hash tag,
    /// so each queue script's keys live in one slot.
    pub redis_key_prefix: String,
    /// HOLD_TTL_SECONDS
    pub hold_ttl: Duration,
    /// QUEUE_ACTIVE_LIMIT: ACTIVE tokens per concert.
    pub queue_active_limit: u32,
    /// ACTIVE_TOKEN_TTL_SECONDS: an ACTIVE token's life from its admission.
    pub active_token_ttl: Duration,
    /// WAITING_TOKEN_IDLE_SECONDS: a WAITING token not polled for this long drops out.
    pub waiting_token_idle: Duration,
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
}

impl Settings {
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

        Ok(Self {
            table_name: text("TABLE_NAME", "concert-booking")?,
            reservations_table_name: text(
                "RESERVATIONS_TABLE_NAME",
                "concert-booking-reservations",
            )?,
            redis_url,
            redis_key_prefix,
            hold_ttl: secs("HOLD_TTL_SECONDS", 300, 86_400)?,
            queue_active_limit: number("QUEUE_ACTIVE_LIMIT", 100, 1, 1_000_000)? as u32,
            active_token_ttl: secs("ACTIVE_TOKEN_TTL_SECONDS", 600, 86_400)?,
            waiting_token_idle: secs("WAITING_TOKEN_IDLE_SECONDS", 120, 86_400)?,
            sweep_interval: secs("SWEEP_INTERVAL_SECONDS", 60, 86_400)?,
            dates_cache_ttl: secs("DATES_CACHE_TTL_SECONDS", 30, 86_400)?,
            store_timeout: Duration::from_millis(number("STORE_TIMEOUT_MS", 2_000, 50, 60_000)?),
            write_resolve: Duration::from_millis(number("WRITE_RESOLVE_MS", 8_000, 0, 600_000)?),
        })
    }
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
        assert_eq!(s.waiting_token_idle, Duration::from_secs(120));
        assert_eq!(s.sweep_interval, Duration::from_secs(60));
        assert_eq!(s.dates_cache_ttl, Duration::from_secs(30));
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
            from(&[("REDIS_URL", "http://x")]).unwrap_err().var,
            "REDIS_URL"
        );
    }
}
