//! The table definitions, in one place: `create-tables` builds them from here, and a test
//! checks that template.yaml declares the same keys, index, TTL attribute and stream.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
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

/// Reservations, with the sparse index of HELD ones by expiry. No stream, no TTL.
async fn create_reservations_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PARTITION_KEY, ScalarAttributeType::S))
        .attribute_definitions(attribute(SORT_KEY, ScalarAttributeType::S))
        .attribute_definitions(attribute(HELD_SHARD_ATTRIBUTE, ScalarAttributeType::S))
        .attribute_definitions(attribute(EXPIRES_AT_ATTRIBUTE, ScalarAttributeType::N))
        .key_schema(key(PARTITION_KEY, KeyType::Hash))
        .key_schema(key(SORT_KEY, KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(HELD_BY_EXPIRY_INDEX)
                .key_schema(key(HELD_SHARD_ATTRIBUTE, KeyType::Hash))
                .key_schema(key(EXPIRES_AT_ATTRIBUTE, KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("index has a name and keys"),
        )
        .send()
        .await;
    ignore_existing(created, "CreateTable")
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
