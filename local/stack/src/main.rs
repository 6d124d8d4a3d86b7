//! `stack`: the local stack's command, run by make (`cargo run -q -p stack -- ...`).
//!
//! ```text
//! stack deps [--localstack]                       install what is missing (apt, npm ci, rustup;
//!                                                 with --localstack also Python 3.13 and
//!                                                 LocalStack's pinned venv)
//! stack up NAME DDB_PORT REDIS_PORT [--in-memory] start (or reuse) NAME's two servers
//! stack down NAME                                 stop what `up NAME` started, by PID
//! stack clean                                     down every stack, wipe local/.data and .run
//! stack status                                    the servers up, by name
//! stack with NAME DDB_PORT REDIS_PORT [--in-memory] [--keep-env] [--table T] [--serve PORT]
//!            [--serve-profile local|debug] [--store dynamodb-local|localstack] -- CMD [ARG...]
//!     up NAME, then CMD with the stack's settings in its environment (AWS_ENDPOINT_URL_DYNAMODB,
//!     REDIS_URL, TABLE_NAME=T (concert-booking), dummy credentials), then down NAME whatever
//!     CMD did; exits with CMD's status. --keep-env keeps endpoints and tables the caller set
//!     (and starts nothing when both endpoints are set); --serve PORT runs
//!     `target/local/devserver serve` on PORT around CMD (log: local/.run/NAME-devserver.log);
//!     --serve-profile debug runs `target/debug/devserver` instead (the build the tests share).
//!     CMD also gets LOCAL_STACK=NAME, so a script can tell it already runs inside its stack.
//!     --store localstack serves DynamoDB (and its streams) on DDB_PORT by LocalStack instead
//!     of DynamoDB Local (installing its venv first where missing; docs/localstack.md).
//! stack env DDB_PORT REDIS_PORT [--table T] -- CMD [ARG...]
//!     CMD with those settings, the caller's kept, nothing started (make seed, check-invariants).
//! stack cluster NAME BASE_PORT -- CMD [ARG...]
//!     a 3-master Redis Cluster on BASE_PORT..BASE_PORT+2 (nodes in local/.run/NAME-cluster),
//!     then CMD with REDIS_URL (one node) and REDIS_CLUSTER=true, then the cluster stopped.
//! ```

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use stack::named::{self, Spec};
use stack::{port_open, Probe};

const USAGE: &str = "usage: stack deps [--localstack] | up NAME DDB_PORT REDIS_PORT [--in-memory] | down NAME | clean | status
       stack with NAME DDB_PORT REDIS_PORT [--in-memory] [--keep-env] [--table T] [--serve PORT] [--serve-profile local|debug] [--store dynamodb-local|localstack] -- CMD [ARG...]
       stack env DDB_PORT REDIS_PORT [--table T] -- CMD [ARG...]
       stack cluster NAME BASE_PORT -- CMD [ARG...]";

/// The last signal received (SIGINT, SIGTERM or SIGHUP), 0 for none.
static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn record(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
}

