//! Everything a handler needs, built once per process at cold start.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::Region;

use crate::domain::{ConcertDate, ConcertId};
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
    /// Each date's catalog (sections and prices, with its version), kept for the life of the
    /// process: a hold needs the price without a read. A date's catalog never changes once it
    /// is locked (its first hold); until then a hold conditions on the version it priced at.
    pub catalogs: CatalogCache,
    /// Concerts seen to exist, for the life of the process: a concert is never deleted, and a
    /// join must not read the one concert item at every arrival of an on-sale (3,000 strongly
    /// consistent reads a second is one item's ceiling).
    pub concerts: std::sync::RwLock<std::collections::HashSet<ConcertId>>,
}

pub type CatalogCache = std::sync::RwLock<
    std::collections::HashMap<
        (ConcertId, ConcertDate),
        std::sync::Arc<crate::flows::seats::CachedCatalog>,
    >,
>;

/// The HTTPS client of every AWS SDK client: hyper with rustls on ring (the SDK's default
/// crypto, aws-lc, would add 2.4 MB to each Lambda binary for nothing these calls need).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

impl AppState {
    /// Settings from the environment, then [`AppState::new`].
    pub async fn from_env() -> Result<Self, StartupError> {
        Self::new(Settings::from_env()?).await
    }

    /// One DynamoDB client (see [`AppState::dynamodb_config`]) and one Redis connection
    /// manager (connected on first use).
    pub async fn new(settings: Settings) -> Result<Self, StartupError> {
        let client = aws_sdk_dynamodb::Client::from_conf(Self::dynamodb_config(&settings).build());
        Self::with_dynamodb(settings, client)
    }

    /// The DynamoDB client's configuration: the store timeout and retries every call gets, and
    /// the AWS environment as Lambda sets it: AWS_REGION, credentials in AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, and AWS_ENDPOINT_URL_DYNAMODB when set (the
    /// local stack). Built directly rather than by aws-config's loader: the loader's default
    /// chains (profiles, SSO, STS web identity, IMDS) are 0.5 MB of every binary, and a Lambda
    /// function never uses them. A caller that must change it (the fault tests: their own
    /// endpoint) adds to the builder.
    pub fn dynamodb_config(settings: &Settings) -> aws_sdk_dynamodb::config::Builder {
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .ok()
            .map(Region::new);
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(https_client())
            .region(region)
            .credentials_provider(EnvironmentVariableCredentialsProvider::new())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(settings.store_timeout)
                    .operation_timeout(settings.store_timeout * 2)
                    .connect_timeout(settings.store_timeout)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(3));
        if let Ok(url) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
            config = config.endpoint_url(url);
        }
        config
    }

    /// The state around a DynamoDB client built elsewhere (from [`AppState::dynamodb_config`]).
    pub fn with_dynamodb(
        settings: Settings,
        client: aws_sdk_dynamodb::Client,
    ) -> Result<Self, StartupError> {
        let redis = RedisStore::new(
            &settings.redis_url,
            settings.redis_cluster,
            &settings.redis_key_prefix,
            settings.store_timeout,
        )
        .map_err(StartupError::RedisUrl)?;
        Ok(Self {
            db: Db::new(
                client,
                settings.table_name.clone(),
                settings.reservations_table_name.clone(),
            )
            .resolving_within(settings.write_resolve),
            redis,
            settings,
            catalogs: CatalogCache::default(),
            concerts: Default::default(),
        })
    }
}
