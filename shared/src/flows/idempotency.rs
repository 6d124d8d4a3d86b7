//! Keyed writes (`Idempotency-Key`): the rules every keyed write follows.
//!
//! - A key belongs to one user and one operation (its scope); the same key used for a charge
//!   and a payment names two records.
//! - The record is written in the same transaction as the work, so it exists if and only if
//!   the work was done, and it holds the request in canonical form (its compact JSON, fields in
//!   declaration order) and the work's result.
//! - The same request again gets the first result again and changes nothing; another request
//!   under the key is refused (`IDEMPOTENCY_KEY_REUSED`), also without writing.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::{IdempotencyKey, UserId};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::items::{IdempotencyItem, IdempotencyScope};

/// A request under a key, ready to be recorded with its result or compared with a record.
#[derive(Debug, Clone)]
pub struct Keyed<'a> {
    pub user: &'a UserId,
    pub scope: IdempotencyScope,
    pub key: &'a IdempotencyKey,
    pub request: String,
}

impl<'a> Keyed<'a> {
    /// `None` for a request without a key.
    pub fn new<T: Serialize>(
        user: &'a UserId,
        scope: IdempotencyScope,
        key: Option<&'a IdempotencyKey>,
        request: &T,
    ) -> Result<Option<Self>, ApiError> {
        let Some(key) = key else { return Ok(None) };
        Ok(Some(Self {
            user,
            scope,
            key,
            request: serde_json::to_string(request)?,
        }))
    }

    /// The record to write in the work's transaction.
    pub fn record<R: Serialize>(
        &self,
        result: &R,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyItem, ApiError> {
        Ok(IdempotencyItem::new(
            self.user,
            self.scope,
            self.key,
            self.request.clone(),
            serde_json::to_string(result)?,
            now,
        ))
    }

    /// The first result again for the same request; 422 for another request under the key.
    pub fn replay<R: DeserializeOwned>(&self, record: IdempotencyItem) -> Result<R, ApiError> {
        if record.request != self.request {
            return Err(ApiError::IdempotencyKeyReused);
        }
        Ok(serde_json::from_str(&record.response)?)
    }

    /// After a write was cancelled because a request with the same key committed first: that
    /// request's result, from the record's image when the cancellation carried it, else read
    /// (one consistent GetItem). `None` when the record is not there (yet): try again.
    pub async fn replay_winner<R: DeserializeOwned>(
        &self,
        state: &AppState,
        image: Option<IdempotencyItem>,
    ) -> Result<Option<R>, ApiError> {
        let record = match image {
            Some(record) => Some(record),
            None => {
                state
                    .db
                    .idempotency_record(self.user, self.scope, self.key)
                    .await?
            }
        };
        record.map(|r| self.replay(r)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
    struct Done {
        n: u32,
    }

    fn keyed<'a>(user: &'a UserId, key: &'a IdempotencyKey, n: u32) -> Keyed<'a> {
        Keyed::new(user, IdempotencyScope::Charge, Some(key), &Done { n })
            .unwrap()
            .unwrap()
    }

    #[test]
    fn the_same_request_replays_the_first_result() {
        let (user, key) = (
            UserId::parse("u").unwrap(),
            IdempotencyKey::parse("k").unwrap(),
        );
        let first = keyed(&user, &key, 5);
        let record = first.record(&Done { n: 7 }, Utc::now()).unwrap();
        assert_eq!(
            keyed(&user, &key, 5).replay::<Done>(record).unwrap(),
            Done { n: 7 }
        );
    }

    #[test]
    fn another_request_under_the_key_is_refused() {
        let (user, key) = (
            UserId::parse("u").unwrap(),
            IdempotencyKey::parse("k").unwrap(),
        );
        let record = keyed(&user, &key, 5)
            .record(&Done { n: 7 }, Utc::now())
            .unwrap();
        let err = keyed(&user, &key, 6).replay::<Done>(record).unwrap_err();
        assert!(matches!(err, ApiError::IdempotencyKeyReused));
    }

    #[test]
    fn a_request_without_a_key_is_not_keyed() {
        let user = UserId::parse("u").unwrap();
        let keyed = Keyed::new(&user, IdempotencyScope::Charge, None, &Done { n: 1 }).unwrap();
        assert!(keyed.is_none());
    }
}
