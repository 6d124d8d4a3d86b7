//! The helpers of these tests: buying seats, reading tickets, scanning codes.

use super::*;

/// What a ticket shows, field for field.
pub(crate) const TICKET_FIELDS: [&str; 8] = [
    "ticketId",
    "reservationId",
    "concertId",
    "date",
    "seatNo",
    "section",
    "code",
    "checkedInAt",
];

/// A buyer with an ACTIVE queue token of the app's concert.
pub(crate) struct Buyer {
    pub(crate) user: String,
    pub(crate) token: String,
}

pub(crate) fn fields(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

impl TestApp {
    /// A new user (`prefix-...`) with an ACTIVE token.
    pub(crate) async fn buyer(&self, prefix: &str) -> Buyer {
        let user = unique(prefix);
        let token = self.active_token(&user).await;
        Buyer { user, token }
    }

    /// A new ACTIVE token for `user` (a payment spends the one before).
    pub(crate) async fn active_token(&self, user: &str) -> String {
        let (status, view) = answer(self.issue_token(user).await).await;
        assert!(status.is_success(), "a token: {view}");
        assert_eq!(view["status"], "ACTIVE", "{view}");
        view["token"].as_str().unwrap().to_owned()
    }

    /// A hold of `seats` of `date` by `b`, which must succeed.
    pub(crate) async fn hold(&self, b: &Buyer, date: &str, seats: &[u16]) -> ReservationId {
        let (status, body) = answer(
            self.api
                .hold_seats(&b.token, &b.user, &self.concert, date, seats, None)
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "hold of {seats:?}: {body}");
        ReservationId::parse(body["reservationId"].as_str().unwrap()).unwrap()
    }

    /// `b` buys `seats` of `date` (charged their price first); the reservation. `b` gets a
    /// fresh token: the payment spent the first.
    pub(crate) async fn buy(&self, b: &mut Buyer, date: &str, seats: &[u16]) -> ReservationId {
        let price = 50_000 * seats.len() as i64;
        let res = self
            .api
            .charge(&b.token, &b.user, price, None)
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "charge: {}", res.text());
        let rid = self.hold(b, date, seats).await;
        let res = self
            .api
            .pay(&b.token, &b.user, &rid.to_string(), None)
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "payment: {}", res.text());
        b.token = self.active_token(&b.user).await;
        rid
    }

    /// The tickets of `rid` as `user` sees them: must be 200.
    pub(crate) async fn tickets_of(&self, user: &str, rid: &ReservationId) -> Vec<Value> {
        let (status, body) = answer(self.api.tickets(user, &rid.to_string()).await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "tickets: {body}");
        assert_eq!(
            fields(&body),
            BTreeSet::from(["reservationId", "tickets"]),
            "{body}"
        );
        assert_eq!(body["reservationId"], rid.to_string());
        body["tickets"].as_array().unwrap().clone()
    }

    /// The code of seat `seat` of `rid`.
    pub(crate) async fn code_of(&self, user: &str, rid: &ReservationId, seat: u16) -> String {
        self.tickets_of(user, rid)
            .await
            .iter()
            .find(|t| t["seatNo"] == seat)
            .unwrap_or_else(|| panic!("a ticket of seat {seat}"))["code"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `POST /admin/checkins` with the operator's token.
    pub(crate) async fn scan(&self, code: &str) -> Answer {
        self.api
            .check_in(common::ADMIN_TOKEN, code)
            .await
            .expect("the server answers")
    }

    /// A refund of `rid` by `b`.
    pub(crate) async fn refund(&self, b: &Buyer, rid: &ReservationId) -> Answer {
        self.api
            .refund(&b.token, &rid.to_string(), None)
            .await
            .expect("the server answers")
    }

    /// `make check-invariants`' checker over this app's concert and the users whose IDs start
    /// with `users` (the table is shared: other tests' users are mid-write): nothing to report.
    pub(crate) async fn assert_invariants(&self, users: &str) {
        let filter = devserver::invariants::Filter {
            user_prefix: Some(users.to_owned()),
            concert_prefix: Some(self.concert.clone()),
        };
        let report = devserver::invariants::check(&self.state.db, &filter, chrono::Utc::now())
            .await
            .expect("the checker runs");
        assert!(report.is_clean(), "{report}");
        eprint!("{report}");
    }

    /// A page of `user`'s list: status and body.
    pub(crate) async fn page(
        &self,
        user: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> (StatusCode, Value) {
        answer(self.api.reservations(user, limit, cursor).await.unwrap()).await
    }
}

/// The seat's marker, as stored.
pub(crate) async fn marker_checked_in(app: &TestApp, date: &str, seat: u16) -> Option<String> {
    let item = app.marker(&app.concert, date, seat).await?;
    match item.get("checkedInAt")? {
        aws_sdk_dynamodb::types::AttributeValue::S(at) => Some(at.clone()),
        other => panic!("checkedInAt is {other:?}"),
    }
}

/// An app whose DynamoDB client counts its calls and whose Redis is unreachable (any call to
/// it would fail), served over HTTP like the others; its counter.
pub(crate) async fn counted_app(app: &TestApp) -> (String, Arc<shared::counting::Counter>) {
    let mut settings = app.state.settings.clone();
    settings.redis_url = "redis://127.0.0.1:1".into();
    let (state, counter) = shared::counting::counted_state(settings).await.unwrap();
    let served = devserver::app(Arc::new(state)).unwrap();
    let addr = devserver::server::spawn(served, 0).await.unwrap();
    (format!("http://{addr}"), counter)
}

pub(crate) fn state(app: &TestApp) -> &AppState {
    &app.state
}

pub(crate) fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}
