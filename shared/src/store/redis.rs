//! The Redis connection: one multiplexed connection per process (a connection manager for one
//! node, a cluster connection for a cluster), made on first use so a cold start never fails
//! because Redis is down, and every call bounded by a timeout.

use std::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use tokio::sync::OnceCell;

use crate::error::StoreError;

// One per process: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Client {
    Single(redis::Client),
    /// Routes each command by its first key's slot, follows MOVED and ASK, and refreshes the
    /// slot map when they come; SCRIPT LOAD goes to every master.
    Cluster(ClusterClient),
}

/// One node's connection or a cluster's: every script call and pipeline runs on either.
#[derive(Clone)]
pub enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

pub struct RedisStore {
    client: Client,
    conn: OnceCell<Connection>,
    timeout: Duration,
    /// Every key starts with a hash tag that holds it: `{prefix:concert}` (see `scripts.rs`).
    prefix: String,
}

impl RedisStore {
    /// `cluster`: `url` is one node of a cluster, the others are found from it.
    pub fn new(
        url: &str,
        cluster: bool,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, redis::RedisError> {
        let client = if cluster {
            Client::Cluster(
                ClusterClient::builder([url])
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    // A MOVED or ASK is followed at once; these bound a slot map in flux.
                    .retries(3)
                    .min_retry_wait(10)
                    .max_retry_wait(200)
                    .build()?,
            )
        } else {
            Client::Single(redis::Client::open(url)?)
        };
        Ok(Self {
            client,
            conn: OnceCell::new(),
            timeout,
            prefix: prefix.to_owned(),
        })
    }

    /// REDIS_KEY_PREFIX: the start of every key's hash tag.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn connect(&self) -> redis::RedisResult<Connection> {
        match &self.client {
            Client::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(1);
                let conn = client.get_connection_manager_with_config(config).await?;
                Ok(Connection::Single(conn))
            }
            Client::Cluster(client) => {
                Ok(Connection::Cluster(client.get_async_connection().await?))
            }
        }
    }

    async fn connection(&self) -> Result<Connection, StoreError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                tokio::time::timeout(self.timeout, self.connect())
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
        F: FnOnce(Connection) -> Fut,
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
