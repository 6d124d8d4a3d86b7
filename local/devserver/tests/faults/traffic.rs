//! Traffic of every kind, sent while a store fails under it.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Hold,
    Poll,
    Charge,
    Balance,
}

#[derive(Debug)]
pub(crate) struct Sent {
    pub(crate) op: Op,
    pub(crate) answer: Answer,
    /// The key of a charge; the reservation of a hold that answered 201.
    pub(crate) id: Option<String>,
}

/// Steady traffic from one customer until `stop`: holds on fresh seats, polls, keyed charges
/// and balance reads in turn, 20 ms apart.
pub(crate) async fn traffic(
    app: Arc<App>,
    c: Arc<Customer>,
    seats: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    in_flight: Arc<AtomicUsize>,
) -> Vec<Sent> {
    let capacity = app.dates.len() * usize::from(app.seats_per_date);
    let mut sent = Vec::new();
    let mut i = 0usize;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let mut op = [Op::Hold, Op::Poll, Op::Charge, Op::Balance][i % 4];
        let seat = if op == Op::Hold {
            let n = seats.fetch_add(1, Ordering::SeqCst);
            if n >= capacity {
                op = Op::Poll;
            }
            n
        } else {
            0
        };
        in_flight.fetch_add(1, Ordering::SeqCst);
        let (answer, id) = match op {
            Op::Hold => {
                let a = app.hold(&c.token, &c.user, seat).await;
                let id = a.body["reservationId"].as_str().map(str::to_owned);
                (a, id)
            }
            Op::Poll => (app.status(&c.token).await, None),
            Op::Charge => {
                let key = unique("k");
                (app.charge(&c.token, &c.user, 1_000, &key).await, Some(key))
            }
            Op::Balance => (app.balance(&c.token, &c.user).await, None),
        };
        in_flight.fetch_sub(1, Ordering::SeqCst);
        sent.push(Sent { op, answer, id });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sent
}
