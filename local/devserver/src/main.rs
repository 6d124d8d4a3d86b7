//! `devserver serve | create-tables | seed ARGS`: the local stack's commands.

use std::process::ExitCode;
use std::sync::Arc;

use devserver::catalog::{self, SeedArgs};
use shared::AppState;

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("devserver: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let (command, rest) = args.split_first().ok_or(USAGE)?;
    let state = AppState::from_env().await.map_err(|e| e.to_string())?;
    match command.as_str() {
        "create-tables" => catalog::create_tables(&state).await.map_err(store)?,
        "seed" => {
            let seed = SeedArgs::parse(rest)?;
            catalog::seed(&state, &seed).await.map_err(store)?;
            println!(
                "seeded concert {} on {} date(s), {} seats each",
                seed.concert,
                seed.dates.len(),
                seed.seats
            );
        }
        "serve" => serve(state).await?,
        "check-invariants" => {
            let filter = devserver::invariants::Filter::parse(rest)?;
            let report = devserver::invariants::check(&state.db, &filter, chrono::Utc::now())
                .await
                .map_err(store)?;
            print!("{report}");
            if !report.is_clean() {
                return Err(format!(
                    "{} invariant violation(s)",
                    report.violations.len()
                ));
            }
        }
        "bench" => {
            let scale = rest.first().and_then(|n| n.parse().ok()).unwrap_or(1000);
            devserver::bench::run(state.settings.clone(), scale).await?;
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}

const USAGE: &str = "usage: devserver serve | create-tables | seed --concert-id ID --dates D1,D2 [--seats 50] [--price 50000] | check-invariants [--user-prefix P] [--concert-prefix C]";

fn store(e: shared::StoreError) -> String {
    let mut out = e.to_string();
    let mut next = std::error::Error::source(&e);
    while let Some(cause) = next {
        out.push_str(&format!(": {cause}"));
        next = cause.source();
    }
    out
}

async fn serve(state: AppState) -> Result<(), String> {
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|_| format!("setting PORT={p:?} is invalid"))?,
        Err(_) => 3000,
    };
    catalog::create_tables(&state).await.map_err(store)?;
    let demo = catalog::demo();
    catalog::seed(&state, &demo).await.map_err(store)?;
    let state = Arc::new(state);
    let ttl = devserver::events::TtlLog::default();
    tokio::spawn(devserver::events::run_ttl(state.clone(), ttl.clone()));
    tokio::spawn(devserver::events::run_stream(state.clone(), ttl));
    tokio::spawn(devserver::events::run_sweeps(state.clone()));
    let app = devserver::app(state.clone())?;
    let addr = devserver::server::spawn(app, port)
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    tracing::info!(%addr, concert = %demo.concert, "serving the API");
    println!("Serving http://{addr} (demo concert: {})", demo.concert);
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
    Ok(())
}
