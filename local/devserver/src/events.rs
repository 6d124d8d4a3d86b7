//! The AWS event sources, played locally: the DynamoDB stream into `release_hold` (as an event
//! source mapping would, with the template's filter applied) and the schedule into
//! `sweep_holds`. They call the very handlers the Lambda binaries run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use serde_yaml::Value as Yaml;
use shared::store::items::keys;
use shared::AppState;

use crate::routes::TEMPLATE;

/// The release function's stream filter patterns, from template.yaml (any one must match).
pub fn template_filters() -> Result<Vec<Value>, String> {
    let doc: Yaml = serde_yaml::from_str(TEMPLATE).map_err(|e| e.to_string())?;
    let events = doc["Resources"]["ReleaseHoldFunction"]["Properties"]["Events"]
        .as_mapping()
        .ok_or("ReleaseHoldFunction has no Events")?;
    let mut patterns = Vec::new();
    for event in events.values() {
        if event["Type"].as_str() != Some("DynamoDB") {
            continue;
        }
        let filters = event["Properties"]["FilterCriteria"]["Filters"]
            .as_sequence()
            .ok_or("the stream event has no FilterCriteria")?;
        for f in filters {
            let text = f["Pattern"].as_str().ok_or("a filter without Pattern")?;
            patterns.push(serde_json::from_str(text).map_err(|e| format!("filter pattern: {e}"))?);
        }
    }
    Ok(patterns)
}

/// Lambda event filtering for what our patterns use: nested objects, and arrays of exact
/// values (one must equal the record's).
pub fn matches(pattern: &Value, record: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(k, p)| record.get(k).is_some_and(|v| matches(p, v))),
        Value::Array(options) => options.iter().any(|o| o == record),
        _ => false,
    }
}

/// A stream record in the shape Lambda hands a function. DynamoDB Local names a TTL deletion
/// `UNKNOWN_TO_SDK_VERSION` and leaves out `userIdentity`; in AWS it is a REMOVE by the
/// DynamoDB service, and that is what the function and the filter are written for.
pub fn to_lambda_record(record: &Record, stream_arn: &str, region: &str) -> Value {
    let change = record.dynamodb();
    let image = |m: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        m.map(|m| serde_json::to_value(serde_dynamo::Item::from(m.clone())).unwrap_or(Value::Null))
    };
    let raw_name = record
        .event_name()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    let ttl_deletion = !matches!(raw_name.as_str(), "INSERT" | "MODIFY" | "REMOVE");
    let mut out = json!({
        "eventID": record.event_id().unwrap_or_default(),
        "eventName": if ttl_deletion { "REMOVE" } else { raw_name.as_str() },
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
        "dynamodb": {
            "ApproximateCreationDateTime": change
                .and_then(|c| c.approximate_creation_date_time())
                .map(|t| t.as_secs_f64())
                .unwrap_or_default(),
            "Keys": image(change.and_then(|c| c.keys.as_ref())),
            "SequenceNumber": change.and_then(|c| c.sequence_number()),
            "SizeBytes": change.and_then(|c| c.size_bytes()).unwrap_or_default(),
            "StreamViewType": change.and_then(|c| c.stream_view_type()).map(|v| v.as_str().to_owned()),
        }
    });
    if let Some(old) = image(change.and_then(|c| c.old_image.as_ref())) {
        out["dynamodb"]["OldImage"] = old;
    }
    if let Some(new) = image(change.and_then(|c| c.new_image.as_ref())) {
        out["dynamodb"]["NewImage"] = new;
    }
    if ttl_deletion {
        mark_as_ttl_deletion(&mut out);
    } else if let Some(id) = record.user_identity() {
        out["userIdentity"] = json!({"type": id.r#type(), "principalId": id.principal_id()});
    }
    out
}

/// What AWS puts on a record of a TTL deletion.
fn mark_as_ttl_deletion(record: &mut Value) {
    record["eventName"] = json!("REMOVE");
    record["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
}

/// The keys the local TTL deleted, so their stream records read as AWS's TTL deletions.
#[derive(Clone, Default)]
pub struct TtlLog(Arc<std::sync::Mutex<std::collections::HashSet<(String, String)>>>);

impl TtlLog {
    fn record(&self, pk: String, sk: String) {
        if let Ok(mut keys) = self.0.lock() {
            keys.insert((pk, sk));
        }
    }
    fn forget(&self, key: &(String, String)) {
        if let Ok(mut keys) = self.0.lock() {
            keys.remove(key);
        }
    }

    /// Whether this REMOVE record is one of ours (and forgets it: a key is deleted once).
    fn claims(&self, record: &Value) -> bool {
        if record["eventName"] != "REMOVE" {
            return false;
        }
        let keys = &record["dynamodb"]["Keys"];
        let (Some(pk), Some(sk)) = (keys["PK"]["S"].as_str(), keys["SK"]["S"].as_str()) else {
            return false;
        };
        self.0
            .lock()
            .is_ok_and(|mut k| k.remove(&(pk.to_owned(), sk.to_owned())))
    }
}

/// DynamoDB's TTL, played locally. DynamoDB Local has a TTL deleter, but measured here it
/// scans about one item a second (a 20-item table took 10-20 s, a 300-item one saw nothing in
/// 15 s) and never deletes in a table with a GSI, so the stream path would never run. This
/// deletes what AWS's TTL would: hold markers whose `ttl` has passed and whose reservation is
/// still HELD (found through the sweep's index), each with a condition that it is still that
/// expired hold. The stream then carries a REMOVE that [`TtlLog`] marks as the service's.
pub async fn run_ttl(state: Arc<AppState>, log: TtlLog) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now_s = chrono::Utc::now().timestamp();
        for shard in 0..keys::HELD_SHARDS {
            let due = match state.db.expired_holds(shard, now_s * 1000, 100).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::debug!(error = %e, "local TTL query failed");
                    continue;
                }
            };
            for hold in due {
                // Claimed before the delete: its REMOVE can reach the stream (and the poller)
                // before the delete's answer reaches us, and an unclaimed one is filtered out.
                let key = (
                    keys::seats_pk(&hold.concert_id, &hold.date),
                    keys::hold_sk(hold.first_seat()),
                );
                log.record(key.0.clone(), key.1.clone());
                match state.db.delete_expired_marker(&hold, now_s).await {
                    Ok(Some(_)) => {}
                    Ok(None) => log.forget(&key),
                    // Maybe deleted: the claim stays (a later REMOVE of the key is a release,
                    // and a release of a released hold changes nothing).
                    Err(e) => tracing::debug!(error = %e, "local TTL delete failed"),
                }
            }
        }
    }
}

