//! template.yaml, the local router and the code agree: route for route, function for function,
//! and the table the code creates is the table the template declares.

use std::collections::BTreeSet;

use devserver::routes::{
    handler_for, template_functions, template_routes, Router, HTTP_FUNCTIONS, TEMPLATE,
};
use serde_yaml::Value;
use shared::store::schema;

fn function_crates() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../functions");
    std::fs::read_dir(dir)
        .expect("functions/ exists")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn every_template_route_is_served_by_the_local_router() {
    let router = Router::from_template().expect("every template route has a handler");
    for route in template_routes().unwrap() {
        let concrete = route
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        assert!(
            matches!(
                router.find(&route.method, &concrete),
                devserver::routes::Matched::Found { .. }
            ),
            "{} {} is not routed",
            route.method,
            route.path
        );
        assert!(handler_for(&route.function).is_some());
    }
}

#[test]
fn every_http_handler_of_the_local_router_has_a_template_route() {
    let routed: BTreeSet<String> = template_routes()
        .unwrap()
        .into_iter()
        .map(|r| r.function)
        .collect();
    let known: BTreeSet<String> = HTTP_FUNCTIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(routed, known);
}

#[test]
fn every_function_crate_is_a_template_function_and_back() {
    let declared: BTreeSet<String> = template_functions()
        .unwrap()
        .into_iter()
        .map(|f| f.binary)
        .collect();
    assert_eq!(declared, function_crates());
    for f in template_functions().unwrap() {
        let code_uri = resource(&f.logical_id)["Properties"]["CodeUri"]
            .as_str()
            .map(str::to_owned);
        assert_eq!(
            code_uri,
            Some(format!("functions/{}", f.binary)),
            "{}",
            f.logical_id
        );
    }
}

fn template() -> Value {
    serde_yaml::from_str(TEMPLATE).unwrap()
}

fn resource(id: &str) -> Value {
    template()["Resources"][id].clone()
}

fn names(list: &Value, key: &str) -> BTreeSet<(String, String)> {
    list.as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["AttributeName"].as_str().unwrap().to_owned(),
                e[key].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn the_template_declares_the_main_table_the_code_creates() {
    let table = resource("BookingTable");
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let p = &table["Properties"];
    assert_eq!(
        names(&p["KeySchema"], "KeyType"),
        pairs(&[(schema::PARTITION_KEY, "HASH"), (schema::SORT_KEY, "RANGE")])
    );
    assert_eq!(
        names(&p["AttributeDefinitions"], "AttributeType"),
        pairs(&[(schema::PARTITION_KEY, "S"), (schema::SORT_KEY, "S")])
    );
    // An index here would stop DynamoDB Local's TTL deletions, which the stream path needs.
    assert!(p["GlobalSecondaryIndexes"].is_null());
    assert_eq!(
        p["TimeToLiveSpecification"]["AttributeName"],
        schema::TTL_ATTRIBUTE
    );
    assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        p["StreamSpecification"]["StreamViewType"].as_str(),
        Some(schema::STREAM_VIEW.as_str())
    );
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
}

