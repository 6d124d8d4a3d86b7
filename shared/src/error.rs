//! Every refusal the API can give, and the one mapping from them to problem+json.

use std::time::Duration;

use serde::Serialize;

/// A failure of a backing store. Kept whole for the log; the client only learns whether to
/// come back later (503) or not (500).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed")]
    Dynamo {
        operation: &'static str,
        retryable: bool,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("Redis failed")]
    Redis(#[source] redis::RedisError),
    #[error("{store} did not answer within {after:?}")]
    Timeout {
        store: &'static str,
        after: Duration,
    },
    #[error("an item in DynamoDB has an unexpected shape")]
    Shape(#[source] serde_dynamo::Error),
    /// A request the SDK refused to build: a required field is missing, our bug.
    #[error("a DynamoDB request could not be built")]
    Build(#[source] aws_smithy_types::error::operation::BuildError),
    /// A write whose answer was lost and could not be resolved in time: it may have committed,
    /// so it is never answered as refused (503).
    #[error("the outcome of DynamoDB {operation} is still unknown after {after:?}")]
    OutcomeUnknown {
        operation: &'static str,
        after: Duration,
    },
    /// Other writers kept winning the same item's optimistic condition.
    #[error("{0}")]
    Contended(String),
    #[error("the store answered something unexpected: {0}")]
    Unexpected(String),
}

impl StoreError {
    /// Whether the store may answer if asked again later: 503 with Retry-After, not 500.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Dynamo { retryable, .. } => *retryable,
            StoreError::Redis(e) => {
                e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_unrecoverable_error()
                    || matches!(
                        e.kind(),
                        redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
                            | redis::ErrorKind::Server(redis::ServerErrorKind::TryAgain)
                            | redis::ErrorKind::Server(redis::ServerErrorKind::ClusterDown)
                            | redis::ErrorKind::Server(redis::ServerErrorKind::MasterDown)
                    )
            }
            StoreError::Timeout { .. } | StoreError::Contended(_) => true,
            StoreError::Shape(_)
            | StoreError::Build(_)
            | StoreError::OutcomeUnknown { .. }
            | StoreError::Unexpected(_) => false,
        }
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError::Redis(e)
    }
}

impl From<aws_smithy_types::error::operation::BuildError> for StoreError {
    fn from(e: aws_smithy_types::error::operation::BuildError) -> Self {
        StoreError::Build(e)
    }
}

/// A failure that is nobody's answer: a store that broke in a way asking again will not mend,
/// or a bug of ours. 500; the cause goes to the log.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    #[error(transparent)]
    Store(StoreError),
    #[error("a value did not serialize to JSON")]
    Json(#[source] serde_json::Error),
    #[error("{0}")]
    Bug(String),
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(Internal::Json(e))
    }
}

impl From<serde_dynamo::Error> for StoreError {
    fn from(e: serde_dynamo::Error) -> Self {
        StoreError::Shape(e)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {reason}")]
    Validation { field: String, reason: String },
    #[error("no token")]
    TokenMissing,
    #[error("unknown or malformed token")]
    TokenInvalid,
    #[error("expired token")]
    TokenExpired,
    #[error("token not active yet")]
    TokenNotActive,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    SeatUnavailable(String),
    #[error("{0}")]
    ReservationExpired(String),
    #[error("{0}")]
    ReservationNotHeld(String),
    #[error("{0}")]
    SeatLimitReached(String),
    #[error("{0}")]
    ReservationNotPaid(String),
    #[error("{0}")]
    RefundWindowClosed(String),
    #[error("{0}")]
    InsufficientBalance(String),
    #[error("{0}")]
    BalanceLimitExceeded(String),
    #[error("{0}")]
    CatalogLocked(String),
    #[error("operator credentials are missing or wrong")]
    AdminUnauthorized,
    /// No signed-in buyer: API Gateway's JWT authorizer passed no claims (or no valid `sub`).
    /// Answered as the gateway answers a refused access token ([`crate::http::unauthorized`]),
    /// not as problem+json, so a client meets one shape whoever refused it.
    #[error("no signed-in buyer")]
    Unauthenticated,
    /// A ticket code whose shape or signature is wrong (the reason is logged, not told).
    #[error("{0}")]
    TicketInvalid(String),
    /// A seat already let in: a second scan of its ticket, or a refund of its reservation.
    /// `at` is when it was let in, in `detail` and as the problem's `checkedInAt`.
    #[error("{what} was checked in at {}", crate::http::views::instant(*.at))]
    AlreadyCheckedIn {
        what: String,
        at: chrono::DateTime<chrono::Utc>,
    },
    #[error("{0}")]
    TicketRefunded(String),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a backing store is unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] Internal),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            ApiError::Unavailable(e)
        } else {
            ApiError::Internal(Internal::Store(e))
        }
    }
}

impl ApiError {
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Seconds a client should wait before retrying a 503.
    pub const RETRY_AFTER_SECONDS: u64 = 1;

