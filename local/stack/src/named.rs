//! Named stacks: DynamoDB Local and redis-server started for `make run` (NAME `dev`), `make
//! test` (`test`) and the others, kept apart by NAME and by their ports.
//!
//! `up` starts each server detached (a session of its own, so a Ctrl-C aimed at the caller does
//! not reach it) and writes `local/.run/NAME-KIND.pid` (its PID), `NAME-KIND.cmd` (its
//! arguments, one per line) and `NAME-KIND.log`; DynamoDB's data is `local/.data/NAME` unless
//! in memory. A later `up NAME` with the same settings reuses servers still up (after a crash,
//! say); one with other settings replaces them; a port served by a process `up` did not start
//! is reused if it answers as the right kind of server, refused otherwise. If `up` fails or is
//! interrupted it stops what it started, so nothing is left half-running. `down NAME` stops
//! by PID (TERM, then KILL after 10 s), and only a process that is still the server it started:
//! the PID must run that kind of server and must have started no later than its pidfile was
//! written (a reused PID belongs to someone else).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};

use crate::localstack::{self, LocalStack};
use crate::probe::{port_open, Probe};
use crate::server::{log_tail, send};
use crate::store::{DynamoDb, Redis};
use crate::{data_dir, deps, run_dir};

/// Seconds a server gets to answer after it is started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// LocalStack's: its own start (~7 s), then its DynamoDB Local's at the first request.
pub const LOCALSTACK_READY_TIMEOUT: Duration = Duration::from_secs(180);

/// What serves a stack's DynamoDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Store {
    /// DynamoDB Local's jar, run directly.
    #[default]
    DynamoDbLocal,
    /// LocalStack (DynamoDB and DynamoDB Streams) on the stack's DynamoDB port; it runs
    /// DynamoDB Local inside.
    LocalStack,
}

impl std::str::FromStr for Store {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "dynamodb-local" | "" => Ok(Store::DynamoDbLocal),
            "localstack" => Ok(Store::LocalStack),
            _ => bail!("--store is dynamodb-local or localstack, not {s:?}"),
        }
    }
}
/// Between TERM and KILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// One of the two servers of a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    DynamoDb,
    Redis,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::DynamoDb, Kind::Redis];

    /// As in the file names: `dynamodb`, `redis`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DynamoDb => "dynamodb",
            Kind::Redis => "redis",
        }
    }

    /// The process runs this kind of server at all (guards against a reused PID). Redis
    /// renames itself to `redis-server 127.0.0.1:PORT`.
    pub fn is_running_in(self, cmdline: &str) -> bool {
        match self {
            Kind::DynamoDb => {
                cmdline.contains("DynamoDBLocal.jar") || cmdline.contains("localstack.runtime.main")
            }
            Kind::Redis => {
                let program = cmdline.split_whitespace().next().unwrap_or_default();
                program == "redis-server" || program.ends_with("/redis-server")
            }
        }
    }
}

/// What `up NAME DDB_PORT REDIS_PORT [--in-memory]` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub ddb_port: u16,
    pub redis_port: u16,
    pub in_memory: bool,
    pub store: Store,
}

