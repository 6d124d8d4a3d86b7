//! DynamoDB I/O for the catalog: the concert and its dates (one partition, one Query), a
//! date's hold markers (the seat map's live part), a catalog change (one transaction), and
//! the line controls (one UpdateItem).
//!
//! A date's seats are its sections, on the date item: a 2,000-seat date is one item, so a
//! catalog change is atomic and a seat map reads only the seats that are held or sold.

use aws_sdk_dynamodb::types::{Delete, Put, ReturnValue, TransactWriteItem, Update};

use crate::domain::{ConcertDate, ConcertId};
use crate::error::StoreError;
use crate::store::dynamo::{from_item, key, n, s, sdk_error, to_item, Db, Item, TxError};
use crate::store::items::{keys, ConcertItem, DateItem, Entity, HoldItem};

/// A concert as stored: the concert item and its dates, ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConcert {
    pub concert: ConcertItem,
    pub dates: Vec<DateItem>,
}

/// What a date's write in a catalog change expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateWrite {
    /// A new date: there must be none.
    Add,
    /// New sections: the date must exist and never have had a hold.
    Change,
}

/// One catalog change, computed from the concert as read at `previous_revision`.
#[derive(Debug, Clone)]
pub struct CatalogWrite {
    /// The concert as it will be, its `revision` one more than before.
    pub concert: ConcertItem,
    /// None: the concert is created.
    pub previous_revision: Option<u64>,
    pub dates: Vec<(DateItem, DateWrite)>,
    /// Dates left out of the new catalog; each must never have had a hold.
    pub removed: Vec<ConcertDate>,
}

/// How a catalog change's transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogOutcome {
    Written,
    /// The concert changed since it was read (another change, or a first hold locked a
    /// date): nothing was written; read it again and decide again.
    Raced,
}

fn entity_of(item: &Item) -> Option<Entity> {
    item.get("entity")
        .and_then(|v| serde_dynamo::from_attribute_value(v.clone()).ok())
}

