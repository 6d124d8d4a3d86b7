//! The helpers of these tests: the app-bound ones as methods of `TestApp`.

use super::*;

/// A user of this app with a live token.
pub(crate) struct Caller {
    pub(crate) user: String,
    pub(crate) token: String,
}

pub(crate) fn charges_path(user: &str) -> String {
    format!("/users/{user}/balance/charges")
}

pub(crate) fn balance_path(user: &str) -> String {
    format!("/users/{user}/balance")
}

/// Balance = sum of the ledger, and each entry's `balanceAfter` is the running sum when the
/// entries are replayed in commit order (for charges, the order of their `balanceAfter`).
pub(crate) fn assert_ledger_adds_up(entries: &[LedgerItem], balance: u64) {
    let mut in_order: Vec<&LedgerItem> = entries.iter().collect();
    in_order.sort_by_key(|e| e.balance_after);
    let mut running = 0i64;
    for e in in_order {
        running += e.amount;
        assert_eq!(
            running,
            e.balance_after.get() as i64,
            "running sum at {e:?}"
        );
    }
    assert_eq!(
        running, balance as i64,
        "the balance is the sum of the ledger"
    );
}

impl TestApp {
    pub(crate) async fn caller(&self) -> Caller {
        let user = unique("u");
        let token = self.token_for(&user).await;
        Caller { user, token }
    }

    /// `POST /users/{user}/balance/charges` with a raw body and, optionally, a token and a key.
    pub(crate) async fn post_charge(
        &self,
        user: &str,
        token: Option<&str>,
        key: Option<HeaderValue>,
        body: String,
    ) -> Answer {
        self.post_keyed(&charges_path(user), token, key, body).await
    }

    pub(crate) async fn charge(&self, c: &Caller, amount: i64, key: Option<&str>) -> Answer {
        self.post_charge(
            &c.user,
            Some(&c.token),
            key.map(|k| HeaderValue::from_str(k).unwrap()),
            json!({ "amount": amount }).to_string(),
        )
        .await
    }

    /// A charge that must succeed; its 200 body.
    pub(crate) async fn charge_ok(&self, c: &Caller, amount: i64, key: Option<&str>) -> Value {
        let res = self.charge(c, amount, key).await;
        let status = res.status();
        let body: Value = res.json().expect("a JSON body");
        assert_eq!(status, StatusCode::OK, "charge of {amount}: {body}");
        body
    }

    /// The balance through `GET /users/{user}/balance`, which must answer 200.
    pub(crate) async fn balance_of(&self, c: &Caller) -> u64 {
        let res = self.get(&balance_path(&c.user), Some(&c.token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().unwrap();
        assert_eq!(
            body,
            json!({ "userId": c.user, "balance": body["balance"] })
        );
        body["balance"].as_u64().expect("an integer balance")
    }

    pub(crate) async fn ledger(&self, user: &str) -> Vec<LedgerItem> {
        self.user_items(user, "LEDGER#")
            .await
            .into_iter()
            .map(|i| from_item(i).expect("a ledger item"))
            .collect()
    }

    pub(crate) async fn idempotency_records(&self, user: &str) -> usize {
        self.user_items(user, "IDEMPOTENCY#").await.len()
    }

    /// Everything this user has in the table: balance, ledger, records.
    pub(crate) async fn everything(&self, user: &str) -> usize {
        self.user_items(user, "").await.len()
    }

    /// The app's state with a DynamoDB client that counts its requests.
    pub(crate) async fn counted_state(&self) -> (AppState, Arc<Counter>) {
        shared::counting::counted_state(self.state.settings.clone())
            .await
            .expect("state builds")
    }
}