impl Spec {
    pub fn new(
        name: &str,
        ddb_port: u16,
        redis_port: u16,
        in_memory: bool,
    ) -> anyhow::Result<Self> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!("NAME must be letters, digits, - or _: {name:?}");
        }
        if ddb_port == redis_port {
            bail!("DynamoDB and Redis need different ports");
        }
        Ok(Spec {
            name: name.to_owned(),
            ddb_port,
            redis_port,
            in_memory,
            store: Store::DynamoDbLocal,
        })
    }

    /// Served by `store` (DynamoDB Local unless told).
    pub fn with_store(mut self, store: Store) -> Self {
        self.store = store;
        self
    }

    fn ready_timeout(&self, kind: Kind) -> Duration {
        match (kind, self.store) {
            (Kind::DynamoDb, Store::LocalStack) => LOCALSTACK_READY_TIMEOUT,
            _ => READY_TIMEOUT,
        }
    }

    fn port(&self, kind: Kind) -> u16 {
        match kind {
            Kind::DynamoDb => self.ddb_port,
            Kind::Redis => self.redis_port,
        }
    }

    fn probe(&self, kind: Kind) -> Probe {
        match (kind, self.store) {
            (Kind::DynamoDb, Store::DynamoDbLocal) => Probe::Http(self.ddb_port),
            (Kind::DynamoDb, Store::LocalStack) => Probe::DynamoDbApi(self.ddb_port),
            (Kind::Redis, _) => Probe::RedisPing(self.redis_port),
        }
    }

    /// The program and arguments of one server.
    fn command_line(&self, kind: Kind) -> anyhow::Result<(PathBuf, Vec<String>)> {
        match kind {
            Kind::DynamoDb if self.store == Store::LocalStack => {
                let root = localstack::root(&self.name);
                localstack::prepare(&root)?;
                LocalStack::new(self.ddb_port, root)
                    .in_memory(self.in_memory)
                    .command_line()
            }
            Kind::DynamoDb => {
                let mut ddb = DynamoDb::new(self.ddb_port);
                if !self.in_memory {
                    ddb = ddb.data_folder(data_dir().join(&self.name));
                }
                ddb.command_line()
            }
            Kind::Redis => Ok((
                deps::find_program("redis-server")?,
                Redis::new(self.redis_port).dir(run_dir()).args(),
            )),
        }
    }
}

fn file(name: &str, kind: Kind, ext: &str) -> PathBuf {
    run_dir().join(format!("{name}-{}.{ext}", kind.as_str()))
}

// ------------------------------------------------------------------ /proc

