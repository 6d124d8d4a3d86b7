//! Response bodies, exactly as the contract spells them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::domain::queue::TokenStatus;

pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `POST /queue/tokens` and `GET /queue/status`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub token: String,
    pub user_id: String,
    pub concert_id: String,
    pub status: &'static str,
    pub position: u64,
    pub estimated_wait_seconds: Option<u64>,
    pub active_until: Option<String>,
}

impl From<&TokenStatus> for TokenView {
    fn from(s: &TokenStatus) -> Self {
        Self {
            token: s.token.to_string(),
            user_id: s.user_id.to_string(),
            concert_id: s.concert_id.to_string(),
            status: if s.is_active() { "ACTIVE" } else { "WAITING" },
            position: s.position(),
            estimated_wait_seconds: s.estimated_wait_seconds(),
            active_until: s.active_until().map(instant),
        }
    }
}
