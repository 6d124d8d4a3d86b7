//! `prepare raise --expected-users N [--dry-run]` before a ticket opening, `prepare lower
//! [--dry-run]` after it: see the crate's documentation and docs/operations.md. Credentials and
//! region come from the standard chain, as the operator's shell has them.
//!
//! Exit 1 when AWS refuses or cannot be reached, 2 on a usage error.

use std::process::ExitCode;

use aws_config::BehaviorVersion;
use prepare::cli::Command;
use prepare::Clients;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match Command::parse(&args) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("prepare: {e:#}");
            return ExitCode::from(2);
        }
    };
    let config = aws_config::defaults(BehaviorVersion::latest())
        // rustls on ring, as every other AWS client of the workspace
        // (shared::state::https_client): no second TLS stack to build.
        .http_client({
            use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https()
        })
        .load()
        .await;
    if config.region().is_none() {
        eprintln!("prepare: no AWS region: set AWS_REGION, or a region in the profile");
        return ExitCode::from(2);
    }
    let clients = Clients {
        cache: aws_sdk_elasticache::Client::new(&config),
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
    };
    let code = prepare::execute(
        &command,
        &clients,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )
    .await;
    ExitCode::from(code)
}