/// The process's state letter from `/proc/PID/stat` (`R`, `S`, `T`, `Z`, ...), `None` if there
/// is no such process.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "PID (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Running (or stopped) and not a zombie. Reaps it first if it is a child of ours that ended.
pub fn alive(pid: u32) -> bool {
    if let Ok(p) = libc::pid_t::try_from(pid) {
        // SAFETY: waitpid with WNOHANG on one PID; ECHILD when it is not our child.
        unsafe { libc::waitpid(p, std::ptr::null_mut(), libc::WNOHANG) };
    }
    matches!(proc_state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// Its command line, arguments joined by spaces.
pub fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|a| !a.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The PIDs (not this process's) whose command lines contain `marker`.
pub fn pids_matching(marker: &str) -> Vec<u32> {
    let me = std::process::id();
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && alive(pid) && cmdline(pid).contains(marker))
        .collect()
}

/// Stops (TERM, then KILL) every process whose command line contains `marker`; how many.
pub fn kill_matching(marker: &str) -> usize {
    let pids = pids_matching(marker);
    for &pid in &pids {
        let _ = stop_pid(pid);
    }
    pids.len()
}

/// Stops what LocalStack of stack `name` left running of its own (its DynamoDB Local).
fn stop_strays(name: &str) {
    let root = localstack::root(name);
    let n = kill_matching(&localstack::stray_marker(&root));
    if n > 0 {
        println!("stack: {name} dynamodb: stopped {n} process(es) LocalStack had started");
    }
}

/// Stops one server of stack `name` by PID, and, for the DynamoDB one, whatever it started in
/// sessions of its own.
fn stop_server(name: &str, kind: Kind, pid: u32) -> anyhow::Result<()> {
    let result = stop_pid(pid);
    if kind == Kind::DynamoDb {
        stop_strays(name);
    }
    result
}

/// When the process started, in seconds since the epoch (from its start in clock ticks after
/// boot and the boot time).
pub fn started_at(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = stat.rsplit_once(')')?.1;
    // Field 22 of stat is starttime; after "(comm)" the state is field 3.
    let ticks: u64 = after_comm.split_whitespace().nth(22 - 3)?.parse().ok()?;
    let btime: u64 = fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|h| *h > 0)?;
    Some(btime + ticks / hz)
}

fn mtime_secs(path: &Path) -> Option<u64> {
    let modified = fs::metadata(path).ok()?.modified().ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

// ------------------------------------------------------------------ pidfiles

/// The PID in NAME-KIND.pid if that process is still the server `up` started; else the stale
/// pidfile is removed and `None` returned.
pub fn live_pid(name: &str, kind: Kind) -> Option<u32> {
    let pidfile = file(name, kind, "pid");
    let text = fs::read_to_string(&pidfile).ok()?;
    let pid: Option<u32> = text.trim().parse().ok();
    let ours = pid.filter(|&pid| {
        alive(pid)
            && kind.is_running_in(&cmdline(pid))
            // A process that started after the pidfile was written only reuses the PID (maybe
            // another stack's server: hands off). The 60 s absorb clock adjustments.
            && match (started_at(pid), mtime_secs(&pidfile)) {
                (Some(started), Some(written)) => started <= written + 60,
                _ => true,
            }
    });
    if ours.is_none() {
        eprintln!(
            "stack: {name} {}: removing stale pidfile (pid {} is gone or is not the server it started)",
            kind.as_str(),
            text.trim()
        );
        forget(name, kind);
    }
    ours
}

fn forget(name: &str, kind: Kind) {
    let _ = fs::remove_file(file(name, kind, "pid"));
    let _ = fs::remove_file(file(name, kind, "cmd"));
}

/// TERM, then KILL if it is still there after [`STOP_TIMEOUT`].
pub fn stop_pid(pid: u32) -> anyhow::Result<()> {
    if send(pid, libc::SIGTERM).is_err() {
        return Ok(());
    }
    let _ = send(pid, libc::SIGCONT);
    if wait_gone(pid, STOP_TIMEOUT) {
        return Ok(());
    }
    let _ = send(pid, libc::SIGKILL);
    if wait_gone(pid, Duration::from_secs(2)) {
        return Ok(());
    }
    bail!("pid {pid} survived SIGKILL")
}

fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

/// Starts one server detached, in a session of its own, and records it.
fn launch(name: &str, kind: Kind, program: &Path, args: &[String]) -> anyhow::Result<u32> {
    use std::os::unix::process::CommandExt;
    fs::create_dir_all(run_dir())?;
    let log = file(name, kind, "log");
    let out = fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // SAFETY: setsid is async-signal-safe and touches nothing of the parent's memory.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .with_context(|| format!("{name} {}: starting {}", kind.as_str(), program.display()))?;
    let pid = child.id();
    fs::write(file(name, kind, "pid"), format!("{pid}\n"))?;
    fs::write(file(name, kind, "cmd"), args.join("\n") + "\n")?;
    // Not waited on: the server outlives this process; `alive` reaps it if it ends before.
    drop(child);
    Ok(pid)
}

// ------------------------------------------------------------------ up, down

/// How `up` came by a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Started now, PID.
    Started(u32),
    /// Still up from an earlier `up` with the same settings, PID.
    Reused(u32),
    /// The port is served by a process `up` did not start; `down` leaves it alone.
    Foreign,
}

/// Reuses, replaces or starts one server; starting does not wait, so both boot at once.
fn ensure(spec: &Spec, kind: Kind) -> anyhow::Result<How> {
    let (program, args) = spec.command_line(kind)?;
    let name = &spec.name;
    if let Some(pid) = live_pid(name, kind) {
        let recorded = fs::read_to_string(file(name, kind, "cmd")).unwrap_or_default();
        if recorded.lines().eq(args.iter().map(String::as_str)) {
            return Ok(How::Reused(pid));
        }
        println!(
            "stack: {name} {}: pid {pid} runs with other settings; stopping it",
            kind.as_str()
        );
        stop_server(name, kind, pid)?;
        forget(name, kind);
    }
    let port = spec.port(kind);
    if port_open(port) {
        if spec.probe(kind).answers() {
            return Ok(How::Foreign);
        }
        bail!(
            "port {port} is taken by something that is not {}; free it or pick another port",
            kind.as_str()
        );
    }
    if kind == Kind::DynamoDb && spec.store == Store::LocalStack {
        // What a LocalStack that crashed left behind.
        stop_strays(name);
    } else if kind == Kind::DynamoDb && !spec.in_memory {
        fs::create_dir_all(data_dir().join(name))?;
    }
    Ok(How::Started(launch(name, kind, &program, &args)?))
}

/// Waits until the server answers; fails fast, with its log, if the process dies.
fn wait_ready(
    spec: &Spec,
    kind: Kind,
    pid: u32,
    interrupted: &dyn Fn() -> bool,
) -> anyhow::Result<()> {
    let (name, port) = (&spec.name, spec.port(kind));
    let log = file(name, kind, "log");
    let t0 = Instant::now();
    loop {
        if spec.probe(kind).answers() {
            return Ok(());
        }
        if !alive(pid) {
            forget(name, kind);
            bail!(
                "{name} {} exited before answering on port {port}; the end of {}:\n{}",
                kind.as_str(),
                log.display(),
                log_tail(&log, 30)
            );
        }
        if interrupted() {
            bail!("interrupted");
        }
        let timeout = spec.ready_timeout(kind);
        if t0.elapsed() > timeout {
            bail!(
                "{name} {} (pid {pid}) did not answer on port {port} within {timeout:?} (if an earlier up started it: stack down {name}); the end of {}:\n{}",
                kind.as_str(),
                log.display(),
                log_tail(&log, 30)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts (or reuses) both servers of `spec` and waits until they answer. `interrupted` is
/// polled while waiting; when it says yes, or anything fails, what this call started is
/// stopped again (what it reused stays as it was).
pub fn up(spec: &Spec, interrupted: &dyn Fn() -> bool) -> anyhow::Result<()> {
    // Both found before anything starts.
    deps::find_program("redis-server")?;
    deps::find_java()?;
    deps::find_jar()?;
    if spec.store == Store::LocalStack {
        localstack::find_venv()?;
    }
    let t0 = Instant::now();
    let mut started: Vec<(Kind, u32)> = Vec::new();
    let result = (|| {
        let mut hows = Vec::new();
        for kind in Kind::ALL {
            let how = ensure(spec, kind)?;
            if let How::Started(pid) = how {
                started.push((kind, pid));
            }
            hows.push((kind, how));
        }
        // Redis first: it is ready at once, so its time is its own.
        hows.reverse();
        for (kind, how) in hows {
            let (name, port) = (&spec.name, spec.port(kind));
            let k = kind.as_str();
            match how {
                How::Started(pid) => {
                    wait_ready(spec, kind, pid, interrupted)?;
                    println!(
                        "stack: {name} {k}: started on 127.0.0.1:{port} (pid {pid}, answered after {}ms)",
                        t0.elapsed().as_millis()
                    );
                }
                How::Reused(pid) => {
                    wait_ready(spec, kind, pid, interrupted)?;
                    println!("stack: {name} {k}: reused on 127.0.0.1:{port} (pid {pid}, from an earlier up)");
                }
                How::Foreign => println!(
                    "stack: {name} {k}: reused on 127.0.0.1:{port}, served by a process stack did not start (down will not stop it)"
                ),
            }
        }
        Ok(())
    })();
    if result.is_err() {
        for (kind, pid) in started {
            forget(&spec.name, kind);
            if alive(pid) {
                let _ = stop_server(&spec.name, kind, pid);
                eprintln!(
                    "stack: {} {}: stopped again (pid {pid}) because up failed",
                    spec.name,
                    kind.as_str()
                );
            }
        }
    }
    result
}

/// Stops what `up NAME` started, by PID.
pub fn down(name: &str) -> anyhow::Result<()> {
    for kind in Kind::ALL {
        if let Some(pid) = live_pid(name, kind) {
            stop_server(name, kind, pid)?;
            println!("stack: {name} {}: stopped (pid {pid})", kind.as_str());
        } else if kind == Kind::DynamoDb {
            stop_strays(name);
        }
        forget(name, kind);
    }
    Ok(())
}

/// The names that have a pidfile in `local/.run`.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(run_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let stem = file.strip_suffix(".pid")?;
            Kind::ALL
                .iter()
                .find_map(|k| stem.strip_suffix(&format!("-{}", k.as_str())))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `down` every stack, then removes `local/.data` and `local/.run`.
pub fn clean() -> anyhow::Result<()> {
    for name in names() {
        down(&name)?;
    }
    for dir in [data_dir(), run_dir()] {
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    println!("stack: removed local/.data and local/.run");
    Ok(())
}

/// One line per server with a pidfile: name, kind, PID, port, whether it answers.
pub fn status() -> Vec<String> {
    let mut lines = Vec::new();
    for name in names() {
        for kind in Kind::ALL {
            if !file(&name, kind, "pid").exists() {
                continue;
            }
            let Some(pid) = live_pid(&name, kind) else {
                continue;
            };
            let args = fs::read_to_string(file(&name, kind, "cmd")).unwrap_or_default();
            let port = port_in(kind, &args);
            let store = if kind.is_running_in(&args) && args.contains("localstack.runtime.main") {
                " (LocalStack)"
            } else {
                ""
            };
            let answers = port
                .map(|p| match kind {
                    Kind::DynamoDb => Probe::Http(p),
                    Kind::Redis => Probe::RedisPing(p),
                })
                .is_some_and(Probe::answers);
            let mode = if args
                .lines()
                .any(|a| a == "-inMemory" || a == "DYNAMODB_IN_MEMORY=1")
            {
                " in memory"
            } else {
                ""
            };
            lines.push(format!(
                "{name} {}{store}: pid {pid}, 127.0.0.1:{}{mode}, {} (up {}s)",
                kind.as_str(),
                port.map_or("?".into(), |p| p.to_string()),
                if answers { "answers" } else { "NOT ANSWERING" },
                started_at(pid).map_or(0, |s| now_secs().saturating_sub(s)),
            ));
        }
    }
    lines
}

/// The port in recorded arguments (`-port N`, `--port N`, or LocalStack's
/// `GATEWAY_LISTEN=HOST:N`).
fn port_in(kind: Kind, args: &str) -> Option<u16> {
    if let Some(listen) = args.lines().find_map(|a| a.strip_prefix("GATEWAY_LISTEN=")) {
        return listen.rsplit(':').next()?.parse().ok();
    }
    let flag = match kind {
        Kind::DynamoDb => "-port",
        Kind::Redis => "--port",
    };
    let mut it = args.lines();
    it.by_ref().find(|a| *a == flag)?;
    it.next()?.parse().ok()
}

// ------------------------------------------------------------------ environment

/// The settings a local stack's clients run with: dummy credentials and a region (DynamoDB
/// Local ignores them), the two endpoints, the table names, and one queue-token key and one
/// ticket key for every process of the stack (the server, the Lambda binaries, the load tool
/// must agree on them; fresh each start, unless the caller set them). With `keep`, a variable
/// the caller already set stays as it is.
pub fn environment(
    ddb_port: u16,
    redis_port: u16,
    table: &str,
    keep: bool,
) -> Vec<(String, String)> {
    let wanted = [
        ("AWS_ACCESS_KEY_ID", "local".to_owned(), true),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned(), true),
        ("AWS_REGION", "us-east-1".to_owned(), true),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned(), false),
        (
            "AWS_ENDPOINT_URL_DYNAMODB",
            format!("http://127.0.0.1:{ddb_port}"),
            keep,
        ),
        ("REDIS_URL", format!("redis://127.0.0.1:{redis_port}"), keep),
        ("QUEUE_TOKEN_KEY", random_key(), true),
        // The ticket key likewise: the server signs a ticket's code, the door (a Lambda
        // binary under `make smoke`) checks it.
        ("TICKET_SIGNING_KEY", random_key(), true),
        ("TABLE_NAME", table.to_owned(), keep),
        (
            "RESERVATIONS_TABLE_NAME",
            format!("{table}-reservations"),
            keep,
        ),
    ];
    wanted
        .into_iter()
        .map(|(k, v, keep_callers)| {
            let v = match std::env::var(k) {
                Ok(callers) if keep_callers && !callers.is_empty() => callers,
                _ => v,
            };
            (k.to_owned(), v)
        })
        .collect()
}

/// 32 random bytes as hex, from the kernel.
fn random_key() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom is readable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What clients of a LocalStack stack get on top of [`environment`] (a value the caller set
/// stays): LocalStack answers DynamoDB calls several times slower than DynamoDB Local (its
/// Python gateway sits in front of the same DynamoDB Local), and under the tests' bursts of a
/// thousand requests single calls took longer than the default 2 s `STORE_TIMEOUT_MS`, so
/// requests answered 503 and scans failed. AWS and DynamoDB Local keep the default.
pub fn store_environment(store: Store) -> Vec<(String, String)> {
    let wanted: &[(&str, &str)] = match store {
        Store::DynamoDbLocal => &[],
        Store::LocalStack => &[("STORE_TIMEOUT_MS", "10000"), ("WRITE_RESOLVE_MS", "20000")],
    };
    wanted
        .iter()
        .filter(|(k, _)| std::env::var(k).map_or(true, |v| v.is_empty()))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ports_are_checked() {
        assert!(Spec::new("dev", 8000, 6379, false).is_ok());
        assert!(Spec::new("a b", 8000, 6379, false).is_err());
        assert!(Spec::new("", 8000, 6379, false).is_err());
        assert!(Spec::new("x", 8000, 8000, false).is_err());
    }

    #[test]
    fn kinds_are_told_from_their_command_lines() {
        assert!(Kind::Redis.is_running_in("redis-server 127.0.0.1:6379"));
        assert!(Kind::Redis.is_running_in("/usr/bin/redis-server *:6379"));
        assert!(!Kind::Redis.is_running_in("redis-cli -p 6379"));
        assert!(Kind::DynamoDb.is_running_in("/usr/bin/java -jar /x/DynamoDBLocal.jar -port 8000"));
        assert!(!Kind::DynamoDb.is_running_in("/usr/bin/java -jar other.jar"));
    }

    #[test]
    fn ports_are_read_back_from_recorded_arguments() {
        assert_eq!(
            port_in(Kind::DynamoDb, "-jar\nx.jar\n-port\n8100\n-inMemory\n"),
            Some(8100)
        );
        assert_eq!(port_in(Kind::Redis, "--port\n6380\n--bind\n"), Some(6380));
        assert_eq!(port_in(Kind::Redis, ""), None);
    }

    #[test]
    fn this_process_is_alive_and_started_in_the_past() {
        let me = std::process::id();
        assert!(alive(me));
        assert!(matches!(proc_state(me), Some('R' | 'S')));
        assert!(cmdline(me).contains("stack"));
        let started = started_at(me).unwrap();
        assert!(started <= now_secs() && started + 3600 > now_secs());
        assert_eq!(proc_state(u32::MAX / 2), None);
    }

    #[test]
    fn the_environment_points_at_the_ports_and_the_table() {
        let env = environment(8123, 6123, "t", false);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("AWS_ENDPOINT_URL_DYNAMODB"), "http://127.0.0.1:8123");
        assert_eq!(get("REDIS_URL"), "redis://127.0.0.1:6123");
        assert_eq!(get("TABLE_NAME"), "t");
        assert_eq!(get("RESERVATIONS_TABLE_NAME"), "t-reservations");
    }
}
