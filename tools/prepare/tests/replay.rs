//! `prepare` against recorded AWS answers (the SDK's `StaticReplayClient`): no local emulator
//! serves the ElastiCache control plane, and DynamoDB's is replayed the same way. Each client
//! answers its calls in order with the answers given; the tests then read the requests it
//! recorded, the calls and their bodies, as AWS would have received them.

use std::collections::BTreeMap;

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use prepare::cli::Command;
use prepare::{model, Clients};
use serde_json::{json, Value};

const CACHE: &str = "concert-booking-1a2b3c4d";

/// The cache as DescribeServerlessCaches shows the template's: 5 GB and 100,000 ECPU/s at
/// most, and `minimum` ECPU/s when set.
fn cache_member(name: &str, minimum: Option<u32>, maximum: u32) -> String {
    let minimum = minimum
        .map(|m| format!("<Minimum>{m}</Minimum>"))
        .unwrap_or_default();
    format!(
        "<member><ServerlessCacheName>{name}</ServerlessCacheName><Status>available</Status>\
         <Engine>valkey</Engine><MajorEngineVersion>8</MajorEngineVersion>\
         <CacheUsageLimits><DataStorage><Maximum>5</Maximum><Unit>GB</Unit></DataStorage>\
         <ECPUPerSecond><Maximum>{maximum}</Maximum>{minimum}</ECPUPerSecond></CacheUsageLimits>\
         </member>"
    )
}

fn describe_caches(members: &[String]) -> http::Response<SdkBody> {
    xml(
        200,
        format!(
            "<DescribeServerlessCachesResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\">\
             <DescribeServerlessCachesResult><ServerlessCaches>{}</ServerlessCaches>\
             </DescribeServerlessCachesResult><ResponseMetadata><RequestId>d1</RequestId>\
             </ResponseMetadata></DescribeServerlessCachesResponse>",
            members.concat()
        ),
    )
}

fn describe_cache(minimum: Option<u32>, maximum: u32) -> http::Response<SdkBody> {
    describe_caches(&[cache_member(CACHE, minimum, maximum)])
}

fn modified() -> http::Response<SdkBody> {
    xml(
        200,
        format!(
            "<ModifyServerlessCacheResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\">\
             <ModifyServerlessCacheResult><ServerlessCache><ServerlessCacheName>{CACHE}</ServerlessCacheName>\
             <Status>modifying</Status></ServerlessCache></ModifyServerlessCacheResult>\
             <ResponseMetadata><RequestId>m1</RequestId></ResponseMetadata></ModifyServerlessCacheResponse>"
        ),
    )
}

fn xml(status: u16, body: String) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .header("x-amzn-requestid", "7f3c9a10-elasticache")
        .body(SdkBody::from(body))
        .unwrap()
}

fn describe_table(name: &str, reads: u64, writes: u64) -> http::Response<SdkBody> {
    dynamo(
        200,
        json!({"Table": {"TableName": name, "TableStatus": "ACTIVE", "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
            "WarmThroughput": {"ReadUnitsPerSecond": reads, "WriteUnitsPerSecond": writes, "Status": "ACTIVE"}}}),
    )
}

fn updated(name: &str) -> http::Response<SdkBody> {
    dynamo(
        200,
        json!({"TableDescription": {"TableName": name, "TableStatus": "ACTIVE",
            "WarmThroughput": {"Status": "UPDATING"}}}),
    )
}

fn dynamo(status: u16, body: Value) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-requestid", "QK7R-dynamodb")
        .body(SdkBody::from(body.to_string()))
        .unwrap()
}

/// Answers in order; the request recorded beside each is not compared (the tests read the
/// actual ones).
fn replay(answers: Vec<http::Response<SdkBody>>) -> StaticReplayClient {
    StaticReplayClient::new(
        answers
            .into_iter()
            .map(|answer| {
                let request = http::Request::builder()
                    .uri("https://example.invalid/")
                    .body(SdkBody::empty())
                    .unwrap();
                ReplayEvent::new(request, answer)
            })
            .collect(),
    )
}

fn clients(cache: &StaticReplayClient, dynamodb: &StaticReplayClient) -> Clients {
    use aws_sdk_elasticache::config::{BehaviorVersion, Credentials, Region};
    let credentials = Credentials::new("AKIDTEST", "secret", None, None, "test");
    Clients {
        cache: aws_sdk_elasticache::Client::from_conf(
            aws_sdk_elasticache::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .credentials_provider(credentials.clone())
                .http_client(cache.clone())
                .build(),
        ),
        dynamodb: aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .credentials_provider(credentials)
                .http_client(dynamodb.clone())
                .build(),
        ),
    }
}

