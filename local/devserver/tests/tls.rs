//! Redis over TLS, the only way ElastiCache Serverless speaks (`rediss://`). The app's Redis
//! client verifies the server against the system's trust store (rustls on ring; the roots are
//! read by rustls-native-certs, which honours `SSL_CERT_FILE`), as the SDK's HTTPS client does.
//!
//! The test makes a CA and a server certificate with `openssl`, starts its own redis-server
//! with only a TLS port (6500–6599, away from the other tests), and points `SSL_CERT_FILE` at
//! one CA or another. It is the only test in this binary, so setting the variable races with
//! nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use shared::domain::{ConcertId, UserId};
use shared::settings::Settings;
use shared::store::scripts::{Issued, QueueScripts};
use shared::AppState;

/// Runs openssl with these arguments in `dir`; panics with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (cargo run -p stack -- deps installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA `{name}.crt` / `{name}.key`.
fn ca(dir: &Path, name: &str) {
    let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &key,
            "-out",
            &crt,
        ],
    );
}

/// `server.crt` / `server.key` for localhost, signed by the CA `ca`.
fn server_cert(dir: &Path, ca: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("san.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "1",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-extfile",
            "san.cnf",
            "-out",
            "server.crt",
        ],
    );
}

/// The app's state on `rediss://localhost:{port}`, trusting the roots in `roots` only.
async fn app_trusting(roots: &Path, port: u16) -> AppState {
    std::env::set_var("SSL_CERT_FILE", roots);
    let url = format!("rediss://localhost:{port}");
    let settings = Settings::from_lookup(|k| match k {
        "REDIS_URL" => Some(url.clone()),
        "REDIS_KEY_PREFIX" => Some(format!("tls-{}", std::process::id())),
        "STORE_TIMEOUT_MS" => Some("1000".into()),
        other => std::env::var(other).ok(),
    })
    .expect("valid settings");
    AppState::new(settings).await.expect("the state builds")
}

async fn issue(state: &AppState, user: &str) -> Result<Issued, shared::StoreError> {
    QueueScripts::new(&state.redis, &state.settings)
        .issue(
            &UserId::parse(user).unwrap(),
            &ConcertId::parse("tls-concert").unwrap(),
            shared::domain::token::TokenId::generate(),
            Some(Default::default()),
        )
        .await
        .map(|issued| issued.done().expect("the controls were given").0)
}

/// Over rediss:// the queue works against a trusted server and refuses an untrusted one.
#[tokio::test]
async fn over_rediss_a_trusted_server_works_and_an_untrusted_one_is_refused() {
    let dir: PathBuf = std::env::temp_dir().join(format!("tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    ca(&dir, "ca");
    ca(&dir, "other-ca");
    server_cert(&dir, "ca");
    let port = stack::free_port(6500..6600).expect("a free port in 6500..6600");
    let mut redis = stack::Redis::new(port)
        .dir(&dir)
        .tls("server.crt", "server.key")
        .spawn(dir.join("redis.log"))
        .expect("redis-server starts");
    redis
        .wait_ready(Duration::from_secs(10))
        .expect("redis-server listens on its TLS port");

    let trusting = app_trusting(&dir.join("ca.crt"), port).await;
    let issued = issue(&trusting, "tls-user-1").await;
    assert!(
        matches!(issued, Ok(Issued::New(_))),
        "a token over TLS: {issued:?}"
    );

    // The same server, but the system trusts another CA only: the handshake must fail.
    let distrusting = app_trusting(&dir.join("other-ca.crt"), port).await;
    let refused = issue(&distrusting, "tls-user-2").await;
    assert!(
        refused.is_err(),
        "an untrusted server was accepted: {refused:?}"
    );

    let _ = std::fs::remove_dir_all(&dir);
}
