//! DynamoDB I/O. Every call here is one round trip; item shapes come from `items`.

use std::collections::HashMap;
use std::fmt::Debug;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::ConcertId;
use crate::error::StoreError;
use crate::store::items::{keys, ConcertItem};

/// Error codes after which the same request may succeed later: 503, not 500.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
];

/// Keeps the SDK error whole as the source, and classifies it once.
pub fn sdk_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => err.code().is_some_and(|c| TRANSIENT_CODES.contains(&c)),
        _ => false,
    };
    StoreError::Dynamo {
        operation,
        retryable,
        source: Box::new(err),
    }
}

pub type Item = HashMap<String, AttributeValue>;

/// How many times a BatchGetItem is sent for the keys it left unprocessed.
const BATCH_GET_ATTEMPTS: u32 = 4;

/// An item's primary key.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([
        ("PK".to_owned(), AttributeValue::S(pk.into())),
        ("SK".to_owned(), AttributeValue::S(sk.into())),
    ])
}

/// A string value for an expression.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number value for an expression.
pub fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// An SDK builder's result: a missing required field is our bug.
pub fn built<T>(
    r: Result<T, aws_smithy_types::error::operation::BuildError>,
) -> Result<T, StoreError> {
    r.map_err(StoreError::from)
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    Ok(serde_dynamo::to_item(value)?)
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

/// A cancellation reason code, as DynamoDB documents them for TransactWriteItems. This is the
/// one place that reads them; every write's module turns them into its own outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReasonCode {
    /// This item was fine; another one cancelled the transaction.
    None,
    /// The item's condition failed: an answer, never retried.
    ConditionalCheckFailed,
    /// Another transaction or write held the item (AWS only; DynamoDB Local runs one at a time).
    TransactionConflict,
    /// The partition or table is throttled (a hot partition on on-sale day).
    ThrottlingError,
    ProvisionedThroughputExceeded,
    RequestLimitExceeded,
    /// An item collection over 10 GB (a table with a local secondary index; ours have none).
    ItemCollectionSizeLimitExceeded,
    /// The request was malformed: our bug.
    ValidationError,
    /// A code DynamoDB may add later.
    Other(String),
}

/// What a reason means for the transaction as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonClass {
    Fine,
    ConditionFailed,
    Conflict,
    /// Come back later: 503 with Retry-After.
    Throttled,
    /// Asking again will not help: 500.
    Broken,
}

impl ReasonCode {
    pub fn parse(code: Option<&str>) -> Self {
        match code.unwrap_or("None") {
            "None" | "" => ReasonCode::None,
            "ConditionalCheckFailed" => ReasonCode::ConditionalCheckFailed,
            "TransactionConflict" => ReasonCode::TransactionConflict,
            "ThrottlingError" => ReasonCode::ThrottlingError,
            "ProvisionedThroughputExceeded" => ReasonCode::ProvisionedThroughputExceeded,
            "RequestLimitExceeded" => ReasonCode::RequestLimitExceeded,
            "ItemCollectionSizeLimitExceeded" => ReasonCode::ItemCollectionSizeLimitExceeded,
            "ValidationError" => ReasonCode::ValidationError,
            other => ReasonCode::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ReasonCode::None => "None",
            ReasonCode::ConditionalCheckFailed => "ConditionalCheckFailed",
            ReasonCode::TransactionConflict => "TransactionConflict",
            ReasonCode::ThrottlingError => "ThrottlingError",
            ReasonCode::ProvisionedThroughputExceeded => "ProvisionedThroughputExceeded",
            ReasonCode::RequestLimitExceeded => "RequestLimitExceeded",
            ReasonCode::ItemCollectionSizeLimitExceeded => "ItemCollectionSizeLimitExceeded",
            ReasonCode::ValidationError => "ValidationError",
            ReasonCode::Other(code) => code,
        }
    }

    pub fn class(&self) -> ReasonClass {
        match self {
            ReasonCode::None => ReasonClass::Fine,
            ReasonCode::ConditionalCheckFailed => ReasonClass::ConditionFailed,
            ReasonCode::TransactionConflict => ReasonClass::Conflict,
            ReasonCode::ThrottlingError
            | ReasonCode::ProvisionedThroughputExceeded
            | ReasonCode::RequestLimitExceeded => ReasonClass::Throttled,
            ReasonCode::ItemCollectionSizeLimitExceeded
            | ReasonCode::ValidationError
            | ReasonCode::Other(_) => ReasonClass::Broken,
        }
    }