struct Run {
    code: u8,
    out: String,
    err: String,
}

async fn run(line: &str, cache: &StaticReplayClient, dynamodb: &StaticReplayClient) -> Run {
    let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    let command = Command::parse(&args).expect("a valid command");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = prepare::execute(&command, &clients(cache, dynamodb), &mut out, &mut err).await;
    Run {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

/// The ElastiCache calls as sent: Query protocol, form-encoded bodies.
fn cache_calls(client: &StaticReplayClient) -> Vec<BTreeMap<String, String>> {
    client
        .actual_requests()
        .map(|r| {
            let body = std::str::from_utf8(r.body().bytes().unwrap()).unwrap();
            body.split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (decode(k), decode(v)))
                .collect()
        })
        .collect()
}

fn decode(s: &str) -> String {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The DynamoDB calls as sent: the operation (from X-Amz-Target) and the JSON body.
fn dynamodb_calls(client: &StaticReplayClient) -> Vec<(String, Value)> {
    client
        .actual_requests()
        .map(|r| {
            let target = r.headers().get("x-amz-target").unwrap_or_default();
            let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
            let body = serde_json::from_slice(r.body().bytes().unwrap()).unwrap();
            (operation, body)
        })
        .collect()
}

fn operations(calls: &[BTreeMap<String, String>]) -> Vec<&str> {
    calls.iter().map(|c| c["Action"].as_str()).collect()
}

#[tokio::test]
async fn a_raise_sets_the_cache_minimum_the_model_gives() {
    let cache = replay(vec![describe_cache(None, 100_000), modified()]);
    let dynamodb = replay(vec![
        describe_table("concert-booking", 12_000, 4_000),
        describe_table("concert-booking-reservations", 12_000, 4_000),
    ]);

    let run = run(
        &format!("raise --expected-users 1000000 --cache {CACHE}"),
        &cache,
        &dynamodb,
    )
    .await;

    assert_eq!(run.code, 0, "{}{}", run.out, run.err);
    // A million joining write nothing to DynamoDB: tables at a new table's start stay.
    assert!(dynamodb_calls(&dynamodb)
        .iter()
        .all(|(op, _)| op == "DescribeTable"));
    let calls = cache_calls(&cache);
    assert_eq!(
        operations(&calls),
        ["DescribeServerlessCaches", "ModifyServerlessCache"]
    );
    let modify = &calls[1];
    assert_eq!(modify["ServerlessCacheName"], CACHE);
    assert_eq!(
        modify["CacheUsageLimits.ECPUPerSecond.Minimum"],
        model::cache_ecpu_minimum(1_000_000).to_string()
    );
    assert_eq!(modify["CacheUsageLimits.ECPUPerSecond.Minimum"], "23000");
    // The maximum and the data-storage limit go back as they were.
    assert_eq!(modify["CacheUsageLimits.ECPUPerSecond.Maximum"], "100000");
    assert_eq!(modify["CacheUsageLimits.DataStorage.Maximum"], "5");
    assert_eq!(modify["CacheUsageLimits.DataStorage.Unit"], "GB");
    assert!(!modify.contains_key("CacheUsageLimits.DataStorage.Minimum"));
    assert!(
        run.out.contains("minimum ECPU/s none -> 23,000"),
        "{}",
        run.out
    );
}

#[tokio::test]
async fn a_raise_brings_a_table_below_a_new_tables_start_up_to_it() {
    let cache = replay(vec![describe_cache(None, 100_000), modified()]);
    let dynamodb = replay(vec![
        // Below a new on-demand table's start, as a table once provisioned low can read.
        describe_table("concert-booking", 12_000, 2_000),
        describe_table("concert-booking-reservations", 6_000, 2_000),
        updated("concert-booking"),
        updated("concert-booking-reservations"),
    ]);

    let run = run(
        &format!("raise --expected-users 1000000 --cache {CACHE}"),
        &cache,
        &dynamodb,
    )
    .await;

    assert_eq!(run.code, 0, "{}{}", run.out, run.err);
    let calls = dynamodb_calls(&dynamodb);
    let updates: Vec<&Value> = calls
        .iter()
        .filter(|(op, _)| op == "UpdateTable")
        .map(|(_, body)| body)
        .collect();
    let start = model::tables();
    assert_eq!(
        updates,
        [
            // Its reads are at the start already: only the writes are raised.
            &json!({"TableName": "concert-booking",
                "WarmThroughput": {"WriteUnitsPerSecond": start.writes}}),
            &json!({"TableName": "concert-booking-reservations",
                "WarmThroughput": {"ReadUnitsPerSecond": start.reads, "WriteUnitsPerSecond": start.writes}}),
        ]
    );
    assert_eq!((start.reads, start.writes), (12_000, 4_000));
}

#[tokio::test]
async fn a_raise_changes_nothing_already_at_or_above_the_model() {
    // A minimum set higher by hand, and tables warmer than the model: raising never lowers.
    let cache = replay(vec![describe_cache(Some(50_000), 100_000)]);
    let dynamodb = replay(vec![
        describe_table("concert-booking", 40_000, 20_000),
        describe_table("concert-booking-reservations", 12_000, 4_000),
    ]);

    let run = run(
        &format!("raise --expected-users 1000000 --cache {CACHE}"),
        &cache,
        &dynamodb,
    )
    .await;

    assert_eq!(run.code, 0, "{}{}", run.out, run.err);
    assert_eq!(
        operations(&cache_calls(&cache)),
        ["DescribeServerlessCaches"]
    );
    let dynamodb_ops: Vec<String> = dynamodb_calls(&dynamodb)
        .into_iter()
        .map(|(op, _)| op)
        .collect();
    assert_eq!(dynamodb_ops, ["DescribeTable", "DescribeTable"]);
    assert!(run.out.contains("nothing to change"), "{}", run.out);
}

#[tokio::test]
async fn a_dry_run_reads_the_settings_and_writes_nothing() {
    let cache = replay(vec![describe_cache(None, 100_000)]);
    let dynamodb = replay(vec![
        describe_table("concert-booking", 6_000, 2_000),
        describe_table("concert-booking-reservations", 12_000, 4_000),
    ]);

    let run = run(
        &format!("raise --expected-users 1000000 --cache {CACHE} --dry-run"),
        &cache,
        &dynamodb,
    )
    .await;

    assert_eq!(run.code, 0, "{}{}", run.out, run.err);
    assert_eq!(
        operations(&cache_calls(&cache)),
        ["DescribeServerlessCaches"]
    );
    assert!(dynamodb_calls(&dynamodb)
        .iter()
        .all(|(op, _)| op == "DescribeTable"));
    // What it would set is printed.
    assert!(run.out.contains("none -> 23,000"), "{}", run.out);
    assert!(
        run.out
            .contains("6,000 reads/s, 2,000 writes/s -> 12,000 reads/s, 4,000 writes/s"),
        "{}",
        run.out
    );
    assert!(run.out.contains("dry run: nothing changed"), "{}", run.out);
}

#[tokio::test]
async fn an_error_from_elasticache_is_reported_and_exits_non_zero() {
    // As ElastiCache answers a modification while the cache is still modifying.
    let refusal = xml(
        400,
        "<ErrorResponse xmlns=\"http://elasticache.amazonaws.com/doc/2015-02-02/\">\
         <Error><Type>Sender</Type><Code>InvalidServerlessCacheStateFault</Code>\
         <Message>Cache concert-booking-1a2b3c4d is not in available state.</Message></Error>\
         <RequestId>7f3c9a10-elasticache</RequestId></ErrorResponse>"
            .to_owned(),
    );
    let cache = replay(vec![describe_cache(None, 100_000), refusal]);
    let dynamodb = replay(vec![
        describe_table("concert-booking", 12_000, 4_000),
        describe_table("concert-booking-reservations", 12_000, 4_000),
    ]);

    let run = run(
        &format!("raise --expected-users 1000000 --cache {CACHE}"),
        &cache,
        &dynamodb,
    )
    .await;

    assert_eq!(run.code, 1);
    assert_eq!(
        run.err.trim(),
        "prepare: ModifyServerlessCache on cache concert-booking-1a2b3c4d: AWS refused it: \
         InvalidServerlessCacheStateFault: Cache concert-booking-1a2b3c4d is not in available \
         state. (request 7f3c9a10-elasticache)"
    );
    // The cache goes first, and a refusal stops the run before the tables.
    assert!(dynamodb_calls(&dynamodb)
        .iter()
        .all(|(op, _)| op == "DescribeTable"));
}

#[tokio::test]
async fn an_error_from_dynamodb_is_reported_and_exits_non_zero() {
    let cache = replay(vec![describe_cache(Some(23_000), 100_000)]);
    let busy = dynamo(
        400,
        json!({"__type": "com.amazonaws.dynamodb.v20120810#ResourceInUseException",
            "message": "Attempt to change a resource which is still in use: Table is being updated: concert-booking"}),
    );
    let dynamodb = replay(vec![
        describe_table("concert-booking", 12_000, 2_000),
        describe_table("concert-booking-reservations", 12_000, 4_000),
        busy,
    ]);

    let run = run(
        &format!("raise --expected-users 1000000 --cache {CACHE}"),
        &cache,
        &dynamodb,
    )
    .await;

    assert_eq!(run.code, 1);
    assert!(
        run.err.contains("UpdateTable on table concert-booking: AWS refused it: ResourceInUseException: Attempt to change a resource which is still in use"),
        "{}",
        run.err
    );
}

#[tokio::test]
async fn a_minimum_above_the_cache_maximum_is_refused_before_any_write() {
    let cache = replay(vec![describe_cache(None, 10_000)]);
    let dynamodb = replay(vec![]);

    let run = run(
        &format!("raise --expected-users 1000000 --cache {CACHE}"),
        &cache,
        &dynamodb,
    )
    .await;

    assert_eq!(run.code, 1);
    assert!(
        run.err
            .contains("maximum (10,000) is below the minimum of 23,000"),
        "{}",
        run.err
    );
    assert_eq!(
        operations(&cache_calls(&cache)),
        ["DescribeServerlessCaches"]
    );
    assert_eq!(dynamodb_calls(&dynamodb).len(), 0);
}

#[tokio::test]
async fn without_a_name_the_cache_named_as_the_template_names_it_is_taken() {
    let cache = replay(vec![
        describe_caches(&[
            cache_member("sessions", None, 50_000),
            cache_member(CACHE, None, 100_000),
        ]),
        modified(),
    ]);
    let dynamodb = replay(vec![
        describe_table("concert-booking", 12_000, 4_000),
        describe_table("concert-booking-reservations", 12_000, 4_000),
    ]);

    let run = run("raise --expected-users 100000", &cache, &dynamodb).await;

    assert_eq!(run.code, 0, "{}{}", run.out, run.err);
    let calls = cache_calls(&cache);
    assert!(!calls[0].contains_key("ServerlessCacheName"), "listed all");
    assert_eq!(calls[1]["ServerlessCacheName"], CACHE);
    assert_eq!(
        calls[1]["CacheUsageLimits.ECPUPerSecond.Minimum"],
        model::cache_ecpu_minimum(100_000).to_string()
    );
}

#[tokio::test]
async fn a_lower_takes_the_cache_minimum_away_and_leaves_the_tables() {
    let cache = replay(vec![describe_cache(Some(23_000), 100_000), modified()]);
    let dynamodb = replay(vec![]);

    let run = run(&format!("lower --cache {CACHE}"), &cache, &dynamodb).await;

    assert_eq!(run.code, 0, "{}{}", run.out, run.err);
    let calls = cache_calls(&cache);
    assert_eq!(
        operations(&calls),
        ["DescribeServerlessCaches", "ModifyServerlessCache"]
    );
    // 0 removes the minimum; the maximum and storage stay.
    assert_eq!(calls[1]["CacheUsageLimits.ECPUPerSecond.Minimum"], "0");
    assert_eq!(calls[1]["CacheUsageLimits.ECPUPerSecond.Maximum"], "100000");
    assert_eq!(calls[1]["CacheUsageLimits.DataStorage.Maximum"], "5");
    // Warm throughput cannot be lowered: no table call at all.
    assert_eq!(dynamodb_calls(&dynamodb).len(), 0);
    assert!(run.out.contains("23,000 -> none"), "{}", run.out);
}

#[tokio::test]
async fn a_dry_run_lower_writes_nothing() {
    let cache = replay(vec![describe_cache(Some(23_000), 100_000)]);
    let dynamodb = replay(vec![]);

    let run = run(
        &format!("after --floor 5000 --cache {CACHE} --dry-run"),
        &cache,
        &dynamodb,
    )
    .await;

    assert_eq!(run.code, 0, "{}{}", run.out, run.err);
    assert_eq!(
        operations(&cache_calls(&cache)),
        ["DescribeServerlessCaches"]
    );
    assert!(run.out.contains("23,000 -> 5,000"), "{}", run.out);
}
