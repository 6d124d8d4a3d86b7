//! Amounts, bodies, keys and user IDs a charge refuses.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_amount_or_body_is_400_naming_the_field_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    let cases: &[(&str, &str)] = &[
        (r#"{"amount": 0}"#, "amount"),
        (r#"{"amount": -1}"#, "amount"),
        (r#"{"amount": 10000001}"#, "amount"),
        (r#"{"amount": 1.5}"#, "amount"),
        (r#"{"amount": 1.0}"#, "amount"),
        (r#"{"amount": 1e3}"#, "amount"),
        (r#"{"amount": "5"}"#, "amount"),
        (r#"{"amount": null}"#, "amount"),
        (r#"{"amount": true}"#, "amount"),
        (r#"{"amount": 9223372036854775808}"#, "amount"),
        (r#"{"amount": 100000000000000000000000}"#, "amount"),
        (r#"{"amount": -9223372036854775809}"#, "amount"),
        (r#"{}"#, "amount"),
        (r#"{"amount": 5, "currency": "KRW"}"#, "currency"),
        (r#"{"amount": 5} {"amount": 5}"#, "body"),
        (r#"5"#, "body"),
        (r#"{"amount": 5"#, "body"),
        (r#"not json"#, "body"),
        ("", "body"),
    ];
    for (raw, field) in cases {
        let res = app
            .post_charge(&c.user, Some(&c.token), None, raw.to_string())
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{raw:?}");
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!("{field}:")),
            "{raw:?}: detail {detail:?} should name {field}"
        );
    }
    assert_eq!(app.everything(&c.user).await, 0, "nothing was written");
    assert_eq!(app.balance_of(&c).await, 0);
}

// serde's derived Deserialize would take the struct from a JSON array of its fields in order,
// so `[5]` would charge 5 won; the body must be an object (as queue's test of the same name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_empty_json_array_is_400_naming_the_body_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    let res = app
        .post_charge(&c.user, Some(&c.token), None, "[5]".into())
        .await;
    let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert!(problem["detail"].as_str().unwrap().starts_with("body:"));
    assert_eq!(app.everything(&c.user).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_idempotency_key_is_400_naming_the_header_and_writes_nothing() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    let long = "k".repeat(129);
    let keys = [
        HeaderValue::from_static(""),
        HeaderValue::from_str(&long).unwrap(),
        HeaderValue::from_static("two words"),
        HeaderValue::from_bytes("키".as_bytes()).unwrap(),
    ];
    for key in keys {
        let shown = format!("{key:?}");
        let res = app
            .post_charge(
                &c.user,
                Some(&c.token),
                Some(key),
                json!({ "amount": 5 }).to_string(),
            )
            .await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.starts_with("Idempotency-Key:"), "{shown}: {detail}");
    }
    // Twice in one request.
    let res = app
        .api
        .request(Method::POST, &charges_path(&c.user))
        .token(&c.token)
        .header("Idempotency-Key", "a")
        .header("Idempotency-Key", "b")
        .json(&json!({ "amount": 5 }))
        .send()
        .await
        .unwrap();
    assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(app.everything(&c.user).await, 0, "nothing was written");

    // The longest key and the whole visible ASCII range are fine.
    let longest = "k".repeat(128);
    app.charge_ok(&c, 1, Some(&longest)).await;
    let visible: String = (0x21u8..=0x7e).map(char::from).collect();
    app.charge_ok(&c, 1, Some(&visible)).await;
    assert_eq!(app.balance_of(&c).await, 2);
    assert_eq!(app.idempotency_records(&c.user).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_user_id_in_the_path_is_400_naming_it() {
    let app = spawn_app_with(&[]).await;
    let c = app.caller().await;
    let long = "u".repeat(65);
    for user in ["bad%20user", "a%23b", long.as_str()] {
        let res = app.get(&balance_path(user), Some(&c.token)).await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert!(problem["detail"].as_str().unwrap().starts_with("userId:"));
        let res = app
            .post_charge(
                user,
                Some(&c.token),
                None,
                json!({ "amount": 5 }).to_string(),
            )
            .await;
        let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert!(problem["detail"].as_str().unwrap().starts_with("userId:"));
    }
}