    /// The HTTP status, the contract's code and a short title.
    pub fn parts(&self) -> (u16, &'static str, &'static str) {
        match self {
            ApiError::Validation { .. } => (400, "VALIDATION_FAILED", "The request is invalid"),
            ApiError::TokenMissing => (401, "TOKEN_MISSING", "A queue token is required"),
            ApiError::TokenInvalid => (401, "TOKEN_INVALID", "The queue token is not valid"),
            ApiError::TokenExpired => (401, "TOKEN_EXPIRED", "The queue token has expired"),
            ApiError::TokenNotActive => {
                (403, "TOKEN_NOT_ACTIVE", "The queue token is still waiting")
            }
            ApiError::Forbidden(_) => (403, "FORBIDDEN", "Not allowed with this token"),
            ApiError::NotFound(_) => (404, "NOT_FOUND", "Not found"),
            ApiError::SeatUnavailable(_) => (409, "SEAT_UNAVAILABLE", "The seat is not available"),
            ApiError::ReservationExpired(_) => {
                (409, "RESERVATION_EXPIRED", "The reservation has expired")
            }
            ApiError::ReservationNotHeld(_) => {
                (409, "RESERVATION_NOT_HELD", "The reservation is not held")
            }
            ApiError::SeatLimitReached(_) => (
                409,
                "SEAT_LIMIT_REACHED",
                "The buyer's seat limit for this concert is reached",
            ),
            ApiError::ReservationNotPaid(_) => {
                (409, "RESERVATION_NOT_PAID", "The reservation is not paid")
            }
            ApiError::RefundWindowClosed(_) => (
                409,
                "REFUND_WINDOW_CLOSED",
                "The reservation can no longer be refunded",
            ),
            ApiError::InsufficientBalance(_) => {
                (409, "INSUFFICIENT_BALANCE", "The balance is too low")
            }
            ApiError::BalanceLimitExceeded(_) => (
                409,
                "BALANCE_LIMIT_EXCEEDED",
                "The balance limit would be exceeded",
            ),
            ApiError::CatalogLocked(_) => (
                409,
                "CATALOG_LOCKED",
                "The catalog of this date can no longer change",
            ),
            ApiError::Unauthenticated => (401, "UNAUTHORIZED", "Sign-in is required"),
            ApiError::AdminUnauthorized => (
                401,
                "ADMIN_UNAUTHORIZED",
                "Operator credentials are required",
            ),
            ApiError::TicketInvalid(_) => (400, "TICKET_INVALID", "The ticket code is not valid"),
            ApiError::AlreadyCheckedIn { .. } => (
                409,
                "ALREADY_CHECKED_IN",
                "The ticket was already checked in",
            ),
            ApiError::TicketRefunded(_) => {
                (409, "TICKET_REFUNDED", "The ticket's seat was refunded")
            }
            ApiError::IdempotencyKeyReused => (
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "The Idempotency-Key was reused",
            ),
            ApiError::Unavailable(_) => (503, "SERVICE_UNAVAILABLE", "The service is unavailable"),
            ApiError::Internal(_) => (500, "INTERNAL_ERROR", "Internal error"),
        }
    }

    /// The problem document. Internal causes stay out of it: they go to the log.
    pub fn problem(&self) -> Problem {
        let (status, code, title) = self.parts();
        let detail = match self {
            ApiError::Unavailable(_) => "a backing store is unavailable; retry later".to_owned(),
            ApiError::Internal(Internal::Store(StoreError::OutcomeUnknown { .. })) => {
                "the store did not say whether this write was made; read it back, or send it \
                 again with the same Idempotency-Key"
                    .to_owned()
            }
            ApiError::Internal(_) => "an internal error occurred".to_owned(),
            other => other.to_string(),
        };
        Problem {
            kind: format!("/problems/{}", code.to_ascii_lowercase().replace('_', "-")),
            title,
            status,
            detail,
            code,
            checked_in_at: match self {
                ApiError::AlreadyCheckedIn { at, .. } => Some(crate::http::views::instant(*at)),
                _ => None,
            },
        }
    }
}

/// RFC 9457 problem details, with the contract's machine-readable `code`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: &'static str,
    /// ALREADY_CHECKED_IN only (an RFC 9457 extension member): when the seat was let in, for
    /// a door that shows it without reading `detail`.
    #[serde(rename = "checkedInAt", skip_serializing_if = "Option::is_none")]
    pub checked_in_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_causes_never_reach_the_problem_document() {
        let err = ApiError::from(StoreError::Unexpected("secret table layout".into()));
        let problem = err.problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("secret"));
    }

    #[test]
    fn timeouts_are_transient_and_answer_503() {
        let err = ApiError::from(StoreError::Timeout {
            store: "Redis",
            after: Duration::from_millis(5),
        });
        assert_eq!(err.problem().code, "SERVICE_UNAVAILABLE");
    }
}