/// Where the poller is in one shard.
#[derive(Debug, Default)]
struct Cursor {
    /// The next GetRecords; `None` when a read failed or no iterator was handed out yet.
    iterator: Option<String>,
    /// The last record handed on, so a lost iterator resumes right after it.
    last_sequence: Option<String>,
    /// A closed shard has been read to its end.
    closed: bool,
    /// Where a shard without a last record starts: the poller's start for the shards there at
    /// its first look, the shard's start for any that came after.
    from: Option<ShardIteratorType>,
}

/// Reads every shard of the table's stream from its start, batches what passes the filter,
/// and hands each batch to `release_hold`; records it reports as failed are delivered again
/// (up to 5 times), as the event source mapping would.
pub async fn run_stream(state: Arc<AppState>, ttl: TtlLog) {
    run_stream_with(state, ttl, ShardIteratorType::TrimHorizon, None, |config| {
        config
    })
    .await
}

/// [`run_stream`] from `start` (`Latest` for a test that holds after the poller started: the
/// shared table's stream holds every earlier test's records), with the streams client's
/// configuration changed first (the tests: an interceptor that fails a read). `ready` is told
/// once every shard has an iterator: from then on, no record is missed (with `Latest`, a record
/// written before that can be).
pub async fn run_stream_with(
    state: Arc<AppState>,
    ttl: TtlLog,
    start: ShardIteratorType,
    mut ready: Option<tokio::sync::oneshot::Sender<()>>,
    customize: impl FnOnce(
        aws_sdk_dynamodbstreams::config::Builder,
    ) -> aws_sdk_dynamodbstreams::config::Builder,
) {
    let filters = match template_filters() {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "no stream filter; the stream release is off");
            return;
        }
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(shared::state::https_client())
        .load()
        .await;
    let mut config = aws_sdk_dynamodbstreams::config::Builder::from(&sdk);
    // The streams API lives on the same endpoint as DynamoDB Local.
    if let Ok(url) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        config = config.endpoint_url(url);
    }
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(customize(config).build());
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();

    let mut cursors: HashMap<String, Cursor> = HashMap::new();
    let mut retries: Vec<(Value, u32)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let arn = match state
            .db
            .client
            .describe_table()
            .table_name(&state.db.table)
            .send()
            .await
        {
            Ok(t) => t
                .table()
                .and_then(|t| t.latest_stream_arn())
                .map(str::to_owned),
            Err(e) => {
                tracing::debug!(error = %e, "describe table failed");
                None
            }
        };
        let Some(arn) = arn else { continue };

        if let Ok(desc) = streams.describe_stream().stream_arn(&arn).send().await {
            let seen_first = !cursors.is_empty();
            for shard in desc
                .stream_description()
                .map(|d| d.shards())
                .unwrap_or_default()
            {
                if let Some(id) = shard.shard_id() {
                    let from = if seen_first {
                        ShardIteratorType::TrimHorizon
                    } else {
                        start.clone()
                    };
                    cursors.entry(id.to_owned()).or_insert_with(|| Cursor {
                        from: Some(from),
                        ..Cursor::default()
                    });
                }
            }
        }
        // A shard without an iterator gets one: from its start the first time, and right after
        // the last record handed on when a read failed, so nothing is skipped or read twice.
        for (id, cursor) in cursors.iter_mut() {
            if cursor.iterator.is_some() || cursor.closed {
                continue;
            }
            let request = streams.get_shard_iterator().stream_arn(&arn).shard_id(id);
            let request = match &cursor.last_sequence {
                Some(seq) => request
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(seq),
                None => request.shard_iterator_type(
                    cursor
                        .from
                        .clone()
                        .unwrap_or(ShardIteratorType::TrimHorizon),
                ),
            };
            match request.send().await {
                Ok(out) => cursor.iterator = out.shard_iterator,
                Err(e) => {
                    tracing::debug!(error = %e, shard = %id, "get shard iterator failed; tried again next tick")
                }
            }
        }

        if !cursors.is_empty() && cursors.values().all(|c| c.iterator.is_some() || c.closed) {
            if let Some(tx) = ready.take() {
                let _ = tx.send(());
            }
        }

        let mut batch: Vec<(Value, u32)> = std::mem::take(&mut retries);
        for cursor in cursors.values_mut() {
            let Some(current) = cursor.iterator.clone() else {
                continue;
            };
            match streams
                .get_records()
                .shard_iterator(current)
                .limit(1000)
                .send()
                .await
            {
                Ok(out) => {
                    cursor.iterator = out.next_shard_iterator().map(str::to_owned);
                    cursor.closed = cursor.iterator.is_none();
                    for record in out.records() {
                        if let Some(seq) = record.dynamodb().and_then(|d| d.sequence_number()) {
                            cursor.last_sequence = Some(seq.to_owned());
                        }
                        let mut shaped = to_lambda_record(record, &arn, &region);
                        if ttl.claims(&shaped) {
                            mark_as_ttl_deletion(&mut shaped);
                        }
                        // Not the record itself: its image can hold a stored request
                        // body.
                        tracing::trace!(
                            event_id = %shaped["eventID"],
                            event_name = %shaped["eventName"],
                            "stream record"
                        );
                        if filters.iter().any(|f| matches(f, &shaped)) {
                            batch.push((shaped, 0));
                        }
                    }
                }
                // An iterator a failed read did not advance is good for the same read again:
                // a new one from `from` (LATEST in the tests) would skip what came meanwhile.
                // Only an expired one is replaced, from right after the last record handed on.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_expired_iterator_exception()) =>
                {
                    tracing::warn!(error = %e, "shard iterator expired; read again from its last record");
                    cursor.iterator = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "get records failed; the same read is tried again next tick");
                }
            }
        }
        for chunk in batch.chunks(100) {
            retries.extend(deliver(&state, chunk).await);
        }
    }
}

