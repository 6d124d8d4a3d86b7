//! The two stores' command lines, as builders that start a [`Server`].

use std::path::{Path, PathBuf};

use crate::deps;
use crate::probe::Probe;
use crate::server::Server;

/// DynamoDB Local on `127.0.0.1:port`: `java -jar DynamoDBLocal.jar -port P -sharedDb
/// -disableTelemetry` and `-inMemory` (the default) or `-dbPath FOLDER`.
///
/// `-sharedDb`: one database whatever the access key and region, so the app, the seeder and a
/// hand-typed curl all see the same tables.
///
/// In memory, the JVM compiles with C1 alone and collects with the serial collector
/// ([`QUICK_JVM`]): those stores live for a run of the checks (minutes), in which C2's
/// compiling costs more CPU than its faster code gives back. Measured on the test of two
/// thousand holds: DynamoDB Local's CPU 27-31 s with the defaults, 14-16 s so, the test 42-47 s
/// and 34-44 s (two cores, busy). `make run`'s store, on disk and long-lived, keeps the defaults.
#[derive(Debug, Clone)]
pub struct DynamoDb {
    port: u16,
    data: Option<PathBuf>,
}

/// The JVM options of an in-memory DynamoDB Local (see [`DynamoDb`]).
pub const QUICK_JVM: [&str; 2] = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"];

impl DynamoDb {
    /// In memory, on `port`.
    pub fn new(port: u16) -> Self {
        DynamoDb { port, data: None }
    }