    /// Every code DynamoDB documents, for the tests that inject each one.
    pub const DOCUMENTED: [&'static str; 8] = [
        "None",
        "ConditionalCheckFailed",
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
        "ItemCollectionSizeLimitExceeded",
        "ValidationError",
    ];
}

/// Why one item of a cancelled TransactWriteItems failed, in request order.
#[derive(Debug, Clone)]
pub struct Reason {
    pub code: ReasonCode,
    /// The item as it was, where the request asked for it on a failed condition.
    pub old: Option<Item>,
}

impl Reason {
    pub fn new(code: &str, old: Option<Item>) -> Self {
        Self {
            code: ReasonCode::parse(Some(code)),
            old,
        }
    }
}

/// A cancelled TransactWriteItems: nothing was written. Shown by its codes only: an item's
/// image may hold a stored request body, which no log may.
#[derive(Debug, Clone, thiserror::Error)]
#[error("transaction cancelled: {}", codes(&self.0))]
pub struct Cancelled(pub Vec<Reason>);

/// `[ConditionalCheckFailed, None]`: the reasons' codes, in request order.
fn codes(reasons: &[Reason]) -> String {
    let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
    format!("[{}]", codes.join(", "))
}

impl Cancelled {
    /// The item at `index` failed its condition: `Some(image)`, the image when it came back.
    pub fn condition_failed(&self, index: usize) -> Option<Option<&Item>> {
        self.0
            .get(index)
            .filter(|r| r.code == ReasonCode::ConditionalCheckFailed)
            .map(|r| r.old.as_ref())
    }

    /// The item at `index` lost a TransactionConflict.
    pub fn conflict_at(&self, index: usize) -> bool {
        self.0
            .get(index)
            .is_some_and(|r| r.code == ReasonCode::TransactionConflict)
    }

    fn any(&self, class: ReasonClass) -> bool {
        self.0.iter().any(|r| r.code.class() == class)
    }

    /// Cancelled only by conflicts with other writers: worth submitting again.
    pub fn is_conflict(&self) -> bool {
        self.any(ReasonClass::Conflict) && !self.any(ReasonClass::ConditionFailed)
    }

    /// A cancellation that no write's condition explains, as a store failure: throttling and
    /// conflicts that outlasted their retries are transient (503, Retry-After), anything else
    /// (ValidationError, ItemCollectionSizeLimitExceeded, an unknown code, or a condition the
    /// write did not expect to fail) is our bug (500). Nothing was written either way.
    pub fn into_store_error(self) -> StoreError {
        let retryable = !self.any(ReasonClass::Broken)
            && !self.any(ReasonClass::ConditionFailed)
            && (self.any(ReasonClass::Throttled) || self.any(ReasonClass::Conflict));
        StoreError::Dynamo {
            operation: "TransactWriteItems",
            retryable,
            source: Box::new(self),
        }
    }
}

/// A TransactWriteItems that did not commit. Only the store sees this: each write's module
/// turns it into that write's own outcome.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error(transparent)]
    Cancelled(Cancelled),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Bounded retries of a transaction that lost a TransactionConflict, with jittered
/// exponential backoff. Conditions that failed are not retried: they are answers.
pub const CONFLICT_ATTEMPTS: u32 = 5;

pub async fn retry_conflicts<T, F, Fut>(mut attempt: F) -> Result<T, TxError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, TxError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(TxError::Cancelled(c)) if c.is_conflict() && tries < CONFLICT_ATTEMPTS => {
                let cap_ms = 10u64 << tries;
                let wait = rand::random_range(cap_ms / 2..=cap_ms);
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            other => return other,
        }
    }
}

/// An item that exists if and only if a transaction committed (its ledger entry, its new
/// reservation): read back when an attempt's outcome was lost, before a cancellation of a
/// later attempt is believed.
#[derive(Debug, Clone)]
pub struct Proof {
    pub table: String,
    pub key: Item,
}

/// How one TransactWriteItems attempt ended, when it did not commit.
enum Attempt {
    Cancelled(Cancelled),
    /// DynamoDB said it did not run it (throttled, invalid, ...).
    Refused(StoreError),
    /// No answer, or one that does not say whether it committed.
    Lost(StoreError),
}