/// Hands one batch to the release function; returns what it reported as failed.
async fn deliver(state: &AppState, batch: &[(Value, u32)]) -> Vec<(Value, u32)> {
    let event: Event = match serde_json::from_value(json!({
        "Records": batch.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>()
    })) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "a stream record does not parse as a Lambda event");
            return Vec::new();
        }
    };
    let run = release_hold::handler(state, LambdaEvent::new(event, Context::default()));
    match shared::metrics::in_function("release_hold", run).await {
        Ok(response) => {
            let failed: Vec<String> = response
                .batch_item_failures
                .iter()
                .filter_map(|f| f.item_identifier.clone())
                .collect();
            batch
                .iter()
                .filter(|(r, _)| {
                    r["dynamodb"]["SequenceNumber"]
                        .as_str()
                        .is_some_and(|s| failed.iter().any(|f| f == s))
                })
                .filter(|(_, tries)| *tries < 5)
                .map(|(r, tries)| (r.clone(), tries + 1))
                .collect()
        }
        Err(e) => {
            tracing::error!(error = %e, "release_hold failed the whole batch");
            batch
                .iter()
                .filter(|(_, tries)| *tries < 5)
                .map(|(r, tries)| (r.clone(), tries + 1))
                .collect()
        }
    }
}

/// Runs `sweep_holds` every SWEEP_INTERVAL_SECONDS, as the EventBridge schedule would.
pub async fn run_sweeps(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(state.settings.sweep_interval);
    tick.tick().await;
    loop {
        tick.tick().await;
        let event = LambdaEvent::new(json!({"source": "local.schedule"}), Context::default());
        let run = sweep_holds::handler(&state, event);
        if let Err(e) = shared::metrics::in_function("sweep_holds", run).await {
            tracing::warn!(error = %e, "sweep failed");
        }
    }
}
