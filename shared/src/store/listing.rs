//! A user's reservations, newest first: one Query of the reservations table's `ByUser` index.

use crate::domain::paging::{PageLimit, Position};
use crate::domain::UserId;
use crate::error::StoreError;
use crate::store::dynamo::{from_item, s, sdk_error, Db};
use crate::store::items::{keys, ReservationItem};

/// One page: up to `limit` reservations, and whether more follow.
#[derive(Debug)]
pub struct Listed {
    pub reservations: Vec<ReservationItem>,
    pub more: bool,
}

impl Db {
    /// `user`'s reservations, newest first, after `after` (the last one of the page before):
    /// one Query for `limit + 1` items, so a page that ends the list knows it does (no empty
    /// last page behind a cursor). The index is eventually consistent: a reservation made
    /// or changed a moment ago may show a moment later.
    pub async fn reservations_of(
        &self,
        user: &UserId,
        limit: PageLimit,
        after: Option<&Position>,
    ) -> Result<Listed, StoreError> {
        let start = after
            .map(|p| ReservationItem::by_user_key(user, p))
            .transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.reservations)
            .index_name(keys::BY_USER_INDEX)
            .key_condition_expression("#user = :user")
            .expression_attribute_names("#user", keys::BY_USER_PK)
            .expression_attribute_values(":user", s(user.to_string()))
            .scan_index_forward(false)
            .limit(limit.get() as i32 + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let mut reservations = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item::<ReservationItem>)
            .collect::<Result<Vec<_>, _>>()?;
        let more = reservations.len() > limit.get();
        reservations.truncate(limit.get());
        Ok(Listed { reservations, more })
    }
}
