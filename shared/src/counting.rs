//! An AppState whose DynamoDB client counts the requests it sends (every attempt, retries
//! included), for `load bench` and the round-trip tests. Behind the `counting` feature: no
//! function binary carries it.

use std::sync::{Arc, Mutex};

use crate::settings::Settings;
use crate::state::StartupError;
use crate::store::dynamo::Db;
use crate::AppState;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

/// The operations sent, in order (`GetItem`, `TransactWriteItems`, ...).
#[derive(Debug, Default)]
pub struct Counter(Mutex<Vec<String>>);

impl Counter {
    /// What was sent since the last call.
    pub fn take(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct Counting(Arc<Counter>);

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "Counting"
    }
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("?")
            .to_owned();
        if let Ok(mut calls) = self.0 .0.lock() {
            calls.push(op);
        }
        Ok(())
    }
}

/// State built from `settings`, its DynamoDB client counting into the returned counter.
pub async fn counted_state(settings: Settings) -> Result<(AppState, Arc<Counter>), StartupError> {
    let mut state = AppState::new(settings).await?;
    let counter = Arc::new(Counter::default());
    let config = state
        .db
        .client
        .config()
        .to_builder()
        .interceptor(Counting(counter.clone()))
        .build();
    state.db = Db::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        state.db.table.clone(),
        state.db.reservations.clone(),
    )
    .resolving_within(state.db.resolve_within);
    Ok((state, counter))
}
