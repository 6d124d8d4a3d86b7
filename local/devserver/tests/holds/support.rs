//! The helpers of these tests: the app-bound ones as methods of `TestApp`.

use super::*;

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(crate) fn keys_of(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

pub(crate) fn set_of(fields: &[&str]) -> BTreeSet<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

pub(crate) fn days_from_today(days: i64) -> ConcertDate {
    ConcertDate::from_naive(ConcertDate::today_utc().naive() + chrono::Duration::days(days))
}

pub(crate) fn pairs(body: &Value) -> Vec<(String, u64)> {
    body["dates"]
        .as_array()
        .unwrap_or_else(|| panic!("dates is an array: {body}"))
        .iter()
        .map(|d| {
            (
                d["date"].as_str().expect("a date").to_owned(),
                d["availableSeats"].as_u64().expect("a count"),
            )
        })
        .collect()
}

pub(crate) fn status_of(seats: &[Value], seat_no: u64) -> String {
    let seat = seats
        .iter()
        .find(|s| s["seatNo"] == seat_no)
        .unwrap_or_else(|| panic!("seat {seat_no} is listed"));
    seat["status"].as_str().expect("a status").to_owned()
}

pub(crate) fn statuses(seats: &[Value]) -> Vec<String> {
    seats
        .iter()
        .map(|s| s["status"].as_str().expect("a status").to_owned())
        .collect()
}

pub(crate) fn reservation_id(view: &Value) -> ReservationId {
    ReservationId::parse(view["reservationId"].as_str().expect("a reservationId"))
        .expect("a UUID reservationId")
}

/// Its marker, with a `ttl` a day off so DynamoDB's TTL cannot delete it during the test.
pub(crate) fn marker_for(reservation: &ReservationItem) -> HoldItem {
    let mut m = HoldItem::held(reservation);
    m.ttl = Some(Utc::now().timestamp() + 86_400);
    m
}

/// Waits until the wall clock is `margin_ms` past `at_ms`.
pub(crate) async fn sleep_past(at_ms: i64, margin_ms: i64) {
    let left = at_ms + margin_ms - now_ms();
    if left > 0 {
        tokio::time::sleep(Duration::from_millis(left as u64)).await;
    }
}

/// `expiresAt`, which must be RFC 3339 UTC in the contract's shape `2026-12-24T19:00:00Z`.
pub(crate) fn expires_at(view: &Value) -> DateTime<Utc> {
    let text = view["expiresAt"].as_str().expect("expiresAt is set");
    assert!(
        text.len() == 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T',
        "expiresAt {text:?} is not YYYY-MM-DDTHH:MM:SSZ"
    );
    DateTime::parse_from_rfc3339(text)
        .expect("expiresAt is RFC 3339")
        .with_timezone(&Utc)
}

/// A stream record as Lambda hands it to `release_hold` for a TTL deletion: eventName REMOVE
/// by the DynamoDB service, the deleted marker as the old image in DynamoDB JSON.
pub(crate) fn ttl_removal(hold: &HoldItem, sequence_number: &str) -> Value {
    stream_record("REMOVE", hold, sequence_number)
}

pub(crate) fn stream_record(event_name: &str, hold: &HoldItem, sequence_number: &str) -> Value {
    let mut image = json!({
        "PK": {"S": hold.pk},
        "SK": {"S": hold.sk},
        "entity": {"S": "Hold"},
        "concertId": {"S": hold.concert_id.as_str()},
        "date": {"S": hold.date.to_string()},
        "seatNo": {"N": hold.seat_no.get().to_string()},
        "status": {"S": match hold.status { HoldStatus::Held => "HELD", HoldStatus::Sold => "SOLD" }},
        "reservationId": {"S": hold.reservation_id.to_string()},
        "userId": {"S": hold.user_id.as_str()},
    });
    if let Some(at) = hold.expires_at {
        image["expiresAt"] = json!({"N": at.to_string()});
    }
    if !hold.seat_nos.is_empty() {
        let seats: Vec<Value> = hold
            .seat_nos
            .iter()
            .map(|s| json!({"N": s.get().to_string()}))
            .collect();
        image["seatNos"] = json!({ "L": seats });
    }
    if let Some(ttl) = hold.ttl {
        image["ttl"] = json!({"N": ttl.to_string()});
    }
    json!({
        "eventID": uuid::Uuid::new_v4().simple().to_string(),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/concert-booking/stream/2026-01-01T00:00:00.000",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "ApproximateCreationDateTime": Utc::now().timestamp() as f64,
            "Keys": {"PK": {"S": hold.pk}, "SK": {"S": hold.sk}},
            "OldImage": image,
            "SequenceNumber": sequence_number,
            "SizeBytes": 312,
            "StreamViewType": "OLD_IMAGE"
        }
    })
}