#[test]
fn the_template_declares_the_reservations_table_the_code_creates() {
    let table = resource("ReservationsTable");
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let p = &table["Properties"];
    assert_eq!(
        names(&p["KeySchema"], "KeyType"),
        pairs(&[(schema::PARTITION_KEY, "HASH"), (schema::SORT_KEY, "RANGE")])
    );
    assert_eq!(
        names(&p["AttributeDefinitions"], "AttributeType"),
        pairs(&[
            (schema::PARTITION_KEY, "S"),
            (schema::SORT_KEY, "S"),
            (schema::HELD_SHARD_ATTRIBUTE, "S"),
            (schema::EXPIRES_AT_ATTRIBUTE, "N"),
            (schema::USER_ID_ATTRIBUTE, "S"),
            (schema::CREATED_AT_ATTRIBUTE, "S"),
        ])
    );
    let indexes = p["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(indexes.len(), 2);
    assert_eq!(indexes[0]["IndexName"], schema::HELD_BY_EXPIRY_INDEX);
    assert_eq!(
        names(&indexes[0]["KeySchema"], "KeyType"),
        pairs(&[
            (schema::HELD_SHARD_ATTRIBUTE, "HASH"),
            (schema::EXPIRES_AT_ATTRIBUTE, "RANGE")
        ])
    );
    assert_eq!(indexes[0]["Projection"]["ProjectionType"], "ALL");
    assert_eq!(indexes[1]["IndexName"], schema::BY_USER_INDEX);
    assert_eq!(
        names(&indexes[1]["KeySchema"], "KeyType"),
        pairs(&[
            (schema::USER_ID_ATTRIBUTE, "HASH"),
            (schema::CREATED_AT_ATTRIBUTE, "RANGE")
        ])
    );
    assert_eq!(indexes[1]["Projection"]["ProjectionType"], "ALL");
    assert!(p["StreamSpecification"].is_null());
    assert!(p["TimeToLiveSpecification"].is_null());
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
}

#[test]
fn the_release_filter_selects_only_ttl_deletions_of_hold_markers() {
    use devserver::events::{matches, template_filters};
    use serde_json::json;
    let filters = template_filters().expect("the template has the release filter");
    let record = |name: &str, identity: Option<(&str, &str)>, entity: &str| {
        let mut r = json!({"eventName": name, "dynamodb": {"OldImage": {"entity": {"S": entity}}}});
        if let Some((kind, principal)) = identity {
            r["userIdentity"] = json!({"type": kind, "principalId": principal});
        }
        r
    };
    let passes = |r: &serde_json::Value| filters.iter().any(|f| matches(f, r));
    assert!(passes(&record(
        "REMOVE",
        Some(("Service", "dynamodb.amazonaws.com")),
        "Hold"
    )));
    assert!(
        !passes(&record("REMOVE", None, "Hold")),
        "a delete by the app itself"
    );
    assert!(!passes(&record(
        "REMOVE",
        Some(("Service", "dynamodb.amazonaws.com")),
        "Seat"
    )));
    assert!(!passes(&record(
        "MODIFY",
        Some(("Service", "dynamodb.amazonaws.com")),
        "Hold"
    )));
}

/// The function resource behind each HTTP route, with the route's `Auth` block.
fn route_auth() -> Vec<(String, String, Value)> {
    template_routes()
        .unwrap()
        .into_iter()
        .map(|r| {
            let fun = template_functions()
                .unwrap()
                .into_iter()
                .find(|f| f.binary == r.function)
                .unwrap();
            let events = resource(&fun.logical_id)["Properties"]["Events"].clone();
            let auth = events
                .as_mapping()
                .unwrap()
                .values()
                .find(|e| e["Properties"]["Path"].as_str() == Some(r.path.as_str()))
                .map(|e| e["Properties"]["Auth"].clone())
                .unwrap_or(Value::Null);
            (r.method, r.path, auth)
        })
        .collect()
}

#[test]
fn every_admin_route_takes_iam_and_no_buyer_route_does() {
    let routes = route_auth();
    assert!(routes.iter().any(|(_, p, _)| p.starts_with("/admin/")));
    for (method, path, auth) in routes {
        let iam = auth["Authorizer"].as_str() == Some("AWS_IAM");
        assert_eq!(
            iam,
            path.starts_with("/admin/"),
            "{method} {path}: authorizer {auth:?}"
        );
    }
    assert_eq!(
        template()["Resources"]["HttpApi"]["Properties"]["Auth"]["EnableIamAuthorizer"],
        Value::Bool(true)
    );
}

#[test]
fn the_operator_policy_allows_exactly_the_admin_routes() {
    let policy = resource("OperatorPolicy");
    assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
    let statements = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Effect"], "Allow");
    let actions: Vec<&str> = statements[0]["Action"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(actions, ["execute-api:Invoke"]);
    // `!Sub` strings parse as tagged values: their text is what matters.
    let allowed: BTreeSet<String> = statements[0]["Resource"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| {
            let text = match r {
                Value::Tagged(t) => t.value.as_str().unwrap().to_owned(),
                other => other.as_str().unwrap().to_owned(),
            };
            let (_, route) = text.split_once("${HttpApi}/*/").expect("on this API only");
            route.to_owned()
        })
        .collect();
    let admin: BTreeSet<String> = route_auth()
        .into_iter()
        .filter(|(_, p, _)| p.starts_with("/admin/"))
        .map(|(m, p, _)| {
            let p: Vec<&str> = p
                .split('/')
                .map(|s| if s.starts_with('{') { "*" } else { s })
                .collect();
            format!("{m}{}", p.join("/"))
        })
        .collect();
    assert_eq!(allowed, admin);
    assert!(template()["Outputs"]["OperatorPolicyArn"].is_mapping());
}

#[test]
fn the_alarms_an_on_sale_needs_exist_and_notify_the_topic() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let alarms: BTreeSet<String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(id, _)| id.as_str().unwrap().to_owned())
        .collect();
    let wanted = [
        "ServerErrorsAlarm",
        "Api5xxAlarm",
        "ApiThrottledAlarm",
        "LambdaThrottlesAlarm",
        "LambdaErrorsAlarm",
        "ReleaseIteratorAgeAlarm",
        "ReleaseDeadLetterAlarm",
        "TtlLagAlarm",
        "RefusedScansAlarm",
    ];
    assert_eq!(
        alarms,
        wanted
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    let runbook = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/runbook.md"
    ))
    .unwrap();
    for id in &alarms {
        let p = &resources[id.as_str()]["Properties"];
        for actions in ["AlarmActions", "OKActions"] {
            let refs = p[actions]
                .as_sequence()
                .unwrap_or_else(|| panic!("{id} {actions}"));
            assert!(
                refs.iter().any(|a| matches!(a, Value::Tagged(t)
                    if t.tag == "!Ref" && t.value.as_str() == Some("AlarmTopic"))),
                "{id} {actions} does not notify AlarmTopic"
            );
        }
        assert_eq!(p["TreatMissingData"], "notBreaching", "{id}");
        assert!(
            runbook.contains(&format!("`{id}`")),
            "docs/runbook.md says nothing of {id}"
        );
    }
    // The business metrics the alarms read come from the functions' EMF lines.
    for metric in ["ServerErrors", "SeatsReleasedBySweep", "CheckInsRefused"] {
        assert!(shared::metrics::Metric::ALL
            .iter()
            .any(|m| m.name() == metric));
    }
    assert_eq!(resources["AlarmTopic"]["Type"], "AWS::SNS::Topic");
    assert_eq!(
        resources["OnSaleDashboard"]["Type"],
        "AWS::CloudWatch::Dashboard"
    );
}

