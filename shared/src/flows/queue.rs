//! Flow 1, the waiting room. Round trips: issuing a token (new or asked again) is one Redis
//! script, plus one DynamoDB read (the concert) the first time a process sees the concert; a
//! poll is one Redis script. A token that is not ours (its signature fails) costs no round trip
//! at all. A new token's audit is a log line (target `audit`), not a write.
//!
//! Fair use (`BUYER_RATE_PER_SECOND`, bursts of `BUYER_BURST`) is taken inside those same
//! scripts, from the buyer's bucket on the concert's line: a call past it is
//! TOO_MANY_REQUESTS and changes nothing. The guard's script also binds the token to the buyer
//! who presents it: another user's token is FORBIDDEN, its clocks untouched.
//!
//! The line's controls (`activeLimit`, `paused`, `opensAt`) are the concert's, in DynamoDB;
//! the scripts use the line's mirror of them in Redis, which the operator's changes write. A
//! script that finds no mirror (a new line, or Redis lost it), or whose mirror is due to be
//! confirmed (every 10 s, one caller per line), asks for them, and the call reads the concert
//! and runs again with it: two more round trips, once per line and 10 s.

use chrono::{DateTime, Utc};

use crate::domain::queue::{LineControls, Pacing, TokenStatus};
use crate::domain::token::{SignedToken, TokenId};
use crate::domain::{ConcertId, QueueToken, ReservationId, UserId};
use crate::error::ApiError;
use crate::error::StoreError;
use crate::metrics::{self, Metric};
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::scripts::{Controlled, Issued, Lookup, QueueScripts, Who};

/// Puts the user in line for the concert, or returns the live token they already have.
pub async fn issue(
    state: &AppState,
    user: &UserId,
    concert: &ConcertId,
) -> Result<Issued, ApiError> {
    let known = state
        .concerts
        .read()
        .is_ok_and(|known| known.contains(concert));
    // Read now anyway: the first call may as well bring the mirror its newest copy.
    let mut controls = None;
    if !known {
        let Some(item) = state.db.concert_item(concert).await? else {
            return Err(ApiError::NotFound(format!(
                "concert {concert} does not exist"
            )));
        };
        controls = Some(item.controls());
        if let Ok(mut known) = state.concerts.write() {
            known.insert(concert.clone());
        }
    }
    let fresh = TokenId::generate();
    let scripts = QueueScripts::new(&state.redis, &state.settings);
    let (issued, admitted) = with_controls(state, concert, controls, |controls| {
        scripts.issue(user, concert, fresh.clone(), controls)
    })
    .await?;
    let new = matches!(issued, Issued::New(_));
    if new {
        audit_new_token(&fresh, user, concert, Utc::now());
    }
    metrics::record(&[
        (Metric::TokensIssued, if new { 1.0 } else { 0.0 }),
        (Metric::Admissions, f64::from(admitted)),
    ]);
    Ok(issued)
}

/// The audit of a new token: one structured line (CloudWatch Logs keeps it for the log group's
/// retention; docs/security.md has the Logs Insights queries). The token's ID, never the
/// token: the ID is what the line stores, and without the signing key it is not a token.
fn audit_new_token(id: &TokenId, user: &UserId, concert: &ConcertId, at: DateTime<Utc>) {
    tracing::info!(
        target: crate::telemetry::AUDIT,
        tokenId = %id,
        userId = %user,
        concertId = %concert,
        issuedAt = %at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "queue token issued"
    );
}

/// Runs a queue script with `first` (the controls, if the caller read them), and once more
/// with the concert's controls as stored if the line asks for them. When that read fails and
/// the line has a mirror (it asked for a recheck), the script runs with the mirror it has.
async fn with_controls<T, F, Fut>(
    state: &AppState,
    concert: &ConcertId,
    first: Option<LineControls>,
    run: F,
) -> Result<T, ApiError>
where
    F: Fn(Option<LineControls>) -> Fut,
    Fut: std::future::Future<Output = Result<Controlled<T>, StoreError>>,
{
    let mirrored = match run(first).await? {
        Controlled::Done(done) => return Ok(done),
        Controlled::TooFast { retry_after_ms } => return Err(too_fast(retry_after_ms)),
        Controlled::Asked { mirrored } => mirrored,
    };
    let controls = match read_controls(state, concert).await {
        Ok(controls) => Some(controls),
        Err(e) if mirrored => {
            tracing::warn!(error = %e, concert = %concert, "controls not rechecked; the mirror serves");
            None
        }
        Err(e) => return Err(e),
    };
    match run(controls).await? {
        Controlled::Done(done) => Ok(done),
        Controlled::TooFast { retry_after_ms } => Err(too_fast(retry_after_ms)),
        Controlled::Asked { .. } => {
            Err(StoreError::Unexpected("the line asked for its controls twice".into()).into())
        }
    }
}

/// Fair use's refusal: `Retry-After` in whole seconds, at least 1.
pub(crate) fn too_fast(retry_after_ms: u64) -> ApiError {
    ApiError::TooManyRequests {
        retry_after_seconds: retry_after_ms.div_ceil(1_000).max(1),
    }
}

