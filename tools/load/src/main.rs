//! `load`: a ticket-opening spike against the local server, and the micro-benchmarks that
//! isolate our own overhead. `make load` (local/load.sh) runs them all against a stack of its
//! own; `make bench` runs `load bench` (round trips and throughput of the write flows) against
//! another. Each prints markdown.
//!
//! ```text
//! load spike --concert C [--url U] [--users 1500] [--connections 256] [--hot 5] [--poll-ms MS]
//!            [--attempts 10] [--user-prefix P] [--devserver PATH]
//! load poll [--concurrency 128] [--seconds 2]          (in-process; the stores' environment)
//! load http --concert C [--url U] [--concurrency 64] [--seconds 3]
//! load joins --concert C [--url U] [--concurrency 64] [--seconds 3]
//! load cold-start --bin-dir DIR [--runs 5] [--profile NAME] [--only f1,f2]
//! load bench [SCALE]                                    (in-process; the stores' environment)
//! load bare-server --body TEXT                          (used by `load http`)
//! load scale [--port 6387]                              (its own redis-server; `make scale`)
//! ```
//!
//! Exit 1 when an invariant breaks or a target is missed, 2 on a usage or setup error.

mod api;
mod bench;
mod claims;
mod cold;
mod door;
mod joins;
mod micro;
mod scale;
mod seatmap;
mod spike;
mod stats;

use std::process::ExitCode;
use std::sync::OnceLock;

const USAGE: &str = "usage: load spike --concert C [--url U] [--users N] [--connections N] [--hot N] [--poll-ms MS] [--attempts N] [--user-prefix P] [--devserver PATH]
       load poll [--concurrency N] [--seconds S]
       load http --concert C [--url U] [--concurrency N] [--seconds S]
       load joins --concert C [--url U] [--concurrency N] [--seconds S]
       load cold-start --bin-dir DIR [--runs N] [--profile NAME] [--only f1,f2]
       load bench [SCALE]
       load bare-server --body TEXT
       load scale [--port P]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut all: Vec<String> = std::env::args().skip(1).collect();
    if all.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let command = all.remove(0);
    let mut args = Args(all);
    let result = match command.as_str() {
        "spike" => match spike::Spike::parse(&mut args) {
            Ok(s) => match args.done() {
                Ok(()) => spike::run(s).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        "poll" => micro::poll(&mut args).await,
        "http" => micro::http(&mut args).await,
        "joins" => joins::run(&mut args).await,
        "cold-start" => cold::run(&mut args).await,
        "bench" => bench_command(&args).await,
        "bare-server" => micro::bare_server(&mut args).await.map(|()| true),
        "scale" => match args.number("--port", 6387) {
            Ok(port) => scale::run(port as u16).await,
            Err(e) => Err(e),
        },
        _ => Err(anyhow::anyhow!(USAGE)),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("load {command}: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `load bench [SCALE]` (default 1000 operations per variant): a failed storm is exit 1.
async fn bench_command(args: &Args) -> anyhow::Result<bool> {
    let scale = match args.0.as_slice() {
        [] => 1000,
        [n] => n
            .parse()
            .map_err(|_| anyhow::anyhow!("SCALE must be a whole number, not {n:?}"))?,
        _ => anyhow::bail!(USAGE),
    };
    let settings = shared::settings::Settings::from_env()?;
    match bench::run(settings, scale).await {
        Ok(()) => Ok(true),
        Err(e) => {
            eprintln!("load bench: {e:#}");
            Ok(false)
        }
    }
}

/// A short tag that keeps this run's IDs apart from every other run's.
pub fn tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_owned())
}

/// `--name value` pairs, taken one by one; whatever is left over is an error.
pub struct Args(Vec<String>);

impl Args {
    pub fn optional(&mut self, name: &str) -> Option<String> {
        let i = self.0.iter().position(|a| a == name)?;
        if i + 1 >= self.0.len() {
            return None;
        }
        let value = self.0.remove(i + 1);
        self.0.remove(i);
        Some(value)
    }

    pub fn required(&mut self, name: &str) -> anyhow::Result<String> {
        self.optional(name)
            .ok_or_else(|| anyhow::anyhow!("{name} is required\n{USAGE}"))
    }

    pub fn text(&mut self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_owned())
    }

    pub fn number(&mut self, name: &str, default: usize) -> anyhow::Result<usize> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| anyhow::anyhow!("{name} must be a whole number, not {v:?}")),
        }
    }

    pub fn float(&mut self, name: &str, default: f64) -> anyhow::Result<f64> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|f| *f > 0.0)
                .ok_or_else(|| anyhow::anyhow!("{name} must be a positive number, not {v:?}")),
        }
    }

    pub fn done(&self) -> anyhow::Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "unexpected arguments {:?}\n{USAGE}",
                self.0
            ))
        }
    }
}
