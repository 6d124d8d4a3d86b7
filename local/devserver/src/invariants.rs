//! `devserver check-invariants [--user-prefix P] [--concert-prefix C]`: reads both tables
//! whole and reports every broken invariant of the data model (docs/data-model.md):
//!
//! - **Sale**: every seat of a CONFIRMED reservation has a SOLD marker naming it; a SOLD marker
//!   has exactly one CONFIRMED reservation of its seat, the one it names, and that reservation
//!   exactly one payment (`RESERVATION#{id}` / `PAYMENT`), COMPLETED, of its price; a
//!   COMPLETED payment's reservation is CONFIRMED; every payment has one PAYMENT ledger entry
//!   (its `entryId` the payment's ID) of minus its amount.
//! - **Refund**: a REFUNDED reservation sells none of its seats (no SOLD marker names it), its
//!   payment is REFUNDED, and its buyer's ledger has one REFUND entry of the payment's amount;
//!   a REFUNDED payment's reservation is REFUNDED.
//! - **Hold**: no seat is in two live reservations (a HELD one not yet expired, or a CONFIRMED
//!   one). The marker's key makes two markers for one seat impossible, so what is checked is
//!   that the live reservations' seats do not overlap, and that each seat of a live hold still
//!   has its marker, naming it, not another reservation that is live too.
//! - **Count**: a buyer's seat count of a concert (`USER#{user}` / `SEATS#{concert}`) is what
//!   their reservations of it add up to: `seats` is the number of seats of their HELD
//!   reservations, expired or not, plus those of their CONFIRMED ones; `holds` lists exactly
//!   their HELD ones. An expired hold stays counted until its release (stream, sweep, or a
//!   hold refused by the limit) marks it EXPIRED and takes its seats off in one transaction,
//!   so the count follows the stored status, not the clock. RELEASED, EXPIRED and REFUNDED
//!   reservations count nothing; reservations written before the count existed (no `seatNos`)
//!   are not in it. No count item reads as 0 seats and no holds.
//! - **Balance**: a user's balance is the sum of the `amount`s of their ledger entries, charges,
//!   payments and refunds (no balance item counts as 0).
//! - **Check-in**: a seat the door let in (a marker with `checkedInAt`) is SOLD, by the
//!   reservation its marker names, which is CONFIRMED (never refunded: a refund deletes the
//!   marker only while it has no `checkedInAt`) and has that seat.
//!
//! An item of one of these entities that does not read as its shape (`shared::store::items`)
//! is reported too, as **shape**.
//!
//! This is an offline audit tool, so it Scans: every item of both tables, once, strongly
//! consistent. No request path may ever do this. Run it on a quiet stack: a hold or a payment
//! that commits between the two scans can show up as a violation that is not one.
//!
//! The filters choose which users and concerts are checked (so a test can audit its own data in
//! a shared table); the lookups behind each check always see everything.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use shared::domain::{ConcertDate, ConcertId, ReservationId, SeatNo, UserId};
use shared::store::dynamo::{from_item, sdk_error, Db, Item};
use shared::store::items::{
    keys, BalanceItem, HoldItem, HoldStatus, LedgerItem, LedgerKind, PaymentItem, PaymentStatus,
    ReservationItem, ReservationStatus, SeatCountItem,
};
use shared::StoreError;

/// Which users and concerts to check: by ID prefix, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub user_prefix: Option<String>,
    pub concert_prefix: Option<String>,
}

impl Filter {
    /// `--user-prefix P --concert-prefix C`, both optional.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut filter = Filter::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--user-prefix" => filter.user_prefix = Some(value.clone()),
                "--concert-prefix" => filter.concert_prefix = Some(value.clone()),
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(filter)
    }

    fn user(&self, user: &UserId) -> bool {
        self.user_prefix
            .as_deref()
            .is_none_or(|p| user.as_str().starts_with(p))
    }

    fn concert(&self, concert: &ConcertId) -> bool {
        self.concert_prefix
            .as_deref()
            .is_none_or(|p| concert.as_str().starts_with(p))
    }

    /// An item that has both a user and a concert.
    fn both(&self, user: &UserId, concert: &ConcertId) -> bool {
        self.user(user) && self.concert(concert)
    }

    /// An item as stored, for one that does not read as its shape: its `userId` must match
    /// the user prefix (one without any matches none), its `concertId`, where it has one, the
    /// concert prefix.
    fn raw(&self, item: &Item) -> bool {
        let user = text(item, "userId");
        let concert = text(item, "concertId");
        self.user_prefix
            .as_deref()
            .is_none_or(|p| user.starts_with(p))
            && self
                .concert_prefix
                .as_deref()
                .is_none_or(|p| concert.is_empty() || concert.starts_with(p))
    }
}