/// The concert's controls as stored, for the line's mirror. A concert that does not exist
/// (a signed token outlives nothing, but be safe) has the defaults.
async fn read_controls(state: &AppState, concert: &ConcertId) -> Result<LineControls, ApiError> {
    let item = state.db.concert_item(concert).await?;
    Ok(item.map(|c| c.controls()).unwrap_or_default())
}

/// The line's pacing, from the settings: the model of the hints the line's scripts give
/// (`pollAfterSeconds` comes from the script, which sets each waiter's drop-out deadline by it).
pub fn pacing(s: &Settings) -> Pacing {
    Pacing {
        max_seconds: s.queue_poll_max.as_secs(),
        budget: f64::from(s.queue_poll_budget),
    }
}

/// The slowest admission rate of a concert of `active_limit`: one place a token's life.
pub fn slowest_rate(s: &Settings, active_limit: u32) -> f64 {
    f64::from(active_limit) / s.active_token_ttl.as_secs_f64()
}

/// A token we signed, or TOKEN_INVALID without any I/O.
fn verified(state: &AppState, token: &QueueToken) -> Result<SignedToken, ApiError> {
    state
        .settings
        .queue_token_key
        .verify(token)
        .ok_or(ApiError::TokenInvalid)
}

/// The live token's state, for a call by `buyer` (`None` before sign-in: whoever holds it),
/// counted as activity that keeps it; or the contract's refusal: TOKEN_INVALID (no I/O),
/// TOKEN_EXPIRED, FORBIDDEN (another user's), TOO_MANY_REQUESTS (fair use).
async fn token_status(
    state: &AppState,
    token: &QueueToken,
    buyer: Option<&UserId>,
) -> Result<TokenStatus, ApiError> {
    let signed = verified(state, token)?;
    let who = match buyer {
        Some(user) => Who::Buyer(user),
        None => Who::Holder(&signed.id),
    };
    let scripts = QueueScripts::new(&state.redis, &state.settings);
    let (lookup, admitted) = with_controls(state, &signed.concert, None, |controls| {
        scripts.status(&signed, who, true, controls)
    })
    .await?;
    metrics::record(&[(Metric::Admissions, f64::from(admitted))]);
    match lookup {
        Lookup::Live(status) => Ok(status),
        // Signed by us and not in the line: it was ours and ended (or Redis forgot it).
        Lookup::Ended => Err(ApiError::TokenExpired),
        Lookup::OtherUsers => Err(ApiError::Forbidden(
            "the queue token belongs to another user".into(),
        )),
    }
}

/// `GET /queue/status`: the state of the signed-in buyer's token, as a poll.
pub async fn poll(
    state: &AppState,
    token: &QueueToken,
    buyer: &UserId,
) -> Result<TokenStatus, ApiError> {
    let status = token_status(state, token, Some(buyer)).await;
    metrics::count(Metric::Polls);
    status
}

/// Spends the token after a payment: TOKEN_EXPIRED from now on, and its place freed.
pub async fn spend(state: &AppState, token: &QueueToken) -> Result<(), ApiError> {
    let signed = verified(state, token)?;
    let admitted = QueueScripts::new(&state.redis, &state.settings)
        .spend(&signed)
        .await?;
    metrics::record(&[(Metric::Admissions, f64::from(admitted))]);
    Ok(())
}

/// While its user's hold `reservation` is live (until `until`), the ACTIVE token counts as
/// active (it does not idle out while its user pays). Ignores a token that is no longer live
/// and ACTIVE.
pub async fn keep_active_until(
    state: &AppState,
    token: &QueueToken,
    until: DateTime<Utc>,
    reservation: &ReservationId,
) -> Result<(), ApiError> {
    let signed = verified(state, token)?;
    QueueScripts::new(&state.redis, &state.settings)
        .keep_active(&signed, until, &reservation.to_string())
        .await?;
    Ok(())
}

/// Its holder released the hold `reservation`: it no longer keeps the ACTIVE token active,
/// whose idle clock restarts now (`ACTIVE_TOKEN_IDLE_SECONDS` from the release), unless
/// another of its user's live holds keeps it longer. Ignores a token no longer live and ACTIVE.
pub async fn hold_released(
    state: &AppState,
    token: &QueueToken,
    reservation: &ReservationId,
) -> Result<(), ApiError> {
    let signed = verified(state, token)?;
    QueueScripts::new(&state.redis, &state.settings)
        .hold_released(&signed, &reservation.to_string())
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

/// The token guard: the token must be live, the signed-in buyer's own (FORBIDDEN otherwise,
/// and that token left untouched), and ACTIVE where `need` says so; the buyer's call must be
/// within fair use (TOO_MANY_REQUESTS otherwise, and nothing changed). One Redis script. The
/// call counts as a poll, so it keeps a waiting token in line and an ACTIVE one from idling
/// out.
pub async fn guard(
    state: &AppState,
    token: &QueueToken,
    need: Need,
    buyer: &UserId,
) -> Result<Caller, ApiError> {
    admit_need(token_status(state, token, Some(buyer)).await?, need)
}

fn admit_need(status: TokenStatus, need: Need) -> Result<Caller, ApiError> {
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