impl Db {
    /// Every item of one partition of the main table, strongly consistent, following pages
    /// past the 1 MB a Query returns at most.
    pub(crate) async fn query_partition(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(pk.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// The concert and its dates: one Query. None when the concert does not exist.
    pub async fn concert(&self, concert: &ConcertId) -> Result<Option<StoredConcert>, StoreError> {
        let mut found = None;
        let mut dates = Vec::new();
        for item in self.query_partition(keys::concert_pk(concert)).await? {
            match entity_of(&item) {
                Some(Entity::Concert) => found = Some(from_item::<ConcertItem>(item)?),
                Some(Entity::Date) => dates.push(from_item::<DateItem>(item)?),
                _ => {}
            }
        }
        dates.sort_by_key(|d| d.date);
        Ok(found.map(|concert| StoredConcert { concert, dates }))
    }

    /// One date and its catalog, strongly consistent.
    pub async fn date(
        &self,
        concert: &ConcertId,
        date: &ConcertDate,
    ) -> Result<Option<DateItem>, StoreError> {
        self.get(keys::concert_pk(concert), keys::date_sk(date))
            .await
    }

    /// A date's hold markers (HELD, live or lapsed, and SOLD): one Query of its partition.
    pub async fn date_holds(
        &self,
        concert: &ConcertId,
        date: &ConcertDate,
    ) -> Result<Vec<HoldItem>, StoreError> {
        let mut holds = Vec::new();
        for item in self.query_partition(keys::seats_pk(concert, date)).await? {
            if entity_of(&item) == Some(Entity::Hold) {
                holds.push(from_item::<HoldItem>(item)?);
            }
        }
        holds.sort_by_key(|h| h.seat_no);
        Ok(holds)
    }

    /// A catalog change in one TransactWriteItems: the concert (conditional on the revision it
    /// was read at), each added or changed date, each removed one. All or nothing.
    pub async fn write_catalog(&self, change: &CatalogWrite) -> Result<CatalogOutcome, StoreError> {
        let c = &change.concert;
        let mut set = vec![
            "#entity = :entity",
            "concertId = :cid",
            "#name = :name",
            "revision = :rev",
        ];
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(c.pk.clone(), c.sk.clone())))
            .expression_attribute_names("#entity", "entity")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":entity", s("Concert"))
            .expression_attribute_values(":cid", s(c.concert_id.to_string()))
            .expression_attribute_values(
                ":name",
                s(c.name
                    .as_ref()
                    .map_or(c.concert_id.to_string(), |n| n.to_string())),
            )
            .expression_attribute_values(":rev", n(c.revision as i64));
        if let Some(at) = c.opens_at {
            set.push("opensAt = :opens");
            update = update.expression_attribute_values(
                ":opens",
                serde_dynamo::to_attribute_value(at).map_err(StoreError::from)?,
            );
        }
        let mut expression = format!("SET {}", set.join(", "));
        if c.opens_at.is_none() {
            expression.push_str(" REMOVE opensAt");
        }
        update = update.update_expression(expression);
        update = match change.previous_revision {
            None => update.condition_expression("attribute_not_exists(PK)"),
            // Items from before revisions count as revision 0.
            Some(0) => update
                .condition_expression(
                    "attribute_exists(PK) AND (attribute_not_exists(revision) OR revision = :prev)",
                )
                .expression_attribute_values(":prev", n(0)),
            Some(prev) => update
                .condition_expression("revision = :prev")
                .expression_attribute_values(":prev", n(prev as i64)),
        };
        let mut items = vec![TransactWriteItem::builder().update(update.build()?).build()];
        for (date, write) in &change.dates {
            let condition = match write {
                DateWrite::Add => "attribute_not_exists(PK)".to_owned(),
                DateWrite::Change => {
                    format!(
                        "attribute_exists(PK) AND attribute_not_exists({})",
                        DateItem::LOCKED
                    )
                }
            };
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(date)?))
                .condition_expression(condition)
                .build()?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        for date in &change.removed {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(
                    keys::concert_pk(&c.concert_id),
                    keys::date_sk(date),
                )))
                .condition_expression(format!("attribute_not_exists({})", DateItem::LOCKED))
                .build()?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        match self.transact(items, None).await {
            Ok(()) => Ok(CatalogOutcome::Written),
            Err(TxError::Store(e)) => Err(e),
            // Any failed condition, or a conflict with a hold locking a date right now, means
            // the concert is not as it was read.
            Err(TxError::Cancelled(c))
                if c.0.iter().any(|r| {
                    matches!(
                        r.code.class(),
                        crate::store::dynamo::ReasonClass::ConditionFailed
                            | crate::store::dynamo::ReasonClass::Conflict
                    )
                }) =>
            {
                Ok(CatalogOutcome::Raced)
            }
            Err(TxError::Cancelled(c)) => Err(c.into_store_error()),
        }
    }

    /// The concert item alone (its name, opening and controls): one strongly consistent
    /// GetItem. None when the concert does not exist.
    pub async fn concert_item(
        &self,
        concert: &ConcertId,
    ) -> Result<Option<ConcertItem>, StoreError> {
        self.get(keys::concert_pk(concert), keys::CONCERT_SK.to_owned())
            .await
    }

    /// Sets the line controls given; None when the concert does not exist. One UpdateItem,
    /// answering the concert as it is after it. It counts as a change of the concert (one
    /// more `revision`): the line's mirror of the controls keeps the newest revision.
    pub async fn set_controls(
        &self,
        concert: &ConcertId,
        active_limit: Option<u32>,
        paused: Option<bool>,
    ) -> Result<Option<ConcertItem>, StoreError> {
        let mut set = vec!["revision = if_not_exists(revision, :zero) + :one"];
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::concert_pk(concert), keys::CONCERT_SK)))
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew);
        if let Some(limit) = active_limit {
            set.push("activeLimit = :limit");
            update = update.expression_attribute_values(":limit", n(i64::from(limit)));
        }
        if let Some(paused) = paused {
            set.push("paused = :paused");
            update = update.expression_attribute_values(
                ":paused",
                aws_sdk_dynamodb::types::AttributeValue::Bool(paused),
            );
        }
        if active_limit.is_none() && paused.is_none() {
            return Ok(self.concert(concert).await?.map(|c| c.concert));
        }
        let out = update
            .update_expression(format!("SET {}", set.join(", ")))
            .send()
            .await;
        match out {
            Ok(out) => out.attributes.map(from_item).transpose(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error("UpdateItem", e)),
        }
    }
}
