//! Bodies and IDs the token issue refuses, and the ones it takes.

use super::*;

/// A body that is not a json object is 400 naming the body and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_a_json_object_is_400_naming_the_body() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = app.concert.clone();
    for body in [
        String::new(),
        "   ".to_owned(),
        "{".to_owned(),
        format!(r#"{{"userId": "{user}", "concertId": "{concert}""#),
        format!(r#"{{"userId": '{user}', "concertId": "{concert}"}}"#),
        "not json".to_owned(),
        "[]".to_owned(),
        "null".to_owned(),
        "42".to_owned(),
        format!(r#""{user}""#),
        format!(r#"{{"userId": "{user}", "concertId": "{concert}"}} {{}}"#),
    ] {
        app.assert_refused(body, "body").await;
    }
    app.assert_no_token_records(&user).await;
}

// serde's derived Deserialize would take the struct from an array of its fields in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_empty_json_array_is_400_naming_the_body_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = app.concert.clone();
    for body in [
        format!(r#"[{{"userId": "{user}", "concertId": "{concert}"}}]"#),
        format!(r#"["{user}", "{concert}"]"#),
    ] {
        app.assert_refused(body, "body").await;
    }
    app.assert_no_token_records(&user).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_of_the_wrong_type_is_400_naming_it_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = app.concert.clone();
    let cases = [
        (json!({"userId": 12345, "concertId": concert}), "userId"),
        (json!({"userId": null, "concertId": concert}), "userId"),
        (json!({"userId": true, "concertId": concert}), "userId"),
        (json!({"userId": [user], "concertId": concert}), "userId"),
        (
            json!({"userId": {"id": user}, "concertId": concert}),
            "userId",
        ),
        (json!({"userId": user, "concertId": 7}), "concertId"),
        (json!({"userId": user, "concertId": null}), "concertId"),
    ];
    for (body, field) in cases {
        app.assert_refused(body.to_string(), field).await;
    }
    app.assert_no_token_records(&user).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_unknown_field_is_400_naming_it_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = app.concert.clone();
    // `userId` may be left out (the buyer is who signed in); `concertId` may not.
    let cases = [
        (json!({"userId": user}), "concertId"),
        (json!({}), "concertId"),
        (
            json!({"userId": user, "concertId": concert, "priority": 1}),
            "priority",
        ),
        (json!({"userid": user, "concertId": concert}), "userid"),
    ];
    for (body, field) in cases {
        app.assert_refused(body.to_string(), field).await;
    }
    let snake = format!(r#"{{"user_id": "{user}", "concert_id": "{concert}"}}"#);
    app.assert_refused(snake, "user_id").await;
    let duplicate =
        format!(r#"{{"userId": "{user}", "userId": "{user}", "concertId": "{concert}"}}"#);
    app.assert_refused(duplicate, "userId").await;
    app.assert_no_token_records(&user).await;
}

/// An id that is too long empty non ascii or has a forbidden character is 400 naming it and
/// nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_empty_non_ascii_or_forbidden_id_is_400_naming_it() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let concert = app.concert.clone();
    let bad_ids = [
        "x".repeat(65),
        String::new(),
        "사용자".to_owned(),
        "usér".to_owned(),
        "user one".to_owned(),
        "user#1".to_owned(),
        "user/1".to_owned(),
        "user\n".to_owned(),
        "user\u{0}".to_owned(),
    ];
    for bad in &bad_ids {
        let body = json!({"userId": bad, "concertId": concert}).to_string();
        app.assert_refused(body, "userId").await;
        let body = json!({"userId": user, "concertId": bad}).to_string();
        app.assert_refused(body, "concertId").await;
    }
    app.assert_no_token_records(&user).await;
}

/// Ids of 64 characters of letters digits underscore and hyphen are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_of_64_letters_digits_underscores_and_hyphens_are_accepted() {
    let app = spawn_app_with(&[]).await;
    let user = format!("{}_{}", unique("A-z_0-9"), "y".repeat(43));
    assert_eq!(user.len(), 64);
    let view = app.issue_new(&user).await;
    assert_eq!(view["userId"], user.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_16_kib_is_400_naming_the_body_and_nothing_is_written() {
    let app = spawn_app_with(&[]).await;
    let user = unique("u");
    let huge = json!({"userId": "u".repeat(20_000), "concertId": app.concert}).to_string();
    app.assert_refused(huge, "body").await;
    // Valid fields padded with whitespace past the limit are refused too.
    let padded = format!(
        r#"{{"userId": "{user}",{} "concertId": "{}"}}"#,
        " ".repeat(17 * 1024),
        app.concert
    );
    app.assert_refused(padded, "body").await;
    app.assert_no_token_records(&user).await;
}
