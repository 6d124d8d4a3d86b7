//! The table definitions, in one place: `create-tables` builds them from here, and a test
//! checks that template.yaml declares the same keys, index, TTL attribute and stream.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;
use crate::store::dynamo::{sdk_error, Db};

pub const PARTITION_KEY: &str = "PK";
pub const SORT_KEY: &str = "SK";
/// Sparse index of HELD reservations by expiry, for the sweep (never a scan).
pub const HELD_BY_EXPIRY_INDEX: &str = "HeldByExpiry";
pub const HELD_SHARD_ATTRIBUTE: &str = "heldShard";
pub const EXPIRES_AT_ATTRIBUTE: &str = "expiresAt";
/// A user's reservations, newest first (`GET /users/{userId}/reservations`): keyed by two
/// attributes every reservation has always had, so it holds them all from its creation.
pub use crate::store::items::keys::{
    BY_USER_INDEX, BY_USER_PK as USER_ID_ATTRIBUTE, BY_USER_SK as CREATED_AT_ATTRIBUTE,
};
/// Only hold markers carry it: TTL deletes a hold whose time ran out.
pub const TTL_ATTRIBUTE: &str = "ttl";
/// The release reads the deleted hold marker from the stream's old image.
pub const STREAM_VIEW: StreamViewType = StreamViewType::OldImage;

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key schema element has both fields")
}

fn attribute(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .expect("attribute definition has both fields")
}

/// Creates both tables; an existing table is left as it is.
pub async fn create_tables(db: &Db) -> Result<(), StoreError> {
    create_main_table(&db.client, &db.table).await?;
    create_reservations_table(&db.client, &db.reservations).await
}

fn ignore_existing<T, E>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, aws_smithy_runtime_api::http::Response>>,
    operation: &'static str,
) -> Result<(), StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceInUseException") => Ok(()),
        Err(e) => Err(sdk_error(operation, e)),
    }
}

fn all() -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::All)
        .build()
}

/// Reservations, with the sparse index of HELD ones by expiry and the index of each user's
/// reservations. No stream, no TTL. A table made before the user index gets it added, as a
/// deployment adds it in AWS (see [`add_user_index`]).
async fn create_reservations_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PARTITION_KEY, ScalarAttributeType::S))
        .attribute_definitions(attribute(SORT_KEY, ScalarAttributeType::S))
        .attribute_definitions(attribute(HELD_SHARD_ATTRIBUTE, ScalarAttributeType::S))
        .attribute_definitions(attribute(EXPIRES_AT_ATTRIBUTE, ScalarAttributeType::N))
        .attribute_definitions(attribute(USER_ID_ATTRIBUTE, ScalarAttributeType::S))
        .attribute_definitions(attribute(CREATED_AT_ATTRIBUTE, ScalarAttributeType::S))
        .key_schema(key(PARTITION_KEY, KeyType::Hash))
        .key_schema(key(SORT_KEY, KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(HELD_BY_EXPIRY_INDEX)
                .key_schema(key(HELD_SHARD_ATTRIBUTE, KeyType::Hash))
                .key_schema(key(EXPIRES_AT_ATTRIBUTE, KeyType::Range))
                .projection(all())
                .build()
                .expect("index has a name and keys"),
        )
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(BY_USER_INDEX)
                .key_schema(key(USER_ID_ATTRIBUTE, KeyType::Hash))
                .key_schema(key(CREATED_AT_ATTRIBUTE, KeyType::Range))
                .projection(all())
                .build()
                .expect("index has a name and keys"),
        )
        .send()
        .await;
    ignore_existing(created, "CreateTable")?;
    add_user_index(client, table).await
}

/// How long [`add_user_index`] waits for a new index to be ACTIVE: DynamoDB Local fills one
/// in well under a second for the tables `make run` keeps.
const INDEX_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Adds the user index to a reservations table that has none (one made before it existed,
/// such as the one `make run` keeps between runs), and waits until DynamoDB has filled it
/// from the items already there and it is ACTIVE. The same UpdateTable CloudFormation sends
/// when a deployment adds the index in AWS.
pub async fn add_user_index(client: &Client, table: &str) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    let mut asked = false;
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTable", e))?;
        let status = described
            .table()
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .find(|i| i.index_name() == Some(BY_USER_INDEX))
            .map(|i| i.index_status().cloned());
        match status {
            Some(Some(IndexStatus::Active)) | Some(None) => return Ok(()),
            Some(_) => {}
            None if !asked => {
                let update = client
                    .update_table()
                    .table_name(table)
                    .attribute_definitions(attribute(USER_ID_ATTRIBUTE, ScalarAttributeType::S))
                    .attribute_definitions(attribute(CREATED_AT_ATTRIBUTE, ScalarAttributeType::S))
                    .global_secondary_index_updates(
                        GlobalSecondaryIndexUpdate::builder()
                            .create(
                                CreateGlobalSecondaryIndexAction::builder()
                                    .index_name(BY_USER_INDEX)
                                    .key_schema(key(USER_ID_ATTRIBUTE, KeyType::Hash))
                                    .key_schema(key(CREATED_AT_ATTRIBUTE, KeyType::Range))
                                    .projection(all())
                                    .build()
                                    .expect("index has a name and keys"),
                            )
                            .build(),
                    )
                    .send()
                    .await;
                // Another process adding it at the same moment is as good.
                match update {
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.code(),
                            Some("ResourceInUseException") | Some("ValidationException")
                        ) => {}
                    Err(e) => return Err(sdk_error("UpdateTable", e)),
                }
                asked = true;
            }
            None => {}
        }
        if started.elapsed() > INDEX_WAIT {
            return Err(StoreError::Unexpected(format!(
                "the {BY_USER_INDEX} index of {table} was not ACTIVE after {INDEX_WAIT:?}"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The main table: the stream (old images) and TTL on the hold markers. No index: DynamoDB
/// Local never TTL-deletes in a table that has one.
async fn create_main_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PARTITION_KEY, ScalarAttributeType::S))
        .attribute_definitions(attribute(SORT_KEY, ScalarAttributeType::S))
        .key_schema(key(PARTITION_KEY, KeyType::Hash))
        .key_schema(key(SORT_KEY, KeyType::Range))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(STREAM_VIEW)
                .build()
                .expect("stream specification is complete"),
        )
        .send()
        .await;
    ignore_existing(created, "CreateTable")?;

    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| sdk_error("DescribeTimeToLive", e))?;
    let enabled = ttl
        .time_to_live_description()
        .and_then(|d| d.attribute_name())
        .is_some_and(|name| name == TTL_ATTRIBUTE);
    if !enabled {
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .expect("TTL specification is complete"),
            )
            .send()
            .await
            .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
    }
    Ok(())
}