/// Which invariant a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invariant {
    Sale,
    Refund,
    Hold,
    Count,
    Balance,
    CheckIn,
    /// An item of a known entity that does not read as its shape.
    Shape,
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Invariant::Sale => "sale",
            Invariant::Refund => "refund",
            Invariant::Hold => "hold",
            Invariant::Count => "count",
            Invariant::Balance => "balance",
            Invariant::CheckIn => "check-in",
            Invariant::Shape => "shape",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    /// The user concerned, where there is one.
    pub user: Option<String>,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.invariant, self.detail)
    }
}

/// How much was checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub items_scanned: usize,
    pub markers: usize,
    pub sold_markers: usize,
    pub reservations: usize,
    pub confirmed: usize,
    pub refunded: usize,
    pub live_holds: usize,
    pub payments: usize,
    /// Buyer-and-concert pairs whose seat count was checked (with or without a count item).
    pub seat_counts: usize,
    pub balances: usize,
    pub ledger_entries: usize,
    /// Seats the door let in.
    pub checked_in: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub counts: Counts,
    pub violations: Vec<Violation>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    fn violation(&mut self, invariant: Invariant, user: Option<&UserId>, detail: String) {
        self.violations.push(Violation {
            invariant,
            user: user.map(|u| u.to_string()),
            detail,
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        writeln!(f, "scanned {} items", c.items_scanned)?;
        writeln!(
            f,
            "checked {} hold markers ({} SOLD), {} reservations ({} CONFIRMED, {} REFUNDED, {} live HELD), {} payments",
            c.markers, c.sold_markers, c.reservations, c.confirmed, c.refunded, c.live_holds, c.payments
        )?;
        writeln!(f, "checked {} buyers' seat counts", c.seat_counts)?;
        writeln!(f, "checked {} seats let in at the door", c.checked_in)?;
        writeln!(
            f,
            "checked {} balances against {} ledger entries",
            c.balances, c.ledger_entries
        )?;
        for v in &self.violations {
            writeln!(f, "violation {v}")?;
        }
        if self.violations.is_empty() {
            writeln!(f, "no violations")
        } else {
            writeln!(f, "{} violation(s)", self.violations.len())
        }
    }
}

type SeatKey = (ConcertId, ConcertDate, SeatNo);

fn seat_name((concert, date, seat): &SeatKey) -> String {
    format!("{concert}/{date}/seat {seat}")
}

/// Every item of a table, page by page (strongly consistent).
pub async fn scan(db: &Db, table: &str) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = db
            .client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Scan", e))?;
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(items),
        }
    }
}

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s,
        _ => "",
    }
}

/// The tables, read into the shapes the checks need.
#[derive(Default)]
struct Data {
    markers: HashMap<SeatKey, HoldItem>,
    reservations: HashMap<ReservationId, ReservationItem>,
    payments: HashMap<ReservationId, Vec<PaymentItem>>,
    seat_counts: HashMap<(UserId, ConcertId), SeatCountItem>,
    balances: HashMap<UserId, BalanceItem>,
    ledger: HashMap<UserId, Vec<LedgerItem>>,
}

impl Data {
    fn read<T: DeserializeOwned>(filter: &Filter, report: &mut Report, item: Item) -> Option<T> {
        let at = format!("{} / {}", text(&item, "PK"), text(&item, "SK"));
        let selected = filter.raw(&item);
        match from_item::<T>(item) {
            Ok(value) => Some(value),
            Err(_) if !selected => None,
            Err(e) => {
                let cause = std::error::Error::source(&e)
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                report.violation(
                    Invariant::Shape,
                    None,
                    format!("{at} does not read as its entity: {e}{cause}"),
                );
                None
            }
        }
    }

