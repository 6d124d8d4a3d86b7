//! The local server's request-head limit, as API Gateway's HTTP API has it: the request line
//! and the headers may total 10,240 bytes; more is 400 VALIDATION_FAILED naming `headers`, as
//! problem+json, on every route. (Before, hyper's own limits answered a bare 431 for over 100
//! headers and a bare 414 for a long path, and let a 70 KB header through.)

mod common;

use common::{assert_problem, spawn_app};
use devserver::server::MAX_HEAD_BYTES;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn a_head_over_the_limit_is_400_and_one_under_it_is_served() {
    let app = spawn_app().await;

    let big = "x".repeat(MAX_HEAD_BYTES);
    let res = app
        .api
        .request(Method::GET, "/queue/status")
        .header("x-pad", &big)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert!(
        problem["detail"].as_str().unwrap().starts_with("headers:"),
        "{problem}"
    );

    // The same in the path, on a route that takes input.
    let res = app.get(&format!("/concerts/{big}/dates"), None).await;
    let problem = assert_problem(res, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert!(
        problem["detail"].as_str().unwrap().starts_with("headers:"),
        "{problem}"
    );

    // Many small headers under the limit reach the handler (which wants a token).
    let mut req = app.api.request(Method::GET, "/queue/status");
    for i in 0..200 {
        req = req.header(format!("x-h{i}"), "a");
    }
    let res = req.header("x-pad", "x".repeat(4_000)).send().await.unwrap();
    assert_problem(res, StatusCode::UNAUTHORIZED, "TOKEN_MISSING").await;
}
