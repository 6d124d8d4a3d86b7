//! `devserver serve | create-tables | seed ARGS | check-invariants ARGS`: the local stack's
//! commands. The benchmark is `load bench` (tools/load); the stores are `stack` (local/stack).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use devserver::catalog::{self, SeedArgs};
use shared::AppState;

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}`: the error and its causes, one after the other.
            eprintln!("devserver: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> anyhow::Result<()> {
    let (command, rest) = args.split_first().ok_or_else(|| anyhow!(USAGE))?;
    if !matches!(
        command.as_str(),
        "create-tables" | "seed" | "serve" | "check-invariants"
    ) {
        bail!(USAGE);
    }
    let mut settings = shared::settings::Settings::from_env()?;
    // The operator's credential: `make run` makes one when none is given, and says it once.
    let mut generated = None;
    if command == "serve" && settings.admin_token.is_none() {
        let raw = shared::domain::operator::generate();
        settings.admin_token = Some(shared::domain::operator::OperatorToken::parse(&raw)?);
        generated = Some(raw);
    }
    let state = AppState::new(settings).await?;
    match command.as_str() {
        "create-tables" => catalog::create_tables(&state).await?,
        "seed" => {
            let seed = SeedArgs::parse(rest).map_err(anyhow::Error::msg)?;
            catalog::seed(&state, &seed).await?;
            println!(
                "seeded concert {} on {} date(s), {} seats each",
                seed.concert,
                seed.dates.len(),
                seed.seats
            );
        }
        "serve" => serve(state, generated).await?,
        _ => {
            let filter = devserver::invariants::Filter::parse(rest).map_err(anyhow::Error::msg)?;
            let report =
                devserver::invariants::check(&state.db, &filter, chrono::Utc::now()).await?;
            print!("{report}");
            if !report.is_clean() {
                bail!("{} invariant violation(s)", report.violations.len());
            }
        }
    }
    Ok(())
}

const USAGE: &str = "usage: devserver serve | create-tables | seed --concert-id ID --dates D1,D2 [--seats 50] [--price 50000] | check-invariants [--user-prefix P] [--concert-prefix C]";

async fn serve(state: AppState, generated_admin_token: Option<String>) -> anyhow::Result<()> {
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .with_context(|| format!("setting PORT={p:?} is invalid"))?,
        Err(_) => 3000,
    };
    catalog::create_tables(&state).await?;
    let demo = catalog::demo();
    catalog::seed(&state, &demo).await?;
    let state = Arc::new(state);
    let ttl = devserver::events::TtlLog::default();
    tokio::spawn(devserver::events::run_ttl(state.clone(), ttl.clone()));
    tokio::spawn(devserver::events::run_stream(state.clone(), ttl));
    tokio::spawn(devserver::events::run_sweeps(state.clone()));
    let app = devserver::app(state.clone()).map_err(anyhow::Error::msg)?;
    let addr = devserver::server::spawn(app, port)
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    tracing::info!(%addr, concert = %demo.concert, "serving the API");
    println!("Serving http://{addr} (demo concert: {})", demo.concert);
    if let Some(token) = generated_admin_token {
        // On the terminal only, never in the log: it is the operator's credential.
        println!("Operator token (ADMIN_TOKEN, for /admin): {token}");
    }
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    Ok(())
}