impl Attempt {
    fn of(err: SdkError<TransactWriteItemsError, HttpResponse>) -> Self {
        if let SdkError::ServiceError(e) = &err {
            if let TransactWriteItemsError::TransactionCanceledException(c) = e.err() {
                return Attempt::Cancelled(Cancelled(
                    c.cancellation_reasons()
                        .iter()
                        .map(|r| Reason {
                            code: ReasonCode::parse(r.code()),
                            old: r.item().cloned(),
                        })
                        .collect(),
                ));
            }
        }
        let lost = match &err {
            // A refused connection carried no request; any other dispatch failure may have.
            SdkError::DispatchFailure(_) => !never_sent(&err),
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(_) => err
                .code()
                .is_some_and(|c| OUTCOME_UNKNOWN_CODES.contains(&c)),
            _ => false,
        };
        let err = sdk_error("TransactWriteItems", err);
        if lost {
            Attempt::Lost(err)
        } else {
            Attempt::Refused(err)
        }
    }
}

/// Whether a single write that failed with `err` may still have been applied: its answer was
/// lost (a timeout, a dropped connection, a 500) rather than refused. A refused connection
/// carried no request.
pub(crate) fn may_have_applied<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match err {
        SdkError::DispatchFailure(_) => !never_sent(err),
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(_) => err
            .code()
            .is_some_and(|c| OUTCOME_UNKNOWN_CODES.contains(&c)),
        _ => false,
    }
}

