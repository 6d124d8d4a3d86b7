//! Flow 1, the waiting room. Round trips: issuing a token is one DynamoDB read (the concert),
//! one Redis script and one DynamoDB write (the audit record); a poll is one Redis script.

use chrono::Utc;

use crate::domain::queue::TokenStatus;
use crate::domain::{ConcertId, QueueToken, UserId};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::items::TokenItem;
use crate::store::scripts::{Issued, Lookup, QueueScripts};

/// Puts the user in line for the concert, or returns the live token they already have.
pub async fn issue(
    state: &AppState,
    user: &UserId,
    concert: &ConcertId,
) -> Result<Issued, ApiError> {
    if !state.db.concert_exists(concert).await? {
        return Err(ApiError::NotFound(format!(
            "concert {concert} does not exist"
        )));
    }
    let issued = QueueScripts::new(&state.redis, &state.settings)
        .issue(user, concert, QueueToken::generate())
        .await?;
    let (Issued::New(status) | Issued::Existing(status)) = &issued;
    // Written for both answers: a retry after a failed audit write completes it, and the
    // condition keeps the first record.
    state
        .db
        .put_token(&TokenItem::new(status.token, user, concert, Utc::now()))
        .await?;
    Ok(issued)
}

/// The live token's state, or the contract's refusal for a token that is not live.
pub async fn token_status(
    state: &AppState,
    token: &QueueToken,
    poll: bool,
) -> Result<TokenStatus, ApiError> {
    match QueueScripts::new(&state.redis, &state.settings)
        .status(token, poll)
        .await?
    {
        Lookup::Live(status) => Ok(status),
        Lookup::Ended => Err(ApiError::TokenExpired),
        // Redis forgets ended tokens after a while; the audit record tells expired from forged.
        Lookup::Unknown => match state.db.get_token(token).await? {
            Some(_) => Err(ApiError::TokenExpired),
            None => Err(ApiError::TokenInvalid),
        },
    }
}

/// Spends the token after a payment: TOKEN_EXPIRED from now on, and its place freed.
pub async fn spend(state: &AppState, token: &QueueToken) -> Result<(), ApiError> {
    QueueScripts::new(&state.redis, &state.settings)
        .spend(token)
        .await?;
    Ok(())
}
