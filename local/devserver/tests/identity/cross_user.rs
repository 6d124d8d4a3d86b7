//! Each owner-only route answers 403 FORBIDDEN to another signed-in user, with that user's own
//! live queue token, and leaves the owner's things as they were.

use super::*;

/// A user with an ACTIVE token of the app's concert.
async fn active(app: &TestApp) -> (String, String) {
    let user = unique("u");
    let (status, view) = answer(app.issue_token(&user).await).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["status"], "ACTIVE", "{view}");
    (user, view["token"].as_str().unwrap().to_owned())
}

/// `path` called by `user` with `queue_token` (and `body` when given).
async fn call_as(
    app: &TestApp,
    method: Method,
    path: &str,
    user: &str,
    queue_token: &str,
    body: Option<Value>,
) -> common::Answer {
    let mut req = app
        .api
        .request(method, path)
        .as_user(user)
        .token(queue_token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_owner_only_route_is_403_to_another_signed_in_user() {
    let app = spawn_app().await;
    let (owner, owner_token) = active(&app).await;
    let (other, other_token) = active(&app).await;
    let date = app.dates[1].clone();

    // The owner's things: a balance, a live hold and a paid reservation.
    let charged = app
        .api
        .charge(&owner_token, &owner, 100_000, None)
        .await
        .unwrap();
    assert_eq!(charged.status(), StatusCode::OK, "{}", charged.text());
    let held = |seat: u16| {
        let token = owner_token.clone();
        let owner = owner.clone();
        let date = date.clone();
        let api = app.api.clone();
        let concert = app.concert.clone();
        async move {
            let (status, r) = answer(
                api.hold(&token, &owner, &concert, &date, seat)
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{r}");
            r["reservationId"].as_str().unwrap().to_owned()
        }
    };
    let live = held(1).await;
    let paid = held(2).await;
    let res = app
        .api
        .pay(&owner_token, &owner, &paid, None)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text());
    // The payment spent the owner's token: a new one for what follows.
    let owner_token = app.token_for(&owner).await;

    let cases: Vec<(&str, Method, String, Option<Value>)> = vec![
        (
            "the balance",
            Method::GET,
            format!("/users/{owner}/balance"),
            None,
        ),
        (
            "a charge",
            Method::POST,
            format!("/users/{owner}/balance/charges"),
            Some(json!({ "amount": 1000 })),
        ),
        (
            "a hold",
            Method::POST,
            "/reservations".into(),
            Some(json!({ "userId": owner, "concertId": app.concert, "date": date, "seatNo": 3 })),
        ),
        (
            "reading a reservation",
            Method::GET,
            format!("/reservations/{live}"),
            None,
        ),
        (
            "releasing a reservation",
            Method::DELETE,
            format!("/reservations/{live}"),
            None,
        ),
        (
            "refunding a reservation",
            Method::POST,
            format!("/reservations/{paid}/refund"),
            None,
        ),
        (
            "paying for a reservation",
            Method::POST,
            "/payments".into(),
            Some(json!({ "userId": other, "reservationId": live })),
        ),
    ];
    for (case, method, path, body) in cases {
        let res = call_as(&app, method, &path, &other, &other_token, body).await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{case}: {}",
            res.text()
        );
        assert_eq!(res.code().as_deref(), Some("FORBIDDEN"), "{case}");
    }

    // Another user's queue token, on the queue and on the other user's own balance.
    let res = call_as(
        &app,
        Method::GET,
        "/queue/status",
        &other,
        &owner_token,
        None,
    )
    .await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let res = call_as(
        &app,
        Method::GET,
        &format!("/users/{other}/balance"),
        &other,
        &owner_token,
        None,
    )
    .await;
    assert_problem(res, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    // The owner's things are as they were.
    let (_, balance) = answer(app.api.balance(&owner_token, &owner).await.unwrap()).await;
    assert_eq!(balance["balance"], 50_000);
    for (id, status) in [(&live, "HELD"), (&paid, "CONFIRMED")] {
        let (code, r) = answer(app.api.reservation(&owner_token, id).await.unwrap()).await;
        assert_eq!(code, StatusCode::OK, "{r}");
        assert_eq!(r["status"], status, "{r}");
    }
}
