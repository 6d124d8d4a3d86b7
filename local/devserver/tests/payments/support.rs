//! The helpers of these tests: the app-bound ones as methods of `TestApp`.

use super::*;

/// A user of the app with a token for its concert.
pub(crate) struct Payer {
    pub(crate) user: String,
    pub(crate) token: String,
}

impl Payer {
    pub(crate) fn queue_token(&self) -> QueueToken {
        QueueToken::parse(&self.token).unwrap()
    }
}

/// A payment through the flow, with the token taken to be of the reservation's concert.
pub(crate) async fn pay_flow(
    state: &AppState,
    token: &QueueToken,
    request: &PayRequest,
    key: Option<&IdempotencyKey>,
) -> Result<Paid, ApiError> {
    let concert = match state.db.get_reservation(&request.reservation_id).await {
        Ok(Some(r)) => r.concert_id,
        _ => ConcertId::parse("unknown").unwrap(),
    };
    let payer = payments::Payer {
        token,
        concert: &concert,
    };
    payments::pay(state, payer, request, key).await
}

/// A hold through the flow, without a token (the token may be spent by then).
pub(crate) async fn hold_direct(
    state: &AppState,
    concert: &str,
    user: &str,
    date: &str,
    seat: u16,
) -> Result<Reservation, ApiError> {
    holds::hold(
        state,
        HoldRequest {
            user: UserId::parse(user).unwrap(),
            concert: ConcertId::parse(concert).unwrap(),
            date: ConcertDate::parse(date).unwrap(),
            seats: vec![SeatNo::new(i64::from(seat)).unwrap()],
        },
        None,
    )
    .await
}

pub(crate) fn pay_request(user: &str, reservation: &ReservationId) -> PayRequest {
    PayRequest {
        user_id: UserId::parse(user).unwrap(),
        reservation_id: *reservation,
    }
}

pub(crate) fn code_of<T>(result: &Result<T, ApiError>) -> &'static str {
    match result {
        Ok(_) => "OK",
        Err(e) => e.parts().1,
    }
}

/// Everything a payment of `reservation` (seat `seat` of `date`) by `user` could write.
#[derive(Debug, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) user_items: Vec<Item>,
    pub(crate) reservation: Option<Item>,
    pub(crate) marker: Option<Item>,
    pub(crate) payment: Option<Item>,
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn instant(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("an instant: {value}"));
    assert!(
        text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T',
        "{text:?} is not YYYY-MM-DDTHH:MM:SSZ"
    );
    DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Sleeps until `at_ms` (epoch milliseconds) has passed by `margin_ms`.
pub(crate) async fn sleep_past(at_ms: i64, margin_ms: i64) {
    let wait = at_ms + margin_ms - Utc::now().timestamp_millis();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

impl TestApp {
    /// A new user and a token; its view (for the caller to check ACTIVE or WAITING).
    pub(crate) async fn new_payer(&self) -> (Payer, Value) {
        let user = unique("u");
        let (status, view) = answer(self.issue_token(&user).await).await;
        assert_eq!(status, StatusCode::CREATED, "a new token: {view}");
        let token = view["token"].as_str().expect("a token").to_owned();
        (Payer { user, token }, view)
    }

    /// A new user with an ACTIVE token.
    pub(crate) async fn active_payer(&self) -> Payer {
        let (payer, view) = self.new_payer().await;
        assert_eq!(view["status"], "ACTIVE", "{view}");
        payer
    }

    /// A new ACTIVE token for a user whose token a payment spent.
    pub(crate) async fn fresh_token(&self, user: &str) -> String {
        let (status, view) = answer(self.issue_token(user).await).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "a spent token means a new one: {view}"
        );
        assert_eq!(view["status"], "ACTIVE", "{view}");
        view["token"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn charge(&self, p: &Payer, amount: u64) {
        let (status, body) = answer(
            self.post_json(
                &format!("/users/{}/balance/charges", p.user),
                Some(&p.token),
                &json!({ "amount": amount }),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "charge of {amount}: {body}");
    }

    /// A hold over HTTP that must succeed; its reservation ID.
    pub(crate) async fn hold(&self, p: &Payer, date: &str, seat: u16) -> ReservationId {
        let (status, body) = answer(
            self.post_json(
                "/reservations",
                Some(&p.token),
                &json!({"userId": p.user, "concertId": self.concert, "date": date, "seatNo": seat}),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "hold of seat {seat}: {body}");
        ReservationId::parse(body["reservationId"].as_str().unwrap()).unwrap()
    }

    pub(crate) async fn post_payment(
        &self,
        token: Option<&str>,
        key: Option<&str>,
        body: String,
    ) -> Answer {
        let key = key.map(|k| HeaderValue::from_str(k).expect("a header-safe key"));
        self.post_keyed("/payments", token, key, body).await
    }

    /// `POST /payments` with `token` for `user` and `reservation`.
    pub(crate) async fn pay(
        &self,
        token: &str,
        user: &str,
        reservation: &ReservationId,
        key: Option<&str>,
    ) -> Answer {
        self.post_payment(
            Some(token),
            key,
            json!({"userId": user, "reservationId": reservation.to_string()}).to_string(),
        )
        .await
    }

    /// The payment item `RESERVATION#{rid}` / `PAYMENT` in the reservations table.
    pub(crate) async fn payment_item(&self, id: &ReservationId) -> Option<Item> {
        self.get_raw(
            &self.state.db.reservations,
            keys::reservation_pk(id),
            keys::PAYMENT_SK,
        )
        .await
    }

    pub(crate) async fn ledger(&self, user: &str) -> Vec<LedgerItem> {
        self.user_items(user, keys::LEDGER_SK_PREFIX)
            .await
            .into_iter()
            .map(|i| from_item(i).expect("a ledger item"))
            .collect()
    }

    /// The balance as stored; 0 for a user who never charged.
    pub(crate) async fn balance_in_db(&self, user: &str) -> u64 {
        balance::get(&self.state, &UserId::parse(user).unwrap())
            .await
            .expect("DynamoDB answers")
            .get()
    }

    pub(crate) async fn snapshot(
        &self,
        user: &str,
        reservation: &ReservationId,
        date: &str,
        seat: u16,
    ) -> Snapshot {
        Snapshot {
            user_items: self.user_items(user, "").await,
            reservation: self.reservation_raw(reservation).await,
            marker: self.marker(&self.concert, date, seat).await,
            payment: self.payment_item(reservation).await,
        }
    }

    /// Every SOLD marker of the app's concert, as (date, reservation).
    pub(crate) async fn sold_markers(&self) -> Vec<(String, ReservationId)> {
        let concert = ConcertId::parse(&self.concert).unwrap();
        let mut sold = Vec::new();
        for date in &self.dates {
            let pk = keys::seats_pk(&concert, &ConcertDate::parse(date).unwrap());
            let mut start = None;
            loop {
                let out = self
                    .state
                    .db
                    .client
                    .query()
                    .table_name(&self.state.db.table)
                    .key_condition_expression("PK = :pk")
                    .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                    .consistent_read(true)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .expect("DynamoDB answers");
                for item in out.items.unwrap_or_default() {
                    if text(&item, "SK").ends_with("#HOLD") && text(&item, "status") == "SOLD" {
                        let rid = ReservationId::parse(&text(&item, "reservationId")).unwrap();
                        sold.push((date.clone(), rid));
                    }
                }
                match out.last_evaluated_key {
                    Some(k) if !k.is_empty() => start = Some(k),
                    _ => break,
                }
            }
        }
        sold
    }
}
