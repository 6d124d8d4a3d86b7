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

/// What a call asks of the caller's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Admitted from the waiting room.
    Active,
    /// Issued and live, waiting or admitted (balance calls).
    Live,
}

/// The token guard: the token must be live (and ACTIVE where `need` says so). The call counts
/// as a poll, so it keeps a waiting token in line.
pub async fn guard(state: &AppState, token: &QueueToken, need: Need) -> Result<Caller, ApiError> {
    let status = token_status(state, token, true).await?;
    if need == Need::Active && !status.is_active() {
        return Err(ApiError::TokenNotActive);
    }
    Ok(Caller(status))
}

/// A caller whose token passed the guard.
#[derive(Debug, Clone)]
pub struct Caller(pub TokenStatus);

impl Caller {
    pub fn token(&self) -> &QueueToken {
        &self.0.token
    }
    pub fn user(&self) -> &UserId {
        &self.0.user_id
    }
    pub fn concert(&self) -> &ConcertId {
        &self.0.concert_id
    }
    /// The token must be this user's.
    pub fn must_be_user(&self, user: &UserId) -> Result<(), ApiError> {
        if &self.0.user_id != user {
            return Err(ApiError::Forbidden(format!(
                "the token belongs to another user than {user}"
            )));
        }
        Ok(())
    }
    /// The token must be for this concert.
    pub fn must_be_concert(&self, concert: &ConcertId) -> Result<(), ApiError> {
        if &self.0.concert_id != concert {
            return Err(ApiError::Forbidden(format!(
                "the token is for another concert than {concert}"
            )));
        }
        Ok(())
    }
    /// Who pays with this token.
    pub fn payer(&self) -> crate::flows::payments::Payer<'_> {
        crate::flows::payments::Payer {
            token: &self.0.token,
            concert: &self.0.concert_id,
        }
    }
}