    fn load(&mut self, filter: &Filter, report: &mut Report, items: Vec<Item>) {
        for item in items {
            report.counts.items_scanned += 1;
            // Entities the checks do not concern (catalog, tokens, idempotency records) are
            // skipped unread.
            match text(&item, "entity") {
                "Hold" => {
                    if let Some(h) = Self::read::<HoldItem>(filter, report, item) {
                        self.markers
                            .insert((h.concert_id.clone(), h.date, h.seat_no), h);
                    }
                }
                "Reservation" => {
                    if let Some(r) = Self::read::<ReservationItem>(filter, report, item) {
                        self.reservations.insert(r.reservation_id, r);
                    }
                }
                "Payment" => {
                    if let Some(p) = Self::read::<PaymentItem>(filter, report, item) {
                        self.payments.entry(p.reservation_id).or_default().push(p);
                    }
                }
                // A count is written by Updates only; the hold's sets its entity and names.
                "SeatCount" => {
                    if let Some(c) = Self::read::<SeatCountItem>(filter, report, item) {
                        if let Some(owner) = count_owner(&c) {
                            self.seat_counts.insert(owner, c);
                        } else if filter.user_prefix.is_none() && filter.concert_prefix.is_none() {
                            report.violation(
                                Invariant::Shape,
                                None,
                                format!("{} / {} names no buyer or concert", c.pk, c.sk),
                            );
                        }
                    }
                }
                "Balance" => {
                    if let Some(b) = Self::read::<BalanceItem>(filter, report, item) {
                        self.balances.insert(b.user_id.clone(), b);
                    }
                }
                "Ledger" => {
                    if let Some(l) = Self::read::<LedgerItem>(filter, report, item) {
                        self.ledger.entry(l.user_id.clone()).or_default().push(l);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The buyer and concert of a seat count: its attributes, or else its key.
fn count_owner(c: &SeatCountItem) -> Option<(UserId, ConcertId)> {
    let user = match &c.user_id {
        Some(u) => u.clone(),
        None => UserId::parse(c.pk.strip_prefix("USER#")?).ok()?,
    };
    let concert = match &c.concert_id {
        Some(k) => k.clone(),
        None => ConcertId::parse(c.sk.strip_prefix("SEATS#")?).ok()?,
    };
    Some((user, concert))
}

/// Scans both tables and checks every invariant for the users and concerts `filter` selects.
/// `now` decides which holds are live.
pub async fn check(db: &Db, filter: &Filter, now: DateTime<Utc>) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let mut data = Data::default();
    // Reservations first: a hold commits its marker and its reservation together, so one
    // that lands between the scans leaves at most a marker without its reservation, not the
    // reverse (which would read as a live hold that lost its seat).
    let reservations = scan(db, &db.reservations).await?;
    let main = scan(db, &db.table).await?;
    data.load(filter, &mut report, reservations);
    data.load(filter, &mut report, main);
    let now_ms = now.timestamp_millis();
    check_sales(&data, filter, &mut report);
    check_refunds(&data, filter, &mut report);
    check_holds(&data, filter, now_ms, &mut report);
    check_counts(&data, filter, &mut report);
    check_balances(&data, filter, &mut report);
    check_check_ins(&data, filter, &mut report);
    Ok(report)
}

/// Every seat of a reservation, each as a seat key.
fn seats_of(r: &ReservationItem) -> Vec<SeatKey> {
    r.seats()
        .into_iter()
        .map(|s| (r.concert_id.clone(), r.date, s))
        .collect()
}

fn id_list<'a>(ids: impl IntoIterator<Item = &'a ReservationId>) -> String {
    ids.into_iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ledger entries of a payment's ID (a payment's and its refund's), of one kind.
fn entries_of<'a>(data: &'a Data, p: &PaymentItem, kind: LedgerKind) -> Vec<&'a LedgerItem> {
    data.ledger
        .get(&p.user_id)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|e| e.kind == kind && e.entry_id == *p.payment_id.as_uuid())
        .collect()
}

/// SOLD markers, CONFIRMED reservations, payments and their ledger entries agree with each
/// other, seat by seat.
fn check_sales(data: &Data, filter: &Filter, report: &mut Report) {
    let mut confirmed_by_seat: HashMap<SeatKey, Vec<&ReservationItem>> = HashMap::new();
    for r in data.reservations.values() {
        if r.status == ReservationStatus::Confirmed {
            for seat in seats_of(r) {
                confirmed_by_seat.entry(seat).or_default().push(r);
            }
        }
    }

    for (seat, marker) in &data.markers {
        if !filter.both(&marker.user_id, &marker.concert_id) {
            continue;
        }
        report.counts.markers += 1;
        if marker.status != HoldStatus::Sold {
            continue;
        }
        report.counts.sold_markers += 1;
        let name = seat_name(seat);
        let confirmed = confirmed_by_seat
            .get(seat)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        match confirmed {
            [only] if only.reservation_id == marker.reservation_id => {}
            // A refunded reservation's SOLD marker is check_refunds's.
            [] if data
                .reservations
                .get(&marker.reservation_id)
                .is_some_and(|r| r.status == ReservationStatus::Refunded) => {}
            [] => report.violation(
                Invariant::Sale,
                Some(&marker.user_id),
                format!(
                    "{name} is SOLD by reservation {}, but no reservation of the seat is CONFIRMED (it is {})",
                    marker.reservation_id,
                    data.reservations
                        .get(&marker.reservation_id)
                        .map_or("missing", |r| reservation_status(r.status))
                ),
            ),
            many => report.violation(
                Invariant::Sale,
                Some(&marker.user_id),
                format!(
                    "{name} is SOLD by reservation {}, but the CONFIRMED reservations of the seat are {}",
                    marker.reservation_id,
                    id_list(many.iter().map(|r| &r.reservation_id))
                ),
            ),
        }
    }

    for r in data.reservations.values() {
        if !filter.both(&r.user_id, &r.concert_id) {
            continue;
        }
        report.counts.reservations += 1;
        if r.status != ReservationStatus::Confirmed {
            continue;
        }
        report.counts.confirmed += 1;
        for seat in seats_of(r) {
            let sold_by_it = data.markers.get(&seat).is_some_and(|m| {
                m.status == HoldStatus::Sold && m.reservation_id == r.reservation_id
            });
            if !sold_by_it {
                let marker = match data.markers.get(&seat) {
                    None => "no marker".to_owned(),
                    Some(m) => {
                        format!("a {} marker of {}", hold_status(m.status), m.reservation_id)
                    }
                };
                report.violation(
                    Invariant::Sale,
                    Some(&r.user_id),
                    format!(
                        "reservation {} is CONFIRMED, but {} has {marker}, not a SOLD one of it",
                        r.reservation_id,
                        seat_name(&seat)
                    ),
                );
            }
        }
        let payments = data.payments.get(&r.reservation_id).map(Vec::as_slice);
        match payments.unwrap_or(&[]) {
            [p] if p.status == PaymentStatus::Completed && p.amount == r.price => {}
            [p] if p.status == PaymentStatus::Completed => report.violation(
                Invariant::Sale,
                Some(&r.user_id),
                format!(
                    "reservation {} is CONFIRMED at {} won, but its payment {} is of {} won",
                    r.reservation_id, r.price, p.payment_id, p.amount
                ),
            ),
            [p] => report.violation(
                Invariant::Sale,
                Some(&r.user_id),
                format!(
                    "reservation {} is CONFIRMED, but its payment {} is REFUNDED",
                    r.reservation_id, p.payment_id
                ),
            ),
            other => report.violation(
                Invariant::Sale,
                Some(&r.user_id),
                format!(
                    "reservation {} is CONFIRMED, and has {} payments, not 1",
                    r.reservation_id,
                    other.len()
                ),
            ),
        }
    }

    for (reservation, payments) in &data.payments {
        for p in payments {
            if !filter.user(&p.user_id) {
                continue;
            }
            let r = data.reservations.get(reservation);
            if r.is_some_and(|r| !filter.concert(&r.concert_id)) {
                continue;
            }
            report.counts.payments += 1;
            let expected = match p.status {
                PaymentStatus::Completed => ReservationStatus::Confirmed,
                PaymentStatus::Refunded => ReservationStatus::Refunded,
            };
            match r {
                Some(r) if r.status == expected => {}
                other => report.violation(
                    if p.status == PaymentStatus::Refunded {
                        Invariant::Refund
                    } else {
                        Invariant::Sale
                    },
                    Some(&p.user_id),
                    format!(
                        "payment {} ({}) is for reservation {reservation}, which is {}",
                        p.payment_id,
                        payment_status(p.status),
                        other.map_or("missing", |r| reservation_status(r.status))
                    ),
                ),
            }
            let debits = entries_of(data, p, LedgerKind::Payment);
            let whole = matches!(debits.as_slice(), [e] if i128::from(e.amount) == -i128::from(p.amount.get()));
            if !whole {
                report.violation(
                    Invariant::Sale,
                    Some(&p.user_id),
                    format!(
                        "payment {} of {} won has {} PAYMENT ledger entries ({}), not one of -{}",
                        p.payment_id,
                        p.amount,
                        debits.len(),
                        amounts(&debits),
                        p.amount
                    ),
                );
            }
        }
    }
}

fn amounts(entries: &[&LedgerItem]) -> String {
    entries
        .iter()
        .map(|e| e.amount.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A refund undid its sale whole: the seats are no longer its, the payment is REFUNDED and
/// the money went back through the ledger, once.
fn check_refunds(data: &Data, filter: &Filter, report: &mut Report) {
    for r in data.reservations.values() {
        if !filter.both(&r.user_id, &r.concert_id) || r.status != ReservationStatus::Refunded {
            continue;
        }
        report.counts.refunded += 1;
        for seat in seats_of(r) {
            if let Some(m) = data.markers.get(&seat) {
                if m.status == HoldStatus::Sold && m.reservation_id == r.reservation_id {
                    report.violation(
                        Invariant::Refund,
                        Some(&r.user_id),
                        format!(
                            "reservation {} is REFUNDED, but {} is still SOLD by it",
                            r.reservation_id,
                            seat_name(&seat)
                        ),
                    );
                }
            }
        }
        let payments = data
            .payments
            .get(&r.reservation_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let [p] = payments else {
            report.violation(
                Invariant::Refund,
                Some(&r.user_id),
                format!(
                    "reservation {} is REFUNDED, and has {} payments, not 1",
                    r.reservation_id,
                    payments.len()
                ),
            );
            continue;
        };
        // A REFUNDED payment's reservation is REFUNDED, checked with the payments; this is
        // the other way round.
        if p.status != PaymentStatus::Refunded {
            report.violation(
                Invariant::Refund,
                Some(&r.user_id),
                format!(
                    "reservation {} is REFUNDED, but its payment {} is {}",
                    r.reservation_id,
                    p.payment_id,
                    payment_status(p.status)
                ),
            );
        }
        let credits = entries_of(data, p, LedgerKind::Refund);
        let whole =
            matches!(credits.as_slice(), [e] if i128::from(e.amount) == i128::from(p.amount.get()));
        if !whole {
            report.violation(
                Invariant::Refund,
                Some(&r.user_id),
                format!(
                    "reservation {} is REFUNDED, but its payment {} of {} won has {} REFUND ledger entries ({}), not one of +{}",
                    r.reservation_id,
                    p.payment_id,
                    p.amount,
                    credits.len(),
                    amounts(&credits),
                    p.amount
                ),
            );
        }
    }
}

/// Whether a reservation has its seats now: a HELD one until its time, a CONFIRMED one for
/// good.
fn is_live(r: &ReservationItem, now_ms: i64) -> bool {
    match r.status {
        ReservationStatus::Held => r.expires_at > now_ms,
        ReservationStatus::Confirmed => true,
        _ => false,
    }
}

/// No seat is in two live reservations, and a live hold still owns its seats.
fn check_holds(data: &Data, filter: &Filter, now_ms: i64, report: &mut Report) {
    let mut live_by_seat: HashMap<SeatKey, Vec<&ReservationItem>> = HashMap::new();
    for r in data.reservations.values() {
        if is_live(r, now_ms) {
            for seat in seats_of(r) {
                live_by_seat.entry(seat).or_default().push(r);
            }
        }
    }
    let mut twice: Vec<(&SeatKey, &Vec<&ReservationItem>)> = live_by_seat
        .iter()
        .filter(|(_, rs)| rs.len() > 1)
        .filter(|(_, rs)| rs.iter().any(|r| filter.both(&r.user_id, &r.concert_id)))
        .collect();
    twice.sort_by_key(|(seat, _)| seat_name(seat));
    for (seat, rs) in twice {
        let user = rs
            .iter()
            .find(|r| filter.both(&r.user_id, &r.concert_id))
            .map(|r| &r.user_id);
        report.violation(
            Invariant::Hold,
            user,
            format!(
                "{} is in {} live reservations: {}",
                seat_name(seat),
                rs.len(),
                rs.iter()
                    .map(|r| format!("{} ({})", r.reservation_id, reservation_status(r.status)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }

    for r in data.reservations.values() {
        if !filter.both(&r.user_id, &r.concert_id) {
            continue;
        }
        if r.status != ReservationStatus::Held || r.expires_at <= now_ms {
            continue;
        }
        report.counts.live_holds += 1;
        for seat in seats_of(r) {
            let name = seat_name(&seat);
            match data.markers.get(&seat) {
                None => report.violation(
                    Invariant::Hold,
                    Some(&r.user_id),
                    format!(
                        "reservation {} holds {name} until {}, but the seat has no marker",
                        r.reservation_id, r.expires_at
                    ),
                ),
                // Its own marker; a SOLD one with the reservation still HELD is check_sales's.
                Some(m) if m.reservation_id == r.reservation_id => {}
                Some(m) => {
                    let other_live =
                        m.status == HoldStatus::Sold || m.expires_at.is_some_and(|at| at > now_ms);
                    report.violation(
                        Invariant::Hold,
                        Some(&r.user_id),
                        format!(
                            "reservation {} holds {name} until {}, but the seat's marker is {} {}, of reservation {}",
                            r.reservation_id,
                            r.expires_at,
                            if other_live { "a live" } else { "an expired" },
                            hold_status(m.status),
                            m.reservation_id
                        ),
                    );
                }
            }
        }
    }
}

/// Every buyer's seat count of a concert is what their reservations of it add up to: the
/// seats of their HELD (expired or not: the release gives them back) and CONFIRMED
/// reservations, and the holds it lists exactly their HELD ones.
fn check_counts(data: &Data, filter: &Filter, report: &mut Report) {
    #[derive(Default)]
    struct Expected {
        seats: i64,
        holds: BTreeSet<String>,
    }
    let mut expected: HashMap<(UserId, ConcertId), Expected> = HashMap::new();
    for r in data.reservations.values() {
        if !r.counted() || !filter.both(&r.user_id, &r.concert_id) {
            continue;
        }
        let e = expected
            .entry((r.user_id.clone(), r.concert_id.clone()))
            .or_default();
        match r.status {
            ReservationStatus::Held => {
                e.seats += r.seats().len() as i64;
                e.holds.insert(SeatCountItem::entry(r));
            }
            ReservationStatus::Confirmed => e.seats += r.seats().len() as i64,
            _ => {}
        }
    }
    for owner in data.seat_counts.keys() {
        if filter.both(&owner.0, &owner.1) {
            expected.entry(owner.clone()).or_default();
        }
    }
    let mut owners: Vec<_> = expected.into_iter().collect();
    owners.sort_by(|a, b| a.0.cmp(&b.0));
    for ((user, concert), e) in owners {
        report.counts.seat_counts += 1;
        let item = data.seat_counts.get(&(user.clone(), concert.clone()));
        let seats = item.map_or(0, |c| c.seats);
        let holds: BTreeSet<String> = item
            .map(|c| c.holds.iter().cloned().collect())
            .unwrap_or_default();
        let at = format!(
            "{} / {}",
            keys::user_pk(&user),
            keys::seat_count_sk(&concert)
        );
        if seats != e.seats {
            report.violation(
                Invariant::Count,
                Some(&user),
                format!(
                    "{at} counts {seats} seats, but the buyer's HELD and CONFIRMED reservations of {concert} have {}",
                    e.seats
                ),
            );
        }
        if holds != e.holds {
            let extra: Vec<&String> = holds.difference(&e.holds).collect();
            let missing: Vec<&String> = e.holds.difference(&holds).collect();
            report.violation(
                Invariant::Count,
                Some(&user),
                format!(
                    "{at} lists holds that are not HELD reservations ({extra:?}) or misses HELD ones ({missing:?})"
                ),
            );
        }
    }
}

fn hold_status(s: HoldStatus) -> &'static str {
    match s {
        HoldStatus::Held => "HELD",
        HoldStatus::Sold => "SOLD",
    }
}

fn payment_status(s: PaymentStatus) -> &'static str {
    match s {
        PaymentStatus::Completed => "COMPLETED",
        PaymentStatus::Refunded => "REFUNDED",
    }
}

fn reservation_status(s: ReservationStatus) -> &'static str {
    match s {
        ReservationStatus::Held => "HELD",
        ReservationStatus::Confirmed => "CONFIRMED",
        ReservationStatus::Expired => "EXPIRED",
        ReservationStatus::Released => "RELEASED",
        ReservationStatus::Refunded => "REFUNDED",
    }
}

/// Every balance is the sum of its ledger.
fn check_balances(data: &Data, filter: &Filter, report: &mut Report) {
    let mut users: Vec<&UserId> = data
        .balances
        .keys()
        .chain(data.ledger.keys())
        .filter(|u| filter.user(u))
        .collect();
    users.sort();
    users.dedup();
    for user in users {
        let entries = data.ledger.get(user).map(Vec::as_slice).unwrap_or(&[]);
        let sum: i128 = entries.iter().map(|e| i128::from(e.amount)).sum();
        let balance = data.balances.get(user).map(|b| b.balance.get());
        if balance.is_some() {
            report.counts.balances += 1;
        }
        report.counts.ledger_entries += entries.len();
        if i128::from(balance.unwrap_or(0)) != sum {
            report.violation(
                Invariant::Balance,
                Some(user),
                format!(
                    "user {user} has a balance of {} won, but the {} entries of the ledger add up to {sum}",
                    balance.map_or("no".to_owned(), |b| b.to_string()),
                    entries.len()
                ),
            );
        }
    }
}

/// Every seat the door let in is a sale that stands: its marker SOLD, naming a CONFIRMED
/// reservation of that seat.
fn check_check_ins(data: &Data, filter: &Filter, report: &mut Report) {
    let mut let_in: Vec<(&SeatKey, &HoldItem)> = data
        .markers
        .iter()
        .filter(|(_, m)| m.checked_in_at.is_some())
        .filter(|(_, m)| filter.both(&m.user_id, &m.concert_id))
        .collect();
    let_in.sort_by_key(|(seat, _)| seat_name(seat));
    for (seat, m) in let_in {
        report.counts.checked_in += 1;
        let name = seat_name(seat);
        if m.status != HoldStatus::Sold {
            report.violation(
                Invariant::CheckIn,
                Some(&m.user_id),
                format!(
                    "{name} was let in, but its marker is {}, not SOLD",
                    hold_status(m.status)
                ),
            );
        }
        match data.reservations.get(&m.reservation_id) {
            Some(r) if r.status == ReservationStatus::Confirmed && seats_of(r).contains(seat) => {}
            Some(r) => report.violation(
                Invariant::CheckIn,
                Some(&m.user_id),
                format!(
                    "{name} was let in for reservation {}, which is {} and has seats {:?}",
                    r.reservation_id,
                    reservation_status(r.status),
                    r.seats().iter().map(|s| s.get()).collect::<Vec<_>>()
                ),
            ),
            None => report.violation(
                Invariant::CheckIn,
                Some(&m.user_id),
                format!(
                    "{name} was let in for reservation {}, which does not exist",
                    m.reservation_id
                ),
            ),
        }
    }
}