fn interrupted() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// Ctrl-C, TERM and HUP are recorded instead of ending the process, so `up` can undo what it
/// started and `with` can stop the stack after its command.
fn catch_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(
                sig,
                record as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("stack: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn port(s: &str) -> anyhow::Result<u16> {
    s.parse()
        .with_context(|| format!("a port must be a number from 1 to 65535, not {s:?}"))
}

fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["deps"] => stack::deps::install()?,
        ["deps", "--localstack"] => {
            stack::deps::install()?;
            stack::localstack::install()?;
        }
        ["up", name, ddb, redis, rest @ ..] if rest.is_empty() || rest == ["--in-memory"] => {
            catch_signals();
            let spec = Spec::new(name, port(ddb)?, port(redis)?, !rest.is_empty())?;
            named::up(&spec, &interrupted)?;
        }
        ["down", name] => named::down(name)?,
        ["clean"] => named::clean()?,
        ["status"] => {
            let lines = named::status();
            if lines.is_empty() {
                println!("stack: nothing up");
            }
            for line in lines {
                println!("{line}");
            }
        }
        ["with", ..] => return with(&args[1..]),
        ["env", ..] => return env(&args[1..]),
        ["cluster", ..] => return cluster(&args[1..]),
        _ => bail!("{USAGE}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Options before `--`, the command after it.
struct Parsed {
    positional: Vec<String>,
    flags: Vec<String>,
    table: String,
    serve: Option<u16>,
    /// The folder of target/ whose devserver `--serve` runs: `local` or `debug`.
    serve_profile: String,
    store: named::Store,
    command: Vec<String>,
}

fn parse(args: &[String]) -> anyhow::Result<Parsed> {
    let split = args
        .iter()
        .position(|a| a == "--")
        .with_context(|| format!("no `-- CMD` given\n{USAGE}"))?;
    let (options, command) = (&args[..split], &args[split + 1..]);
    if command.is_empty() {
        bail!("no command after `--`\n{USAGE}");
    }
    let mut parsed = Parsed {
        positional: Vec::new(),
        flags: Vec::new(),
        table: "concert-booking".into(),
        serve: None,
        serve_profile: "local".into(),
        store: named::Store::default(),
        command: command.to_vec(),
    };
    let mut it = options.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--table" => parsed.table = it.next().context("--table needs a name")?.clone(),
            "--serve" => parsed.serve = Some(port(it.next().context("--serve needs a port")?)?),
            "--serve-profile" => {
                parsed.serve_profile = match it.next().map(String::as_str) {
                    Some(p @ ("local" | "debug")) => p.to_owned(),
                    _ => bail!("--serve-profile needs local or debug\n{USAGE}"),
                }
            }
            "--store" => parsed.store = it.next().context("--store needs a name")?.parse()?,
            "--in-memory" | "--keep-env" => parsed.flags.push(a.clone()),
            f if f.starts_with("--") => bail!("unknown option {f}\n{USAGE}"),
            _ => parsed.positional.push(a.clone()),
        }
    }
    Ok(parsed)
}

fn with(args: &[String]) -> anyhow::Result<ExitCode> {
    let p = parse(args)?;
    let [name, ddb, redis] = p.positional.as_slice() else {
        bail!("{USAGE}");
    };
    let keep = p.flags.iter().any(|f| f == "--keep-env");
    let spec = Spec::new(
        name,
        port(ddb)?,
        port(redis)?,
        p.flags.iter().any(|f| f == "--in-memory"),
    )?
    .with_store(p.store);
    let mut env = named::environment(spec.ddb_port, spec.redis_port, &p.table, keep);
    env.extend(named::store_environment(spec.store));
    let external = keep
        && ["AWS_ENDPOINT_URL_DYNAMODB", "REDIS_URL"]
            .iter()
            .all(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()));
    catch_signals();
    if external {
        println!(
            "stack: {name}: AWS_ENDPOINT_URL_DYNAMODB and REDIS_URL are set; starting nothing"
        );
    } else {
        if spec.store == named::Store::LocalStack {
            stack::localstack::install()?;
        }
        named::up(&spec, &interrupted)?;
    }
    let result = (|| {
        if interrupted() {
            bail!("interrupted");
        }
        let mut server = match p.serve {
            Some(port) => Some(serve(&spec.name, port, &p.serve_profile, &env)?),
            None => None,
        };
        let status = run_child(
            Command::new(&p.command[0])
                .args(&p.command[1..])
                .envs(env.clone())
                .env("LOCAL_STACK", &spec.name),
        );
        if let Some(server) = server.as_mut() {
            stop_child(server, "devserver");
        }
        status
    })();
    if !external {
        if let Err(e) = named::down(&spec.name) {
            eprintln!("stack: error: stopping {}: {e:#}", spec.name);
        }
    }
    result
}

fn env(args: &[String]) -> anyhow::Result<ExitCode> {
    let p = parse(args)?;
    let [ddb, redis] = p.positional.as_slice() else {
        bail!("{USAGE}");
    };
    let env = named::environment(port(ddb)?, port(redis)?, &p.table, true);
    catch_signals();
    run_child(Command::new(&p.command[0]).args(&p.command[1..]).envs(env))
}

