//! Fair use on the routes that check no queue token (the others take it inside the guard's
//! script, `flows::queue::guard`): one round trip to the buyer's own bucket. Past
//! `BUYER_RATE_PER_SECOND` a second on average (bursts of `BUYER_BURST`), TOO_MANY_REQUESTS,
//! and nothing is written: call it before the route's work.

use crate::domain::UserId;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::scripts::fair::FairUse;

/// Takes one call from the buyer's bucket, or refuses it (nothing written).
pub async fn take(state: &AppState, buyer: &UserId) -> Result<(), ApiError> {
    match FairUse::new(&state.redis, &state.settings)
        .take(buyer)
        .await?
    {
        None => Ok(()),
        Some(wait) => Err(super::queue::too_fast(wait.as_millis() as u64)),
    }
}
