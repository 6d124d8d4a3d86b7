//! A ticket verifies offline with nothing but the JWKS, by a verifier that is not this
//! project's code: `local/verify-ticket.mjs`, on Node's own crypto (`crypto.verify` with the
//! JWK as the key), as a gate app would.

use super::*;
use std::process::Command;

/// `node local/verify-ticket.mjs JWKS CODE`: its exit status and what it printed.
fn verify_offline(jwks: &std::path::Path, code: &str) -> (bool, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../verify-ticket.mjs");
    let out = Command::new("node")
        .arg(script)
        .arg(jwks)
        .arg(code)
        .output()
        .expect("node runs (`stack deps` installs it)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_verifies_offline_with_only_the_jwks_in_node() {
    let app = spawn_app_with(&[]).await;
    let mut b = app.buyer("offline").await;
    let date = app.dates[0].clone();
    let rid = app.buy(&mut b, &date, &[47]).await;
    let code = app.code_of(&b.user, &rid, 47).await;
    let jwks = app.api.ticket_keys().await.unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
    let file = std::env::temp_dir().join(format!("{}.jwks.json", unique("ticket-keys")));
    std::fs::write(&file, &jwks.body).unwrap();

    let (ok, printed) = verify_offline(&file, &code);
    assert!(ok, "{printed}");
    let facts: Value = serde_json::from_str(printed.trim()).expect("the facts as JSON");
    assert_eq!(
        facts,
        json!({
            "ticketId": format!("{rid}-47"), "concertId": app.concert, "date": date,
            "seatNo": 47, "kid": code.split('.').next().unwrap(),
        })
    );
    // Altered in its facts (another seat), or signed by another key: Node refuses it too.
    let other_seat = code.replacen(".47.", ".48.", 1);
    let ticket = shared::flows::tickets::keys(state(&app))
        .unwrap()
        .verify(&code, shared::domain::ConcertDate::today_utc())
        .unwrap();
    let foreign = shared::domain::tickets::TicketKeys::random().sign(&ticket);
    for bad in [other_seat, foreign] {
        let (ok, printed) = verify_offline(&file, &bad);
        assert!(!ok, "{bad} verified: {printed}");
    }
    let _ = std::fs::remove_file(&file);
}