    /// Keeps its data in `folder` (`-dbPath`, created if missing) instead of in memory, so a
    /// restart finds it again.
    pub fn data_folder(mut self, folder: impl Into<PathBuf>) -> Self {
        self.data = Some(folder.into());
        self
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_DYNAMODB` or a client's `endpoint_url`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The Java 17+ binary and its arguments, the jar found under `local/node_modules`.
    pub fn command_line(&self) -> anyhow::Result<(PathBuf, Vec<String>)> {
        let java = deps::find_java()?;
        let jar = deps::find_jar()?;
        Ok((java, self.args(&jar)))
    }

    /// The arguments, `-port` first and the mode last (the named stacks compare them).
    pub fn args(&self, jar: &Path) -> Vec<String> {
        let lib = jar.parent().unwrap_or(jar).join("DynamoDBLocal_lib");
        let mut args = vec![format!("-Djava.library.path={}", lib.display())];
        if self.data.is_none() {
            args.extend(QUICK_JVM.map(String::from));
        }
        args.extend([
            "-jar".into(),
            jar.display().to_string(),
            "-port".into(),
            self.port.to_string(),
            "-sharedDb".into(),
            "-disableTelemetry".into(),
        ]);
        match &self.data {
            Some(dir) => args.extend(["-dbPath".into(), dir.display().to_string()]),
            None => args.push("-inMemory".into()),
        }
        args
    }

    /// Answers once it serves HTTP at all.
    pub fn probe(&self) -> Probe {
        Probe::Http(self.port)
    }

    /// Starts it as a child of this process, output appended to `log`. It boots in a few
    /// seconds (a JVM): [`Server::wait_ready`] before use.
    pub fn spawn(&self, log: impl Into<PathBuf>) -> anyhow::Result<Server> {
        if let Some(dir) = &self.data {
            std::fs::create_dir_all(dir)?;
        }
        let (java, args) = self.command_line()?;
        Server::spawn(
            format!("DynamoDB Local on {}", self.port),
            java,
            args,
            None,
            log,
            self.probe(),
        )
    }
}

/// redis-server on `127.0.0.1:port`, never persisting (`--save '' --appendonly no`): a
/// restart comes back empty.
#[derive(Debug, Clone)]
pub struct Redis {
    port: u16,
    dir: Option<PathBuf>,
    tls: Option<(PathBuf, PathBuf)>,
    extra: Vec<String>,
}

impl Redis {
    /// Plain TCP on `port`.
    pub fn new(port: u16) -> Self {
        Redis {
            port,
            dir: None,
            tls: None,
            extra: Vec::new(),
        }
    }

    /// Its working folder (`--dir`, and where it runs): relative TLS file names are found
    /// there. Default: the caller's.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// TLS only, on `port` (`--port 0 --tls-port PORT`), with this certificate and key, and
    /// no client certificates asked for (`--tls-auth-clients no`), as ElastiCache Serverless.
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some((cert.into(), key.into()));
        self
    }

    /// More arguments, appended as given.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra.push(arg.into());
        self
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`, or `rediss://localhost:PORT` with TLS (the certificate's
    /// name), for `REDIS_URL`.
    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("rediss://localhost:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Its arguments.
    pub fn args(&self) -> Vec<String> {
        let port = self.port.to_string();
        let plain = if self.tls.is_some() { "0" } else { &port };
        let mut args: Vec<String> = [
            "--port",
            plain,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        .map(String::from)
        .to_vec();
        if let Some(dir) = &self.dir {
            args.extend(["--dir".into(), dir.display().to_string()]);
        }
        if let Some((cert, key)) = &self.tls {
            args.extend([
                "--tls-port".into(),
                port,
                "--tls-auth-clients".into(),
                "no".into(),
                "--tls-cert-file".into(),
                cert.display().to_string(),
                "--tls-key-file".into(),
                key.display().to_string(),
            ]);
        }
        args.extend(self.extra.iter().cloned());
        args
    }

    /// `PING` over TCP; with TLS, a TCP connect.
    pub fn probe(&self) -> Probe {
        match self.tls {
            Some(_) => Probe::Tcp(self.port),
            None => Probe::RedisPing(self.port),
        }
    }

    /// Starts it as a child of this process, output appended to `log`; it answers within
    /// milliseconds ([`Server::wait_ready`]).
    pub fn spawn(&self, log: impl Into<PathBuf>) -> anyhow::Result<Server> {
        let program = deps::find_program("redis-server")?;
        Server::spawn(
            format!("redis-server on {}", self.port),
            program,
            self.args(),
            self.dir.clone(),
            log,
            self.probe(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_runs_in_memory_unless_given_a_folder() {
        let jar = Path::new("/x/lib/dynamodb_local_2025/DynamoDBLocal.jar");
        let mem = DynamoDb::new(8700).args(jar);
        assert_eq!(
            mem[0],
            "-Djava.library.path=/x/lib/dynamodb_local_2025/DynamoDBLocal_lib"
        );
        assert_eq!(&mem[1..3], QUICK_JVM);
        assert_eq!(&mem[5..7], ["-port", "8700"]);
        assert_eq!(mem.last().unwrap(), "-inMemory");
        let disk = DynamoDb::new(8700).data_folder("/d").args(jar);
        assert_eq!(&disk[1..3], ["-jar", jar.to_str().unwrap()]);
        assert_eq!(&disk[disk.len() - 2..], ["-dbPath", "/d"]);
        assert_eq!(DynamoDb::new(8700).url(), "http://127.0.0.1:8700");
    }

    #[test]
    fn redis_with_tls_listens_on_its_tls_port_only() {
        let plain = Redis::new(6390).dir("/r");
        assert_eq!(&plain.args()[..2], ["--port", "6390"]);
        assert!(plain.args().ends_with(&["--dir".into(), "/r".into()]));
        assert_eq!(plain.probe(), Probe::RedisPing(6390));
        assert_eq!(plain.url(), "redis://127.0.0.1:6390");

        let tls = Redis::new(6500).tls("server.crt", "server.key");
        let args = tls.args();
        assert_eq!(&args[..2], ["--port", "0"]);
        let at = args.iter().position(|a| a == "--tls-port").unwrap();
        assert_eq!(args[at + 1], "6500");
        assert!(args.contains(&"server.key".to_owned()));
        assert_eq!(tls.probe(), Probe::Tcp(6500));
        assert_eq!(tls.url(), "rediss://localhost:6500");
    }
}

#[cfg(test)]
mod live {
    use std::time::Duration;

    use super::*;
    use crate::probe::free_port;

    /// A real redis-server, where one is installed (`stack deps`): started, frozen, thawed,
    /// killed and started again on its port.
    #[test]
    fn a_redis_server_pauses_resumes_and_restarts_on_its_port() {
        if deps::find_program("redis-server").is_err() {
            eprintln!("skipped: no redis-server");
            return;
        }
        let dir = std::env::temp_dir().join(format!("stack-redis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port(21000..21100).unwrap();
        let mut redis = Redis::new(port)
            .dir(&dir)
            .spawn(dir.join("redis.log"))
            .unwrap();
        redis.wait_ready(Duration::from_secs(10)).unwrap();
        redis.pause().unwrap();
        assert!(!redis.answers(), "a paused server answers nothing");
        redis.resume().unwrap();
        redis.wait_ready(Duration::from_secs(10)).unwrap();
        redis.kill().unwrap();
        assert!(!redis.answers());
        redis.restart().unwrap();
        redis.wait_ready(Duration::from_secs(10)).unwrap();
        drop(redis);
        let _ = std::fs::remove_dir_all(dir);
    }
}
