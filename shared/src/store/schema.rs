//! The table definition, in one place: `create-tables` builds it from here, and a test checks
//! that template.yaml declares the same keys, index, TTL attribute and stream.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use crate::error::StoreError;
use crate::store::dynamo::sdk_error;

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

/// Creates the table with its index, stream and TTL; an existing table is left as it is.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
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
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(STREAM_VIEW)
                .build()
                .expect("stream specification is complete"),
        )
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) => {}
        Err(e) => return Err(sdk_error("CreateTable", e)),
    }

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