/// The routes anyone may call without signing in. Any other route is a buyer's (the JWT
/// authorizer) or an operator's (IAM).
const PUBLIC_ROUTES: &[(&str, &str)] = &[("GET", "/.well-known/ticket-keys.json")];

#[test]
fn every_route_is_a_signed_in_buyers_an_operators_or_on_the_public_list() {
    use devserver::routes::RouteAuth;
    let routes = template_routes().unwrap();
    assert!(!routes.is_empty());
    for route in routes {
        let name = format!("{} {}", route.method, route.path);
        let operator = route.path.starts_with("/admin/");
        match route.auth {
            RouteAuth::Jwt => assert!(!operator, "{name}: an operator route takes IAM"),
            RouteAuth::Iam => assert!(operator, "{name}: IAM is for the /admin routes"),
            RouteAuth::Open => assert!(
                PUBLIC_ROUTES.contains(&(route.method.as_str(), route.path.as_str())),
                "{name} has no authorizer and is not on the public list"
            ),
        }
    }
}

#[test]
fn the_jwt_authorizer_checks_issuer_audience_and_the_access_token_scope() {
    let doc: Value = serde_yaml::from_str(TEMPLATE).unwrap();
    let auth = &doc["Resources"]["HttpApi"]["Properties"]["Auth"];
    assert_eq!(
        auth["DefaultAuthorizer"].as_str(),
        Some(devserver::routes::JWT_AUTHORIZER)
    );
    let jwt = &auth["Authorizers"][devserver::routes::JWT_AUTHORIZER];
    assert_eq!(
        jwt["IdentitySource"].as_str(),
        Some("$request.header.Authorization")
    );
    assert!(!jwt["JwtConfiguration"]["issuer"].is_null());
    assert!(!jwt["JwtConfiguration"]["audience"].is_null());
    let scope = &jwt["AuthorizationScopes"][0];
    assert!(!scope.is_null(), "the authorizer requires a scope");
    assert_eq!(
        doc["Parameters"]["JwtRequiredScope"]["Default"].as_str(),
        Some(devserver::auth::REQUIRED_SCOPE),
        "the scope the local authorizer requires is the template's"
    );
}

/// The ticket key signs and checks tickets: the three functions that do have it, from the
/// stack's secret, and no other function does (a function without it refuses to sign).
#[test]
fn only_the_ticket_functions_have_the_ticket_key() {
    let with_key: BTreeSet<String> = template_functions()
        .unwrap()
        .into_iter()
        .filter(|f| {
            let env = &resource(&f.logical_id)["Properties"]["Environment"]["Variables"];
            match &env["TICKET_SIGNING_KEY"] {
                Value::Tagged(t) => t
                    .value
                    .as_str()
                    .is_some_and(|v| v.contains("${TicketSigningKeySecret}")),
                Value::Null => false,
                other => panic!("{}: TICKET_SIGNING_KEY is {other:?}", f.logical_id),
            }
        })
        .map(|f| f.binary)
        .collect();
    assert_eq!(
        with_key,
        BTreeSet::from(["get_tickets", "get_ticket_keys", "admin_check_in"].map(String::from))
    );
    assert!(
        template()["Globals"]["Function"]["Environment"]["Variables"]["TICKET_SIGNING_KEY"]
            .is_null()
    );
    assert_eq!(
        resource("TicketSigningKeySecret")["Type"],
        "AWS::SecretsManager::Secret"
    );
}
