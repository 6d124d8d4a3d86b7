//! `GET /.well-known/ticket-keys.json`: the public keys that verify ticket codes, as a JWKS of
//! OKP/Ed25519 keys: the current one, and each retired one until its last date. Public (no
//! authorizer in AWS), so a gate app can fetch it once and check codes offline.
//! Round trips: none; the keys are the function's settings.

use lambda_http::http::header::CACHE_CONTROL;
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::Request;
use shared::http::{self, views::JwksView, HttpResponse};
use shared::{flows, AppState};

/// Gates and browsers may keep it this long: a rotation keeps the old key listed for days.
const MAX_AGE: &str = "public, max-age=300";

pub async fn handler(state: &AppState, _req: Request) -> Result<HttpResponse, lambda_http::Error> {
    http::respond(async {
        let keys = flows::tickets::published(state)?;
        let mut response = http::json(StatusCode::OK, &JwksView::new(&keys));
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(MAX_AGE));
        Ok(response)
    })
    .await
}
