//! The local stack's Rust side: the development server ([`server`]), the identity provider
//! and JWT authorizer it plays ([`auth`]), the route table read from
//! template.yaml ([`routes`]), the stream, schedule and TTL ([`events`]), and the catalog and
//! invariant commands ([`catalog`], [`invariants`]); the web pages ([`static_files`]).

pub mod auth;
pub mod catalog;
pub mod events;
pub mod invariants;
pub mod routes;
pub mod server;
pub mod static_files;

use std::sync::Arc;

use shared::AppState;

/// Builds the app from state: the router from template.yaml, the handlers of the crates.
pub fn app(state: Arc<AppState>) -> Result<Arc<server::App>, String> {
    Ok(Arc::new(server::App {
        state,
        router: routes::Router::from_template()?,
        auth: auth::LocalAuth::new(),
    }))
}
