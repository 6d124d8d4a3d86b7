//! Fair use in Redis: a token bucket per buyer (`BUYER_BURST` calls, refilled at
//! `BUYER_RATE_PER_SECOND`), one key, run inside the script a call already makes: the join's
//! and the guard's, on the concert's line (`{p:c}:fair:u:<user>`, see [`super::LineKeys::fair`]).
//! A route that checks no queue token takes from a bucket of the buyer's own ([`FairUse`]:
//! `{p:user:<userId>}:fair`, its own slot), in one round trip. A refused call writes nothing.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::domain::UserId;
use crate::error::StoreError;
use crate::settings::Settings;
use crate::store::redis::RedisStore;

/// The bucket (`take_fair`), prepended to every script that takes from one.
pub const FAIR_LIB: &str = include_str!("fair_lib.lua");

/// KEYS[1] the bucket; ARGV rate, burst.
const FAIR: &str = include_str!("fair.lua");

static FAIR_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&format!("{FAIR_LIB}{FAIR}")));

/// A buyer's bucket for the routes that check no queue token. Its hash tag can never be a
/// concert's (`{p:<concertId>}`): IDs have no ':'.
pub fn buyer_key(prefix: &str, buyer: &UserId) -> String {
    format!("{{{prefix}:user:{buyer}}}:fair")
}

pub struct FairUse<'a> {
    redis: &'a RedisStore,
    settings: &'a Settings,
}

impl<'a> FairUse<'a> {
    pub fn new(redis: &'a RedisStore, settings: &'a Settings) -> Self {
        Self { redis, settings }
    }

    /// Takes one call from the buyer's own bucket: `None` when it is let through, or how long
    /// until one would be (nothing written).
    pub async fn take(&self, buyer: &UserId) -> Result<Option<Duration>, StoreError> {
        let mut inv = FAIR_SCRIPT.key(buyer_key(self.redis.prefix(), buyer));
        for a in super::fair_args(self.settings) {
            inv.arg(a);
        }
        let wait_ms: u64 = self
            .redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
    }
}
