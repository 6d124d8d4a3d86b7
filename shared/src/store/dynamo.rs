//! DynamoDB I/O. Every call here is one round trip; item shapes come from `items`.

use std::collections::HashMap;
use std::fmt::Debug;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, TransactWriteItem, WriteRequest};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::{ConcertDate, ConcertId, QueueToken};
use crate::error::StoreError;
use crate::store::items::{keys, ConcertItem, DateItem, SeatItem, TokenItem};

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
pub fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Unexpected(e.to_string()))
}

pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    Ok(serde_dynamo::to_item(value)?)
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

/// Why one item of a cancelled TransactWriteItems failed, in request order.
#[derive(Debug, Clone)]
pub struct Reason {
    /// `None` (this item was fine), `ConditionalCheckFailed`, `TransactionConflict`, ...
    pub code: String,
    /// The item as it was, where the request asked for it on a failed condition.
    pub old: Option<Item>,
}

impl Reason {
    pub fn condition_failed(&self) -> bool {
        self.code == "ConditionalCheckFailed"
    }
    pub fn conflict(&self) -> bool {
        self.code == "TransactionConflict"
    }
}

/// A TransactWriteItems that did not commit.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// Cancelled, with one reason per item. Nothing was written. Shown by its codes only: an
    /// item's image may hold a stored request body, which no log may.
    #[error("transaction cancelled: {}", codes(.0))]
    Cancelled(Vec<Reason>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `[ConditionalCheckFailed, None]`: the reasons' codes, in request order.
fn codes(reasons: &[Reason]) -> String {
    let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
    format!("[{}]", codes.join(", "))
}

impl TxError {
    /// Cancelled only because another transaction held one of the items (AWS; never locally).
    pub fn is_conflict(&self) -> bool {
        match self {
            TxError::Cancelled(reasons) => {
                reasons.iter().any(Reason::conflict)
                    && !reasons.iter().any(Reason::condition_failed)
            }
            TxError::Store(_) => false,
        }
    }
    /// The reason of the item at `index`, when cancelled.
    pub fn reason(&self, index: usize) -> Option<&Reason> {
        match self {
            TxError::Cancelled(reasons) => reasons.get(index),
            TxError::Store(_) => None,
        }
    }
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
            Err(e) if e.is_conflict() && tries < CONFLICT_ATTEMPTS => {
                let cap_ms = 10u64 << tries;
                let wait = rand::random_range(cap_ms / 2..=cap_ms);
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            other => return other,
        }
    }
}

/// The tables and the client, cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pub client: Client,
    /// Everything but reservations: catalog, hold markers, tokens, balances, ledger. It has
    /// the stream and the TTL.
    pub table: String,
    /// Reservations, with the sweep's `HeldByExpiry` index.
    pub reservations: String,
}

impl Db {
    pub fn new(client: Client, table: impl Into<String>, reservations: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            reservations: reservations.into(),
        }
    }

    async fn get<T: DeserializeOwned>(
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

    /// One TransactWriteItems; a cancellation comes back with its reasons, item by item.
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TxError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(
                    e.err(),
                    TransactWriteItemsError::TransactionCanceledException(_)
                ) =>
            {
                let TransactWriteItemsError::TransactionCanceledException(cancelled) = e.err()
                else {
                    unreachable!("matched above")
                };
                Err(TxError::Cancelled(
                    cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|r| Reason {
                            code: r.code().unwrap_or("None").to_owned(),
                            old: r.item().cloned(),
                        })
                        .collect(),
                ))
            }
            Err(e) => Err(TxError::Store(sdk_error("TransactWriteItems", e))),
        }
    }

    pub async fn concert_exists(&self, concert: &ConcertId) -> Result<bool, StoreError> {
        Ok(self
            .get::<ConcertItem>(keys::concert_pk(concert), keys::CONCERT_SK)
            .await?
            .is_some())
    }

    pub async fn get_token(&self, token: &QueueToken) -> Result<Option<TokenItem>, StoreError> {
        self.get(keys::token_pk(token), keys::TOKEN_SK).await
    }

    /// Records an issued token for audit. Writing the same token again changes nothing.
    pub async fn put_token(&self, item: &TokenItem) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(item)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }

    /// Writes a concert's catalog: the concert, its dates and every seat with its price.
    /// Seeding again with the same values is harmless; holds and sales live in other items.
    pub async fn seed_catalog(
        &self,
        concert: &ConcertId,
        dates: &[ConcertDate],
        seats: u16,
        price: crate::domain::Won,
    ) -> Result<(), StoreError> {
        let mut items = vec![to_item(&ConcertItem::new(concert))?];
        for date in dates {
            items.push(to_item(&DateItem::new(concert, *date, seats))?);
            for n in 1..=seats {
                let seat = crate::domain::SeatNo::new(i64::from(n))
                    .map_err(|e| StoreError::Unexpected(e.to_string()))?;
                items.push(to_item(&SeatItem::new(concert, *date, seat, price))?);
            }
        }
        self.batch_put(items).await
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        for chunk in items.chunks(25) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item.clone()))
                                .build()
                                .expect("put request has an item"),
                        )
                        .build()
                })
                .collect();
            // Unprocessed items come back under load; send them again until none are left.
            for attempt in 0..10u32 {
                if pending.is_empty() {
                    break;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchWriteItem", e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt.min(5)))
                        .await;
                }
            }
            if !pending.is_empty() {
                return Err(StoreError::Unexpected(
                    "BatchWriteItem left items unprocessed".into(),
                ));
            }
        }
        Ok(())
    }
}