/// Whether the error's cause is a refused TCP connection: no byte of the request left.
fn never_sent(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Service errors after which a transaction may have committed, or may still commit.
const OUTCOME_UNKNOWN_CODES: &[&str] = &[
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// The tables and the client, cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pub client: Client,
    /// Everything but reservations: catalog, hold markers, tokens, balances, ledger. It has
    /// the stream and the TTL.
    pub table: String,
    /// Reservations, with the sweep's `HeldByExpiry` index.
    pub reservations: String,
    /// How long a write whose answer was lost is driven again before it is reported unknown.
    pub resolve_within: std::time::Duration,
}

impl Db {
    /// `main` (keys of the main table) and `reservations` (of the reservations table) in one
    /// consistent BatchGetItem, sent again for the keys DynamoDB left unprocessed (throttling
    /// or the answer's size) after a short jittered, growing wait; every item found, from both
    /// tables. Keys left unprocessed four times: the table is throttling, a 503.
    pub async fn read_consistent(
        &self,
        main: Vec<Item>,
        reservations: Vec<Item>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut request = HashMap::new();
        for (table, keys) in [(&self.table, main), (&self.reservations, reservations)] {
            if !keys.is_empty() {
                let wanted = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build();
                request.insert(table.clone(), built(wanted)?);
            }
        }
        let mut found = Vec::new();
        for attempt in 0..BATCH_GET_ATTEMPTS {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(request))
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            found.extend(out.responses.unwrap_or_default().into_values().flatten());
            match out.unprocessed_keys {
                Some(rest) if !rest.is_empty() => request = rest,
                _ => return Ok(found),
            }
            let wait = rand::random_range(25u64..=50) << attempt;
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        }
        Err(StoreError::Contended(format!(
            "BatchGetItem left keys unprocessed {BATCH_GET_ATTEMPTS} times"
        )))
    }

    pub fn new(client: Client, table: impl Into<String>, reservations: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            reservations: reservations.into(),
            resolve_within: std::time::Duration::from_secs(8),
        }
    }

    /// See [`Db::transact`].
    pub fn resolving_within(mut self, window: std::time::Duration) -> Self {
        self.resolve_within = window;
        self
    }

    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: impl Into<String>,
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item.map(from_item).transpose()
    }

    /// One TransactWriteItems, with its outcome always known when it returns.
    ///
    /// A cancellation comes back with its reasons, item by item: nothing was written. An
    /// attempt whose answer was lost (a timeout, a dropped connection, a 500, a
    /// TransactionInProgress) may have committed, so it is never reported as a failure: the
    /// same request is driven again with the same `ClientRequestToken` (DynamoDB answers a
    /// committed one as a success for 10 minutes) until it answers or `resolve_within`
    /// passes. If a later attempt is cancelled after such a loss, `proof` (an item only this
    /// transaction writes) is read back first: found, the transaction committed. Past the
    /// window the answer is [`StoreError::OutcomeUnknown`], which is never a 503.
    pub async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        proof: Option<&Proof>,
    ) -> Result<(), TxError> {
        let token = uuid::Uuid::new_v4().to_string();
        let started = std::time::Instant::now();
        let mut uncertain = false;
        let mut attempt = 0u32;
        let mut redrives = 0u32;
        let first_timeout = self
            .client
            .config()
            .timeout_config()
            .and_then(|t| t.operation_attempt_timeout())
            .unwrap_or(std::time::Duration::from_secs(2));
        loop {
            attempt += 1;
            // Every attempt is this loop's: an SDK retry would hide an earlier attempt whose
            // answer was lost behind the last one's error (a refused connection).
            let mut once = aws_sdk_dynamodb::config::Builder::default()
                .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled());
            if uncertain {
                // A store slow to answer (working off a backlog after a stall) would time out
                // every re-drive at the first attempt's timeout and never resolve: each one
                // waits twice as long as the one before, within the window.
                redrives += 1;
                let left = self.resolve_within.saturating_sub(started.elapsed());
                let patience =
                    (first_timeout * (1 << redrives.min(5))).min(left.max(first_timeout));
                once = once.timeout_config(
                    aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                        .operation_attempt_timeout(patience)
                        .operation_timeout(patience)
                        .build(),
                );
            }
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(&token)
                .customize()
                .config_override(once)
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            match Attempt::of(err) {
                Attempt::Cancelled(cancelled) => {
                    if !uncertain || proof.is_none() {
                        return Err(TxError::Cancelled(cancelled));
                    }
                    match self.proven(proof).await {
                        Some(true) => return Ok(()),
                        Some(false) => return Err(TxError::Cancelled(cancelled)),
                        None => {} // The proof could not be read: still unknown.
                    }
                }
                // Refused, and no earlier attempt can have committed: as the SDK would, a
                // transient refusal (throttled, connection refused) is tried twice more.
                Attempt::Refused(err) if !uncertain && (!err.is_transient() || attempt >= 3) => {
                    return Err(TxError::Store(err))
                }
                Attempt::Refused(_) if !uncertain => {}
                Attempt::Refused(err) | Attempt::Lost(err) => {
                    uncertain = true;
                    tracing::warn!(attempt, error = %err, "a transaction's outcome is unknown; driving it again");
                }
            }
            if started.elapsed() >= self.resolve_within {
                return Err(TxError::Store(StoreError::OutcomeUnknown {
                    operation: "TransactWriteItems",
                    after: started.elapsed(),
                }));
            }
            let cap_ms = 50u64 << attempt.min(4);
            tokio::time::sleep(std::time::Duration::from_millis(rand::random_range(
                cap_ms / 2..=cap_ms,
            )))
            .await;
        }
    }

    /// Whether the proof item exists; `None` when it could not be read.
    async fn proven(&self, proof: Option<&Proof>) -> Option<bool> {
        let proof = proof?;
        let out = self
            .client
            .get_item()
            .table_name(&proof.table)
            .set_key(Some(proof.key.clone()))
            .consistent_read(true)
            .projection_expression("PK")
            .send()
            .await;
        match out {
            Ok(out) => Some(out.item.is_some()),
            Err(e) => {
                tracing::warn!(error = %sdk_error("GetItem", e), "reading a transaction's proof failed");
                None
            }
        }
    }

    pub async fn concert_exists(&self, concert: &ConcertId) -> Result<bool, StoreError> {
        Ok(self
            .get::<ConcertItem>(keys::concert_pk(concert), keys::CONCERT_SK)
            .await?
            .is_some())
    }
}

/// Cancellations built by hand, for the tests that inject each reason code into each write.
#[cfg(test)]
pub mod testing {
    use super::*;

    /// Every documented code but `None`, which never cancels on its own.
    pub fn each_code() -> impl Iterator<Item = &'static str> {
        ReasonCode::DOCUMENTED.into_iter().filter(|c| *c != "None")
    }

    /// A cancellation of `items` items where the one at `index` has `code`, the rest `None`.
    pub fn cancelled_at(items: usize, index: usize, code: &str) -> Result<(), TxError> {
        cancelled_with(items, index, code, None)
    }

    /// The same, with the item's old image, as ALL_OLD gives it on a failed condition.
    pub fn cancelled_with(
        items: usize,
        index: usize,
        code: &str,
        old: Option<Item>,
    ) -> Result<(), TxError> {
        let reasons = (0..items)
            .map(|i| {
                if i == index {
                    Reason::new(code, old.clone())
                } else {
                    Reason::new("None", None)
                }
            })
            .collect();
        Err(TxError::Cancelled(Cancelled(reasons)))
    }
}