fn cluster(args: &[String]) -> anyhow::Result<ExitCode> {
    let p = parse(args)?;
    let [name, base] = p.positional.as_slice() else {
        bail!("{USAGE}");
    };
    let base = port(base)?;
    if let Some(taken) = (base..base + 3).find(|&p| port_open(p)) {
        bail!("port {taken} is taken; stop what listens there first");
    }
    catch_signals();
    let mut cluster = stack::RedisCluster::start(base, &stack::cluster::folder(name))?;
    println!(
        "stack: {name}: Redis Cluster of 3 masters on {:?}",
        cluster.ports()
    );
    let status = run_child(
        Command::new(&p.command[0])
            .args(&p.command[1..])
            .env("REDIS_URL", cluster.url())
            .env("REDIS_CLUSTER", "true"),
    );
    if let Err(e) = cluster.stop() {
        eprintln!("stack: error: stopping the cluster {name}: {e:#}");
    }
    status
}

/// Runs the command to its end and returns its status. A signal this process gets meanwhile is
/// passed on to it (a Ctrl-C at the terminal reaches both: the command decides how to end).
fn run_child(command: &mut Command) -> anyhow::Result<ExitCode> {
    // `cargo run -p stack` sets these for this process; a cargo run by CMD would see them and
    // rebuild everything (ring's build script tracks CARGO_MANIFEST_DIR and CARGO_PKG_NAME),
    // not reuse what a cargo outside the stack built.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_by_cargo_run = key.starts_with("CARGO_PKG_")
            || matches!(
                &*key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            );
        if set_by_cargo_run {
            command.env_remove(&*key);
        }
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let mut forwarded = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let sig = SIGNAL.load(Ordering::SeqCst);
        if sig != 0 && sig != forwarded {
            let _ = stack::server::send(child.id(), sig);
            forwarded = sig;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    use std::os::unix::process::ExitStatusExt;
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        _ => 1,
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// `devserver serve` on `port` in the background, once it answers HTTP: the binary cargo built
/// into `target/PROFILE` (`local` for `--profile local`, `debug` for the dev profile).
fn serve(name: &str, port: u16, profile: &str, env: &[(String, String)]) -> anyhow::Result<Child> {
    if port_open(port) {
        bail!("port {port} is taken; stop what listens there first");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| stack::repo_dir().join("target"));
    let bin = target.join(profile).join("devserver");
    let log = stack::run_dir().join(format!("{name}-devserver.log"));
    std::fs::create_dir_all(stack::run_dir())?;
    let out = std::fs::File::create(&log)?;
    let mut child = Command::new(&bin)
        .arg("serve")
        .envs(env.iter().cloned())
        .env("PORT", port.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| {
            let build = if profile == "debug" {
                "--workspace --all-targets"
            } else {
                "--profile local -p devserver"
            };
            format!("starting {} (cargo build {build})", bin.display())
        })?;
    let t0 = Instant::now();
    // It creates the tables and seeds the demo concert first.
    while !Probe::Http(port).answers() {
        let failed = if let Some(status) = child.try_wait()? {
            Some(format!("exited ({status})"))
        } else if t0.elapsed() > Duration::from_secs(60) {
            Some("did not answer within 60s".to_owned())
        } else if interrupted() {
            Some("interrupted".to_owned())
        } else {
            None
        };
        if let Some(why) = failed {
            stop_child(&mut child, "devserver");
            bail!(
                "devserver on {port} {why}; the end of {}:\n{}",
                log.display(),
                stack::server::log_tail(&log, 30)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "stack: {name} devserver: on http://127.0.0.1:{port} (pid {}, log {})",
        child.id(),
        log.display()
    );
    Ok(child)
}

/// TERM, then KILL after 5 s; reaped.
fn stop_child(child: &mut Child, what: &str) {
    if child.try_wait().ok().flatten().is_none() {
        let _ = stack::server::send(child.id(), libc::SIGTERM);
        let t0 = Instant::now();
        while child.try_wait().ok().flatten().is_none() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        println!("stack: {what} stopped (pid {})", child.id());
    }
    let _ = child.wait();
}