pub(crate) fn failed_items(response: &DynamoDbEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

/// A fresh stream sequence number: decimal digits, as DynamoDB Streams writes them.
pub(crate) fn sequence_number() -> String {
    (uuid::Uuid::new_v4().as_u128() >> 32).to_string()
}

impl TestApp {
    /// An ACTIVE token of `user` for `concert` (a slot must be free).
    pub(crate) async fn token_for_concert(&self, user: &str, concert: &str) -> String {
        let (status, view) = answer(
            self.post_json(
                "/queue/tokens",
                None,
                &json!({"userId": user, "concertId": concert}),
            )
            .await,
        )
        .await;
        assert!(status.is_success(), "token issue failed: {status} {view}");
        assert_eq!(view["status"], "ACTIVE", "{view}");
        view["token"].as_str().unwrap().to_owned()
    }

    /// An ACTIVE token for the app's concert.
    pub(crate) async fn active_token(&self, user: &str) -> String {
        self.token_for_concert(user, &self.concert).await
    }

    /// ACTIVE tokens for many users, issued 200 at a time.
    pub(crate) async fn active_tokens(&self, users: &[String]) -> Vec<String> {
        let mut tokens = Vec::with_capacity(users.len());
        for chunk in users.chunks(200) {
            tokens.extend(join_all(chunk.iter().map(|u| self.active_token(u))).await);
        }
        tokens
    }

    /// Seeds a concert of its own with these dates, `seats` seats each at `price`.
    pub(crate) async fn seed_concert(
        &self,
        dates: &[ConcertDate],
        seats: u16,
        price: u64,
    ) -> String {
        let concert = unique("concert");
        shared::flows::catalog::seed(
            &self.state.db,
            &ConcertId::parse(&concert).unwrap(),
            dates,
            seats,
            Won::new(price),
        )
        .await
        .expect("the catalog seeds");
        concert
    }

    pub(crate) async fn dates_of(&self, token: &str, concert: &str) -> Value {
        let (status, body) = answer(
            self.get(&format!("/concerts/{concert}/dates"), Some(token))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The app concert's dates as (date, availableSeats).
    pub(crate) async fn dates(&self, token: &str) -> Vec<(String, u64)> {
        let body = self.dates_of(token, &self.concert).await;
        pairs(&body)
    }

    pub(crate) async fn seat_map_of(&self, token: &str, concert: &str, date: &str) -> Value {
        let (status, body) = answer(
            self.get(
                &format!("/concerts/{concert}/dates/{date}/seats"),
                Some(token),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The app concert's seats of `date`, as the API lists them.
    pub(crate) async fn seats(&self, token: &str, date: &str) -> Vec<Value> {
        self.seat_map_of(token, &self.concert, date).await["seats"]
            .as_array()
            .expect("seats is an array")
            .clone()
    }

    pub(crate) async fn hold_as(
        &self,
        token: &str,
        user: &str,
        concert: &str,
        date: &str,
        seat: u64,
    ) -> (StatusCode, Value) {
        answer(
            self.post_json(
                "/reservations",
                Some(token),
                &json!({"userId": user, "concertId": concert, "date": date, "seatNo": seat}),
            )
            .await,
        )
        .await
    }

    /// A hold on the app's concert that must succeed (201); its reservation view.
    pub(crate) async fn hold_ok(&self, token: &str, user: &str, date: &str, seat: u64) -> Value {
        let (status, body) = self.hold_as(token, user, &self.concert, date, seat).await;
        assert_eq!(status, StatusCode::CREATED, "hold of seat {seat}: {body}");
        body
    }

    pub(crate) async fn get_reservation(&self, token: &str, id: &str) -> (StatusCode, Value) {
        answer(self.get(&format!("/reservations/{id}"), Some(token)).await).await
    }

    pub(crate) async fn put_main(&self, item: Item) {
        self.state
            .db
            .client
            .put_item()
            .table_name(&self.state.db.table)
            .set_item(Some(item))
            .send()
            .await
            .expect("the item is written");
    }

    pub(crate) async fn put_reservation(&self, item: Item) {
        self.state
            .db
            .client
            .put_item()
            .table_name(&self.state.db.reservations)
            .set_item(Some(item))
            .send()
            .await
            .expect("the reservation is written");
    }

    pub(crate) async fn delete_marker(&self, hold: &HoldItem) {
        self.state
            .db
            .client
            .delete_item()
            .table_name(&self.state.db.table)
            .key("PK", AttributeValue::S(hold.pk.clone()))
            .key("SK", AttributeValue::S(hold.sk.clone()))
            .send()
            .await
            .expect("the marker is deleted");
    }

    /// A reservation of the app's concert in the shape a hold writes, whose time ran out
    /// `ago_ms` ago. Without `heldShard` unless `in_sweep_index`: then no sweep (ours or another
    /// test's) can release it behind the test's back.
    pub(crate) fn lapsed_reservation(
        &self,
        user: &str,
        date: &str,
        seat: u16,
        ago_ms: i64,
        in_sweep_index: bool,
    ) -> ReservationItem {
        let now = Utc::now();
        let mut r = ReservationItem::held(
            ReservationId::generate(),
            &UserId::parse(user).unwrap(),
            &ConcertId::parse(&self.concert).unwrap(),
            ConcertDate::parse(date).unwrap(),
            SeatNo::new(i64::from(seat)).unwrap(),
            Won::new(50_000),
            now - chrono::Duration::milliseconds(ago_ms),
            now - chrono::Duration::milliseconds(ago_ms + 300_000),
        );
        if !in_sweep_index {
            r.held_shard = None;
        }
        r
    }

    /// Writes a hold whose time ran out 1 s ago, through the app's own hold write.
    pub(crate) async fn write_lapsed_hold(
        &self,
        user: &str,
        date: &str,
        seat: u16,
        in_sweep_index: bool,
    ) -> (ReservationItem, HoldItem) {
        let r = self.lapsed_reservation(user, date, seat, 1_000, in_sweep_index);
        let m = marker_for(&r);
        self.state
            .db
            .put_hold(&m, &r, now_ms(), None)
            .await
            .expect("the hold is written");
        (r, m)
    }

    /// Writes what a payment leaves: the marker SOLD for good and the reservation CONFIRMED.
    pub(crate) async fn write_paid_hold(
        &self,
        user: &str,
        date: &str,
        seat: u16,
    ) -> ReservationItem {
        let mut r = self.lapsed_reservation(user, date, seat, 1_000, false);
        // Paid before its time ran out; the payment drops the marker's expiry and TTL.
        r.status = ReservationStatus::Confirmed;
        let mut m = HoldItem::held(&r);
        m.status = HoldStatus::Sold;
        m.expires_at = None;
        m.ttl = None;
        self.put_main(to_item(&m).unwrap()).await;
        self.put_reservation(to_item(&r).unwrap()).await;
        r
    }

    /// Calls the release function as the event source mapping would, with these records.
    pub(crate) async fn deliver(&self, records: Vec<Value>) -> DynamoDbEventResponse {
        let event: Event = serde_json::from_value(json!({ "Records": records }))
            .expect("the records parse as a Lambda DynamoDB event");
        release_hold::handler(&self.state, LambdaEvent::new(event, Context::default()))
            .await
            .expect("the batch is handled")
    }

    /// Writes `r` padded so that it sits just under DynamoDB's 400 KB item limit while HELD:
    /// marking it EXPIRED (three bytes longer) is then refused by DynamoDB itself, which makes
    /// its release fail deterministically.
    pub(crate) async fn write_unexpirable(&self, r: &ReservationItem) {
        let padded = |pad: usize, status: &str| {
            let mut item = to_item(r).unwrap();
            item.insert("status".into(), AttributeValue::S(status.into()));
            item.insert("pad".into(), AttributeValue::S("x".repeat(pad)));
            item
        };
        let fits = |pad: usize, status: &'static str| {
            let item = padded(pad, status);
            async move {
                self.state
                    .db
                    .client
                    .put_item()
                    .table_name(&self.state.db.reservations)
                    .set_item(Some(item))
                    .send()
                    .await
                    .is_ok()
            }
        };
        // The largest padding with which the EXPIRED item still fits.
        let (mut lo, mut hi) = (300_000usize, 420_000usize);
        assert!(fits(lo, "EXPIRED").await && !fits(hi, "EXPIRED").await);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if fits(mid, "EXPIRED").await {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        // Three bytes more padding with HELD: the same size, so it fits; EXPIRED would not.
        assert!(fits(lo + 3, "HELD").await, "the HELD item fits");
    }
}

impl TestApp {
    /// `POST /reservations` with `seatNos` on the app's concert, keyed when `key` is given.
    pub(crate) async fn hold_seats(
        &self,
        token: &str,
        user: &str,
        date: &str,
        seats: &[u16],
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        answer(
            self.api
                .hold_seats(token, user, &self.concert, date, seats, key)
                .await
                .expect("the server answers"),
        )
        .await
    }

    /// Who holds or bought each seat: the marker's reservation, if any.
    pub(crate) async fn owners(&self, date: &str, seats: &[u16]) -> Vec<Option<String>> {
        let mut out = Vec::new();
        for seat in seats {
            out.push(
                self.marker(&self.concert, date, *seat)
                    .await
                    .map(|m| text(&m, "reservationId")),
            );
        }
        out
    }

    /// `DELETE /reservations/{id}`.
    pub(crate) async fn release_as(&self, token: &str, id: &str) -> (StatusCode, Value) {
        answer(
            self.api
                .release(token, id)
                .await
                .expect("the server answers"),
        )
        .await
    }
}
