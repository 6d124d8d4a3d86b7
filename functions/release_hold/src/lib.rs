//! The DynamoDB stream consumer: for each hold marker TTL deleted, releases the seat and
//! marks the reservation EXPIRED (one conditional transaction). Reports per-record failures,
//! so only those are retried.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};
use shared::store::items::{Entity, HoldItem, HoldStatus};
use shared::store::seats::HoldRef;
use shared::{flows, ApiError, AppState};

pub async fn handler(
    state: &AppState,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Error> {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.payload.records {
        if let Err(e) = handle_record(state, record).await {
            tracing::warn!(error = %e, event_id = %record.event_id, "release failed; reported for retry");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = record.change.sequence_number.clone();
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

/// The hold a record releases: a REMOVE whose old image is a HELD hold marker.
pub fn hold_of(record: &EventRecord) -> Option<HoldRef> {
    if record.event_name != "REMOVE" {
        return None;
    }
    let hold: HoldItem = serde_dynamo::from_item(record.change.old_image.clone()).ok()?;
    (hold.entity == Entity::Hold && hold.status == HoldStatus::Held).then(|| HoldRef::from(&hold))
}

async fn handle_record(state: &AppState, record: &EventRecord) -> Result<(), ApiError> {
    let Some(hold) = hold_of(record) else {
        return Ok(());
    };
    let outcome = flows::holds::release(state, &hold).await?;
    if outcome == flows::holds::Released::Released {
        shared::metrics::count(shared::metrics::Metric::SeatsReleasedByTtl);
    }
    tracing::info!(reservation = %hold.reservation_id, ?outcome, "hold released from the stream");
    Ok(())
}
