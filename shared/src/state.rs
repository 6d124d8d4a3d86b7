//! Everything a handler needs, built once per process at cold start.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;

use crate::domain::{ConcertDate, ConcertId, Won};
use crate::settings::{Settings, SettingsError};
use crate::store::dynamo::Db;
use crate::store::redis::RedisStore;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("REDIS_URL is not a Redis URL")]
    RedisUrl(#[source] redis::RedisError),
}

pub struct AppState {
    pub settings: Settings,
    pub db: Db,
    pub redis: RedisStore,
    /// Seat prices per date, kept for the life of the process: the catalog does not change
    /// once seeded, and a hold needs the price without a read.
    pub prices: PriceCache,
}

pub type PriceCache = std::sync::RwLock<
    std::collections::HashMap<(ConcertId, ConcertDate), std::sync::Arc<Vec<Won>>>,
>;

impl AppState {
    /// Settings from the environment, then [`AppState::new`].
    pub async fn from_env() -> Result<Self, StartupError> {
        Self::new(Settings::from_env()?).await
    }

    /// One aws-config load (credentials, region, and AWS_ENDPOINT_URL_DYNAMODB locally), one
    /// DynamoDB client, one Redis connection manager (connected on first use).
    pub async fn new(settings: Settings) -> Result<Self, StartupError> {
        let sdk = Self::sdk_loader(&settings).load().await;
        Self::with_dynamodb(settings, aws_sdk_dynamodb::Client::new(&sdk))
    }

    /// The aws-config loader with the store timeout and retries every DynamoDB call gets, so a
    /// caller that must add to it (the fault tests: their own endpoint) keeps them.
    pub fn sdk_loader(settings: &Settings) -> aws_config::ConfigLoader {
        aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(settings.store_timeout)
                    .operation_timeout(settings.store_timeout * 2)
                    .connect_timeout(settings.store_timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(3))
    }

    /// The state around a DynamoDB client built elsewhere (from [`AppState::sdk_loader`]).
    pub fn with_dynamodb(
        settings: Settings,
        client: aws_sdk_dynamodb::Client,
    ) -> Result<Self, StartupError> {
        let redis = RedisStore::new(
            &settings.redis_url,
            &settings.redis_key_prefix,
            settings.store_timeout,
        )
        .map_err(StartupError::RedisUrl)?;
        Ok(Self {
            db: Db::new(
                client,
                settings.table_name.clone(),
                settings.reservations_table_name.clone(),
            ),
            redis,
            settings,
            prices: PriceCache::default(),
        })
    }
}
