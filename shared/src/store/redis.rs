//! The Redis connection: one multiplexed connection manager per process, made on first use so
//! a cold start never fails because Redis is down, and every call bounded by a timeout.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::error::StoreError;

pub struct RedisStore {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    timeout: Duration,
    /// `{prefix}`: a cluster hash tag, so every key of ours lives in one slot.
    tag: String,
}

impl RedisStore {
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            conn: OnceCell::new(),
            timeout,
            tag: format!("{{{prefix}}}"),
        })
    }

    /// The hash-tagged prefix every key starts with.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let conn = self
            .conn
            .get_or_try_init(|| async {
                tokio::time::timeout(
                    self.timeout,
                    self.client.get_connection_manager_with_config(config),
                )
                .await
                .map_err(|_| StoreError::Timeout {
                    store: "Redis",
                    after: self.timeout,
                })?
                .map_err(StoreError::Redis)
            })
            .await?;
        Ok(conn.clone())
    }

    /// Runs one Redis exchange within the timeout.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let conn = self.connection().await?;
            call(conn).await.map_err(StoreError::Redis)
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| StoreError::Timeout {
                store: "Redis",
                after: self.timeout,
            })?
    }
}
