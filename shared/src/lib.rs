//! The concert booking domain crate, shared by every Lambda function and the local stack.
//!
//! - `domain`: IDs, money and rules, with no I/O.
//! - `flows`: each seed flow's steps, calling the stores.
//! - `store`: DynamoDB items and calls, Redis scripts and calls.
//! - `http`: request parsing, the token guard and responses, shared by every handler.

#[cfg(feature = "counting")]
pub mod counting;
pub mod domain;
pub mod error;
pub mod flows;
pub mod http;
pub mod lambda;
pub mod metrics;
pub mod settings;
pub mod state;
pub mod store;
pub mod telemetry;

pub use error::{ApiError, StoreError};
pub use state::AppState;
