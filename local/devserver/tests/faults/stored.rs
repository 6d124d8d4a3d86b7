//! What DynamoDB holds after a fault, read whole, and the check that nothing is half written.

use super::*;

/// The table, read whole. Reading is not under test: a DynamoDB Local just restarted on a busy
/// machine can miss the app's 500 ms store timeout, so the scan goes again a while.
pub(crate) async fn scan(db: &Db, table: &str) -> Vec<Item> {
    let mut tries = 0;
    loop {
        match devserver::invariants::scan(db, table).await {
            Ok(items) => return items,
            Err(e) if e.is_transient() && tries < 60 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("the table scans: {e:?}"),
        }
    }
}

/// Both tables, read into their entities.
#[derive(Default)]
pub(crate) struct Stored {
    pub(crate) markers: Vec<HoldItem>,
    pub(crate) reservations: Vec<ReservationItem>,
    pub(crate) payments: Vec<PaymentItem>,
    pub(crate) ledger: Vec<LedgerItem>,
    pub(crate) records: Vec<IdempotencyItem>,
}

pub(crate) async fn stored(db: &Db) -> Stored {
    let mut s = Stored::default();
    let mut items = scan(db, &db.reservations).await;
    items.extend(scan(db, &db.table).await);
    for item in items {
        let entity = match item.get("entity") {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(e)) => e.clone(),
            _ => continue,
        };
        match entity.as_str() {
            "Hold" => s.markers.push(from_item(item).unwrap()),
            "Reservation" => s.reservations.push(from_item(item).unwrap()),
            "Payment" => s.payments.push(from_item(item).unwrap()),
            "Ledger" => s.ledger.push(from_item(item).unwrap()),
            "Idempotency" => s.records.push(from_item(item).unwrap()),
            _ => {}
        }
    }
    s
}

/// What is stored once the writes still in flight have landed: a store that was frozen or
/// slow may apply a write it took before the fault after its caller gave up on the answer
/// (answered 500 past `WRITE_RESOLVE_MS`, or a resend that found it). Landing between the two
/// tables' scans, a hold would read as a marker with no reservation. Read until two reads half
/// a second apart agree, for 30 s at most.
pub(crate) async fn settled(db: &Db) -> Stored {
    let counts = |s: &Stored| {
        [
            s.markers.len(),
            s.reservations.len(),
            s.payments.len(),
            s.ledger.len(),
            s.records.len(),
        ]
    };
    let mut last = stored(db).await;
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let now = stored(db).await;
        if counts(&now) == counts(&last) || std::time::Instant::now() > until {
            return now;
        }
        last = now;
    }
}

impl Stored {
    pub(crate) fn reservation_ids(&self) -> BTreeSet<String> {
        self.reservations
            .iter()
            .map(|r| r.reservation_id.to_string())
            .collect()
    }

    pub(crate) fn record_keys(&self) -> BTreeSet<String> {
        self.records.iter().map(|r| r.key.to_string()).collect()
    }
}

/// Every write the tests make is whole, or absent: no hold (none has expired in these tests)
/// without both its marker and its reservation, no sale without its payment and ledger entry,
/// no keyed charge without its ledger entry, and the invariant checker finds nothing. Returns
/// what was checked, for the report.
pub(crate) async fn assert_nothing_half_written(app: &App) -> String {
    let s = settled(&app.state.db).await;
    let mut problems = Vec::new();
    let by_id: HashMap<String, &ReservationItem> = s
        .reservations
        .iter()
        .map(|r| (r.reservation_id.to_string(), r))
        .collect();
    for m in &s.markers {
        match by_id.get(&m.reservation_id.to_string()) {
            None => problems.push(format!("marker of {} has no reservation", m.reservation_id)),
            Some(r) if (r.date, r.seat_no) != (m.date, m.seat_no) => {
                problems.push(format!("marker of {} is on another seat", m.reservation_id))
            }
            Some(r) => {
                let agree = matches!(
                    (m.status, r.status),
                    (HoldStatus::Held, ReservationStatus::Held)
                        | (HoldStatus::Sold, ReservationStatus::Confirmed)
                );
                if !agree {
                    problems.push(format!(
                        "marker of {} is {:?}, its reservation {:?}",
                        m.reservation_id, m.status, r.status
                    ));
                }
            }
        }
    }
    let marked: BTreeSet<String> = s
        .markers
        .iter()
        .map(|m| m.reservation_id.to_string())
        .collect();
    for r in &s.reservations {
        if !marked.contains(&r.reservation_id.to_string()) {
            problems.push(format!(
                "reservation {} ({:?}) has no marker",
                r.reservation_id, r.status
            ));
        }
    }
    let paid: BTreeSet<String> = s
        .payments
        .iter()
        .map(|p| p.reservation_id.to_string())
        .collect();
    let payment_entries: BTreeSet<String> = s
        .ledger
        .iter()
        .filter(|l| l.kind == LedgerKind::Payment)
        .map(|l| l.entry_id.to_string())
        .collect();
    for r in &s.reservations {
        let id = r.reservation_id.to_string();
        if (r.status == ReservationStatus::Confirmed) != paid.contains(&id) {
            problems.push(format!(
                "reservation {id} is {:?} with payment: {}",
                r.status,
                paid.contains(&id)
            ));
        }
    }
    for p in &s.payments {
        if !payment_entries.contains(&p.payment_id.to_string()) {
            problems.push(format!("payment {} has no ledger entry", p.payment_id));
        }
    }
    if payment_entries.len() != s.payments.len() {
        problems.push(format!(
            "{} payment ledger entries for {} payments",
            payment_entries.len(),
            s.payments.len()
        ));
    }
    // Every charge in these tests has a key: one record per charge entry, user by user.
    let mut per_user: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for l in s.ledger.iter().filter(|l| l.kind == LedgerKind::Charge) {
        per_user.entry(l.user_id.to_string()).or_default().0 += 1;
    }
    for r in s
        .records
        .iter()
        .filter(|r| r.scope == shared::store::items::IdempotencyScope::Charge)
    {
        per_user.entry(r.user_id.to_string()).or_default().1 += 1;
    }
    for (user, (entries, records)) in &per_user {
        if entries != records {
            problems.push(format!(
                "user {user}: {entries} charge entries, {records} charge keys recorded"
            ));
        }
    }
    let report = devserver::invariants::check(
        &app.state.db,
        &devserver::invariants::Filter::default(),
        Utc::now(),
    )
    .await
    .expect("the invariant checker runs");
    problems.extend(report.violations.iter().map(|v| v.to_string()));
    assert!(
        problems.is_empty(),
        "half-written:\n{}",
        problems.join("\n")
    );
    format!(
        "{} markers, {} reservations, {} payments, {} ledger entries, {} keys: whole; invariants: {} violations",
        s.markers.len(),
        s.reservations.len(),
        s.payments.len(),
        s.ledger.len(),
        s.records.len(),
        report.violations.len()
    )
}
