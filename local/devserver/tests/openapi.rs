//! openapi.yaml describes the API that exists: the same routes as template.yaml, for every
//! operation the refusals the code can give, as problem+json with the codes `ApiError` uses,
//! the operator routes as the template's IAM routes with their own 401, the request bodies and
//! limits as the code parses them, and the answers with the fields the views write. Needs no
//! store: the operator handlers are called in process only for requests they refuse before any
//! I/O.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use devserver::routes::{template_routes, TEMPLATE};
use lambda_http::{Body, RequestExt};
use serde_yaml::Value;
use shared::domain::catalog::{Name, Section, Sections, MAX_DATES, MAX_SEATS, MAX_SECTIONS};
use shared::domain::queue::{Standing, TokenStatus};
use shared::domain::seats::SeatState;
use shared::domain::tickets::{Ticket, TicketId, TicketKeys};
use shared::domain::{ConcertDate, ConcertId, QueueToken, SeatNo, UserId, Won};
use shared::domain::{Reservation, ReservationId, ReservationStatus};
use shared::error::{ApiError, StoreError};
use shared::flows::catalog::{ConcertReport, QueueFigures};
use shared::flows::listing::Page;
use shared::flows::seats::{Counts, Seat};
use shared::flows::tickets::{CheckedIn, IssuedTicket};
use shared::http::views::{
    AdminConcertView, CheckInView, JwksView, QueueView, ReservationListView, SeatsView,
    TicketsView, TokenView,
};
use shared::settings::Settings;
use shared::store::catalog::StoredConcert;
use shared::store::items::{ConcertItem, DateItem};
use shared::store::scripts::LineFigures;
use shared::AppState;

const OPENAPI: &str = include_str!("../../../openapi.yaml");
const PROBLEM_JSON: &str = "application/problem+json";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn spec() -> Value {
    serde_yaml::from_str(OPENAPI).expect("openapi.yaml parses")
}

/// Follows a local `$ref` (`#/components/...`) until the value is not a reference.
fn resolve<'a>(root: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(target) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let pointer = target
            .strip_prefix("#/")
            .unwrap_or_else(|| panic!("only local references are used, not {target}"));
        value = pointer.split('/').fold(root, |node, key| {
            node.get(key)
                .unwrap_or_else(|| panic!("{target} does not resolve"))
        });
    }
    panic!("reference cycle at {value:?}");
}

/// One operation of the spec.
struct Operation<'a> {
    method: String,
    path: String,
    body: &'a Value,
}

impl Operation<'_> {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

fn operations(root: &Value) -> Vec<Operation<'_>> {
    let paths = root
        .get("paths")
        .and_then(Value::as_mapping)
        .expect("openapi.yaml has paths");
    let mut out = Vec::new();
    for (path, item) in paths {
        let path = path.as_str().expect("paths are strings");
        let item = item.as_mapping().expect("a path item is a mapping");
        for (method, body) in item {
            let method = method.as_str().unwrap_or_default();
            if METHODS.contains(&method) {
                out.push(Operation {
                    method: method.to_ascii_uppercase(),
                    path: path.to_owned(),
                    body,
                });
            }
        }
    }
    out
}

/// The buyers' scheme (a queue token), the signed-in buyer's (no queue token), and the
/// operator's.
const BEARER: &str = "bearerAuth";
const ACCESS: &str = "accessToken";
const OPERATOR: &str = "operatorAuth";

/// The routes a signed-in buyer calls with no queue token.
const SIGNED_IN_ONLY: [(&str, &str); 2] = [
    ("GET", "/users/{userId}/reservations"),
    ("GET", "/reservations/{reservationId}/tickets"),
];

/// The routes that go without any credentials.
const PUBLIC: [(&str, &str); 2] = [
    ("POST", "/queue/tokens"),
    ("GET", "/.well-known/ticket-keys.json"),
];

/// The routes that ask no store, so never answer 503.
const NO_STORE: [(&str, &str); 1] = [("GET", "/.well-known/ticket-keys.json")];

fn listed(list: &[(&str, &str)], op: &Operation) -> bool {
    list.iter().any(|(m, p)| *m == op.method && *p == op.path)
}

/// The schemes of an operation's effective security (its own, or the document's).
fn schemes(root: &Value, op: &Operation) -> BTreeSet<String> {
    op.body
        .get("security")
        .or_else(|| root.get("security"))
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(Value::as_mapping)
        .flat_map(|m| m.keys().filter_map(Value::as_str).map(str::to_owned))
        .collect()
}

fn is_bearer_secured(root: &Value, op: &Operation) -> bool {
    schemes(root, op).contains(BEARER)
}

fn is_operator_secured(root: &Value, op: &Operation) -> bool {
    schemes(root, op).contains(OPERATOR)
}

/// `components.schemas.<name>`, resolved.
fn schema<'a>(root: &'a Value, name: &str) -> &'a Value {
    let found = root
        .get("components")
        .and_then(|c| c.get("schemas"))
        .and_then(|s| s.get(name))
        .unwrap_or_else(|| panic!("components.schemas.{name}"));
    resolve(root, found)
}

/// The property names of an object schema, through `$ref` and `allOf`.
fn properties(root: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(root, schema);
    let mut out: BTreeSet<String> = schema
        .get("properties")
        .and_then(Value::as_mapping)
        .into_iter()
        .flat_map(|m| m.keys().filter_map(Value::as_str).map(str::to_owned))
        .collect();
    for part in schema
        .get("allOf")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        out.extend(properties(root, part));
    }
    out
}

/// The required property names of an object schema, through `$ref` and `allOf`.
fn required(root: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(root, schema);
    let mut out: BTreeSet<String> = schema
        .get("required")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    for part in schema
        .get("allOf")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        out.extend(required(root, part));
    }
    out
}

/// The schema of property `name` of an object schema, resolved.
fn property<'a>(root: &'a Value, schema: &'a Value, name: &str) -> &'a Value {
    let schema = resolve(root, schema);
    if let Some(p) = schema.get("properties").and_then(|p| p.get(name)) {
        return resolve(root, p);
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        if properties(root, part).contains(name) {
            return property(root, part, name);
        }
    }
    panic!("no property {name} in {schema:?}")
}

/// An integer keyword of a schema (`maxItems`, `maximum`, ...), through one `allOf`/`$ref`.
fn number(root: &Value, schema: &Value, keyword: &str) -> u64 {
    let schema = resolve(root, schema);
    schema
        .get(keyword)
        .and_then(Value::as_u64)
        .or_else(|| {
            schema
                .get("allOf")
                .and_then(Value::as_sequence)
                .and_then(|parts| parts.iter().find_map(|p| resolve(root, p).get(keyword)))
                .and_then(Value::as_u64)
        })
        .unwrap_or_else(|| panic!("no {keyword} in {schema:?}"))
}

fn keys(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("{value} is not an object"))
        .keys()
        .cloned()
        .collect()
}

/// The response for `status`, resolved, if the operation declares it.
fn response<'a>(root: &'a Value, op: &Operation<'a>, status: u16) -> Option<&'a Value> {
    let responses = op.body.get("responses")?;
    responses
        .get(status.to_string().as_str())
        .map(|r| resolve(root, r))
}

/// The codes a problem schema allows: the `code` enums found in it, through `$ref` and `allOf`;
/// when several parts constrain `code`, the narrowest (last) one wins.
fn problem_codes(root: &Value, schema: &Value) -> Option<BTreeSet<String>> {
    let schema = resolve(root, schema);
    let mut found = schema
        .get("properties")
        .and_then(|p| p.get("code"))
        .and_then(|c| c.get("enum"))
        .and_then(Value::as_sequence)
        .map(|codes| {
            codes
                .iter()
                .map(|c| c.as_str().expect("codes are strings").to_owned())
                .collect::<BTreeSet<_>>()
        });
    if let Some(parts) = schema.get("allOf").and_then(Value::as_sequence) {
        for part in parts {
            if let Some(codes) = problem_codes(root, part) {
                found = Some(codes);
            }
        }
    }
    found
}

/// Every refusal the code can give, one of each kind.
fn every_api_error() -> Vec<ApiError> {
    let store = || StoreError::Unexpected("x".into());
    vec![
        ApiError::validation("f", "r"),
        ApiError::TokenMissing,
        ApiError::TokenInvalid,
        ApiError::TokenExpired,
        ApiError::TokenNotActive,
        ApiError::Forbidden("x".into()),
        ApiError::NotFound("x".into()),
        ApiError::SeatUnavailable("x".into()),
        ApiError::ReservationExpired("x".into()),
        ApiError::ReservationNotHeld("x".into()),
        ApiError::InsufficientBalance("x".into()),
        ApiError::BalanceLimitExceeded("x".into()),
        ApiError::CatalogLocked("x".into()),
        ApiError::AdminUnauthorized,
        ApiError::SeatLimitReached("x".into()),
        ApiError::ReservationNotPaid("x".into()),
        ApiError::RefundWindowClosed("x".into()),
        ApiError::IdempotencyKeyReused,
        ApiError::TicketInvalid("x".into()),
        ApiError::AlreadyCheckedIn {
            what: "x".into(),
            at: Utc::now(),
        },
        ApiError::TicketRefunded("x".into()),
        ApiError::Unavailable(store()),
        ApiError::Internal(shared::error::Internal::Store(store())),
    ]
}

/// The status the code answers a contract code with.
fn status_of(code: &str) -> u16 {
    every_api_error()
        .iter()
        .map(ApiError::parts)
        .find(|(_, c, _)| *c == code)
        .unwrap_or_else(|| panic!("{code} is not a code of ApiError"))
        .0
}

#[test]
fn the_spec_is_openapi_3_1() {
    let root = spec();
    let version = root.get("openapi").and_then(Value::as_str).unwrap();
    assert!(version.starts_with("3.1."), "openapi: {version}");
}

#[test]
fn the_paths_and_methods_are_exactly_the_template_routes() {
    let root = spec();
    let documented: BTreeSet<(String, String)> = operations(&root)
        .into_iter()
        .map(|op| (op.method, op.path))
        .collect();
    let routed: BTreeSet<(String, String)> = template_routes()
        .expect("template.yaml parses")
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(
        documented,
        routed,
        "openapi.yaml and template.yaml disagree; only in openapi.yaml: {:?}; only in template.yaml: {:?}",
        documented.difference(&routed).collect::<Vec<_>>(),
        routed.difference(&documented).collect::<Vec<_>>(),
    );
}

#[test]
fn every_path_parameter_is_declared_and_required() {
    let root = spec();
    for op in operations(&root) {
        let in_path: BTreeSet<String> = op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        let declared: BTreeSet<String> = op
            .body
            .get("parameters")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .map(|p| resolve(&root, p))
            .filter(|p| p.get("in").and_then(Value::as_str) == Some("path"))
            .inspect(|p| {
                assert_eq!(
                    p.get("required").and_then(Value::as_bool),
                    Some(true),
                    "{}: path parameters are required",
                    op.name()
                )
            })
            .map(|p| p.get("name").and_then(Value::as_str).unwrap().to_owned())
            .collect();
        assert_eq!(in_path, declared, "{}", op.name());
    }
}

#[test]
fn every_operation_documents_its_refusals_as_problem_json() {
    let root = spec();
    for op in operations(&root) {
        let name = op.name();
        // 400 on every operation: input to refuse, and headers over the size limit (the only
        // 400 of GET /queue/status, whose malformed token is 401).
        let mut required = vec![400, 500];
        if !listed(&NO_STORE, &op) {
            required.push(503);
        }
        if is_bearer_secured(&root, &op)
            || is_operator_secured(&root, &op)
            || schemes(&root, &op).contains(ACCESS)
        {
            required.push(401);
        }
        for status in required {
            assert!(
                response(&root, &op, status).is_some(),
                "{name}: no {status} response"
            );
        }

        let responses = op
            .body
            .get("responses")
            .and_then(Value::as_mapping)
            .unwrap_or_else(|| panic!("{name}: no responses"));
        for (status, resp) in responses {
            let status: u16 = status
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{name}: status {status:?} is not a number"));
            let resp = resolve(&root, resp);
            let content = resp.get("content").and_then(Value::as_mapping);
            if status < 400 {
                assert!(
                    content.is_some_and(|c| c.contains_key("application/json")),
                    "{name} {status}: a success answers application/json"
                );
                continue;
            }
            let schema = resp
                .get("content")
                .and_then(|c| c.get(PROBLEM_JSON))
                .and_then(|m| m.get("schema"))
                .unwrap_or_else(|| panic!("{name} {status}: not {PROBLEM_JSON}"));
            assert_eq!(
                content.map(|c| c.len()),
                Some(1),
                "{name} {status}: an error is {PROBLEM_JSON} only"
            );
            let codes = problem_codes(&root, schema)
                .unwrap_or_else(|| panic!("{name} {status}: the schema names no codes"));
            assert!(!codes.is_empty(), "{name} {status}: no codes");
            for code in &codes {
                assert_eq!(
                    status_of(code),
                    status,
                    "{name}: {code} is listed under {status}"
                );
            }
            if status == 401 {
                let all: BTreeSet<String> = if is_operator_secured(&root, &op) {
                    ["ADMIN_UNAUTHORIZED"].map(str::to_owned).into()
                } else {
                    ["TOKEN_MISSING", "TOKEN_INVALID", "TOKEN_EXPIRED"]
                        .map(str::to_owned)
                        .into()
                };
                assert_eq!(codes, all, "{name}: every credential refusal is a 401");
            }
            if status == 503 {
                let retry_after = resp.get("headers").and_then(|h| h.get("Retry-After"));
                assert!(retry_after.is_some(), "{name}: 503 without Retry-After");
            }
        }
    }
}

/// The template's routes that API Gateway authorizes with IAM (`Auth: Authorizer: AWS_IAM`).
fn iam_routes() -> BTreeSet<(String, String)> {
    let doc: Value = serde_yaml::from_str(TEMPLATE).expect("template.yaml parses");
    let resources = doc.get("Resources").and_then(Value::as_mapping).unwrap();
    let mut out = BTreeSet::new();
    for resource in resources.values() {
        let events = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping);
        for event in events.into_iter().flat_map(|m| m.values()) {
            let props = event.get("Properties");
            let iam = props
                .and_then(|p| p.get("Auth"))
                .and_then(|a| a.get("Authorizer"))
                .and_then(Value::as_str)
                == Some("AWS_IAM");
            if event.get("Type").and_then(Value::as_str) == Some("HttpApi") && iam {
                let field = |n: &str| {
                    props
                        .and_then(|p| p.get(n))
                        .and_then(Value::as_str)
                        .unwrap()
                };
                out.insert((
                    field("Method").to_ascii_uppercase(),
                    field("Path").to_owned(),
                ));
            }
        }
    }
    out
}

#[test]
fn only_issuing_a_token_and_the_ticket_keys_go_without_credentials() {
    let root = spec();
    for op in operations(&root) {
        let expected: BTreeSet<String> = if listed(&PUBLIC, &op) {
            BTreeSet::new()
        } else if op.path.starts_with("/admin/") {
            [OPERATOR.to_owned()].into()
        } else if listed(&SIGNED_IN_ONLY, &op) {
            [ACCESS.to_owned()].into()
        } else {
            [BEARER.to_owned()].into()
        };
        assert_eq!(
            schemes(&root, &op),
            expected,
            "{}: a buyer's route takes a queue token (bearerAuth) or, for the buyer's own \
             reservations and tickets, only the signed-in buyer (accessToken); an operator's \
             route the operator's credentials (operatorAuth); POST /queue/tokens and the ticket \
             keys none",
            op.name()
        );
    }
}

#[test]
fn the_operator_routes_are_the_iam_routes_of_the_template() {
    let root = spec();
    let operator: BTreeSet<(String, String)> = operations(&root)
        .into_iter()
        .filter(|op| is_operator_secured(&root, op))
        .map(|op| (op.method, op.path))
        .collect();
    let iam = iam_routes();
    assert!(!iam.is_empty(), "template.yaml has no AWS_IAM route");
    assert_eq!(
        operator, iam,
        "operatorAuth and the template's AWS_IAM routes disagree"
    );
    let scheme = root
        .get("components")
        .and_then(|c| c.get("securitySchemes"))
        .and_then(|s| s.get(OPERATOR))
        .expect("components.securitySchemes.operatorAuth");
    assert_eq!(scheme.get("type").and_then(Value::as_str), Some("http"));
    assert_eq!(scheme.get("scheme").and_then(Value::as_str), Some("bearer"));
    let text = scheme
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    for needed in [
        "ADMIN_TOKEN",
        "SigV4",
        "ADMIN_UNAUTHORIZED",
        "OperatorPolicy",
    ] {
        assert!(
            text.contains(needed),
            "operatorAuth's description does not mention {needed}"
        );
    }
    assert!(
        TEMPLATE.contains("OperatorPolicy:"),
        "the managed policy operatorAuth names is not in template.yaml"
    );
}

#[test]
fn the_problem_schema_is_the_one_the_code_answers() {
    let root = spec();
    let problem = resolve(
        &root,
        root.get("components")
            .and_then(|c| c.get("schemas"))
            .and_then(|s| s.get("Problem"))
            .expect("components.schemas.Problem"),
    );
    let documented = problem_codes(&root, problem).expect("Problem.code is an enum");
    let errors = every_api_error();
    let coded: BTreeSet<String> = errors.iter().map(|e| e.parts().1.to_owned()).collect();
    assert_eq!(documented, coded);

    let required: BTreeSet<&str> = problem
        .get("required")
        .and_then(Value::as_sequence)
        .expect("Problem.required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let answered = serde_json::to_value(errors[0].problem()).unwrap();
    let fields: BTreeSet<&str> = answered
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(required, fields);

    // `type` is `/problems/<code-kebab>`; the pattern the spec gives must admit every one.
    let pattern = problem
        .get("properties")
        .and_then(|p| p.get("type"))
        .and_then(|t| t.get("pattern"))
        .and_then(Value::as_str)
        .expect("Problem.type has a pattern");
    assert_eq!(pattern, "^/problems/[a-z]+(-[a-z]+)*$");
    for e in &errors {
        let kind = e.problem().kind;
        let rest = kind.strip_prefix("/problems/").unwrap();
        assert!(
            !rest.is_empty()
                && rest
                    .split('-')
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())),
            "{kind} does not match {pattern}"
        );
    }
}

/// The fields a request body may leave out: the ones the handler reads with `#[serde(default)]`.
/// Every other field is required.
const OPTIONAL_FIELDS: &[(&str, &str, &[&str])] = &[
    // functions/admin_put_concert: `opensAt` absent keeps the stored opening.
    ("PUT", "/admin/concerts/{concertId}", &["opensAt"]),
    // functions/admin_patch_queue: either or both (an empty object is refused: minProperties).
    (
        "PATCH",
        "/admin/concerts/{concertId}/queue",
        &["activeLimit", "paused"],
    ),
    // functions/reserve_seat: one seat or several, `seatNo` or `seatNos` (oneOf).
    ("POST", "/reservations", &["seatNo", "seatNos"]),
];

/// Every object schema under `schema` (itself, array items, properties), resolved.
fn objects<'a>(root: &'a Value, schema: &'a Value, out: &mut Vec<(String, &'a Value)>, at: &str) {
    let schema = resolve(root, schema);
    if let Some(items) = schema.get("items") {
        objects(root, items, out, &format!("{at}[]"));
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_mapping) {
        out.push((at.to_owned(), schema));
        for (name, p) in props {
            let name = name.as_str().unwrap_or_default();
            objects(root, p, out, &format!("{at}.{name}"));
        }
    }
}

#[test]
fn request_bodies_refuse_unknown_fields_and_require_every_field() {
    let root = spec();
    for op in operations(&root) {
        let Some(body) = op.body.get("requestBody") else {
            continue;
        };
        let body = resolve(&root, body);
        assert_eq!(
            body.get("required").and_then(Value::as_bool),
            Some(true),
            "{}",
            op.name()
        );
        let top = body
            .get("content")
            .and_then(|c| c.get("application/json"))
            .and_then(|m| m.get("schema"))
            .unwrap_or_else(|| panic!("{}: no application/json body", op.name()));
        let optional: BTreeSet<&str> = OPTIONAL_FIELDS
            .iter()
            .filter(|(m, p, _)| *m == op.method && *p == op.path)
            .flat_map(|(_, _, fields)| fields.iter().copied())
            .collect();
        let mut found = Vec::new();
        objects(&root, top, &mut found, "body");
        assert!(
            !found.is_empty(),
            "{}: the body is not an object",
            op.name()
        );
        // The handlers parse with `deny_unknown_fields` at every level.
        for (at, schema) in &found {
            assert_eq!(
                schema.get("additionalProperties").and_then(Value::as_bool),
                Some(false),
                "{} {at}: unknown fields are refused",
                op.name()
            );
            let props = properties(&root, schema);
            let req = required(&root, schema);
            let left_out: BTreeSet<String> = props.difference(&req).cloned().collect();
            let allowed: BTreeSet<String> = if at == "body" {
                optional.iter().map(|s| (*s).to_owned()).collect()
            } else {
                BTreeSet::new()
            };
            assert_eq!(left_out, allowed, "{} {at}: optional fields", op.name());
        }
        if optional.len() > 1 && optional.len() == properties(&root, top).len() {
            assert_eq!(
                resolve(&root, top)
                    .get("minProperties")
                    .and_then(Value::as_u64),
                Some(1),
                "{}: a body of optional fields only must set one",
                op.name()
            );
        }
    }
}

#[test]
fn the_catalog_limits_are_the_codes() {
    let root = spec();
    let put = schema(&root, "PutConcertRequest");
    assert_eq!(
        number(&root, property(&root, put, "dates"), "maxItems"),
        MAX_DATES as u64
    );
    let date = schema(&root, "DateCatalog");
    let sections = property(&root, date, "sections");
    assert_eq!(number(&root, sections, "maxItems"), MAX_SECTIONS as u64);
    assert_eq!(number(&root, sections, "minItems"), 1);
    let seat = schema(&root, "CatalogSeatNo");
    assert_eq!(number(&root, seat, "maximum"), u64::from(MAX_SEATS));
    assert_eq!(number(&root, seat, "minimum"), 1);
    let price = schema(&root, "Price");
    assert_eq!(number(&root, price, "maximum"), 10_000_000);
    assert_eq!(number(&root, price, "minimum"), 1);
    let name = schema(&root, "CatalogName");
    assert_eq!(number(&root, name, "maxLength"), 100);
    assert!(Name::parse(&"n".repeat(100)).is_ok() && Name::parse(&"n".repeat(101)).is_err());
    let controls = schema(&root, "QueueControlsRequest");
    let limit = property(&root, controls, "activeLimit");
    assert_eq!(
        (
            number(&root, limit, "minimum"),
            number(&root, limit, "maximum")
        ),
        (1, 100_000)
    );
    // The body limits, as the top of the document states them.
    let text = root
        .get("info")
        .and_then(|i| i.get("description"))
        .and_then(Value::as_str)
        .unwrap();
    for bytes in [
        shared::http::MAX_BODY_BYTES,
        shared::http::MAX_ADMIN_BODY_BYTES,
    ] {
        let spelled = format!("{},{:03} bytes", bytes / 1000, bytes % 1000);
        assert!(
            text.contains(&spelled),
            "info.description does not give {spelled}"
        );
    }
}

/// A stored concert of one date with two sections, as the store reads it.
fn stored_concert() -> StoredConcert {
    let id = ConcertId::parse("gala").unwrap();
    let seat = |n| SeatNo::new(n).unwrap();
    let section = |name, from, to, price| Section {
        name: Name::parse(name).unwrap(),
        from_seat: seat(from),
        to_seat: seat(to),
        price: Won::new(price),
    };
    let sections = Sections::parse(vec![
        section("Floor", 1, 10, 150_000),
        section("Balcony", 11, 20, 70_000),
    ])
    .unwrap();
    let date = ConcertDate::parse("2026-12-24").unwrap();
    let mut concert = ConcertItem::new(&id, Name::parse("Winter Gala").unwrap(), Some(Utc::now()));
    concert.revision = 1;
    StoredConcert {
        concert,
        dates: vec![DateItem::new(&id, date, sections, 1)],
    }
}

fn figures() -> QueueFigures {
    QueueFigures {
        line: Some(LineFigures {
            waiting: 3,
            active: 2,
            admitted_last_minute: 4,
        }),
        active_limit: 100,
        paused: false,
        opens_at: None,
    }
}

#[test]
fn the_answers_have_exactly_the_fields_the_views_write() {
    let root = spec();
    let all_required = |name: &str, s: &Value, answered: &serde_json::Value| {
        assert_eq!(keys(answered), properties(&root, s), "{name}: fields");
        assert_eq!(keys(answered), required(&root, s), "{name}: always present");
    };

    // PUT: the concert as stored.
    let stored = serde_json::to_value(AdminConcertView::stored(&stored_concert())).unwrap();
    let concert = schema(&root, "AdminConcert");
    all_required("AdminConcert", concert, &stored);
    let date_schema = property(&root, concert, "dates").get("items").unwrap();
    all_required("AdminDate", date_schema, &stored["dates"][0]);
    let section = schema(&root, "Section");
    all_required("Section", section, &stored["dates"][0]["sections"][0]);

    // GET: with the line and the counts.
    let report = ConcertReport {
        stored: stored_concert(),
        queue: figures(),
        counts: vec![Counts {
            seats: 20,
            available: 17,
            held: 2,
            sold: 1,
            first_expiry: None,
        }],
    };
    let report = serde_json::to_value(AdminConcertView::report(&report)).unwrap();
    let report_schema = schema(&root, "AdminConcertReport");
    all_required("AdminConcertReport", report_schema, &report);
    let dated = property(&root, report_schema, "dates")
        .get("items")
        .unwrap();
    all_required("AdminConcertReport.dates[]", dated, &report["dates"][0]);
    let queue = schema(&root, "QueueFigures");
    all_required("AdminConcertReport.queue", queue, &report["queue"]);

    // PATCH: the queue object alone.
    let patched = serde_json::to_value(QueueView::from(&figures())).unwrap();
    all_required("QueueFigures", queue, &patched);

    // A queue token's state, in the pre-queue (every field present, some null).
    let status = TokenStatus {
        token: QueueToken::parse("gala.abc.def").unwrap(),
        user_id: UserId::parse("u1").unwrap(),
        concert_id: ConcertId::parse("gala").unwrap(),
        standing: Standing::PreQueue { line: 1 },
        poll_after_seconds: Some(2),
        opens_at: Some(Utc::now()),
    };
    let token = serde_json::to_value(TokenView::from(&status)).unwrap();
    all_required("TokenStatus", schema(&root, "TokenStatus"), &token);

    // The public seat map: each seat with its section.
    let seats = [Seat {
        seat_no: SeatNo::new(1).unwrap(),
        section: Name::parse("Floor").unwrap(),
        price: Won::new(150_000),
        status: SeatState::Available,
    }];
    let map = SeatsView::new(
        ConcertId::parse("gala").unwrap(),
        ConcertDate::parse("2026-12-24").unwrap(),
        &seats,
    );
    let map = serde_json::to_value(map).unwrap();
    let seat_map = schema(&root, "SeatMap");
    all_required("SeatMap", seat_map, &map);
    let seat = property(&root, seat_map, "seats").get("items").unwrap();
    all_required("SeatMap.seats[]", seat, &map["seats"][0]);

    // A buyer's list, a reservation's tickets, the door's answer and the ticket keys.
    let keys = TicketKeys::random();
    let reservation = Reservation {
        reservation_id: ReservationId::generate(),
        user_id: UserId::parse("u1").unwrap(),
        concert_id: ConcertId::parse("gala").unwrap(),
        date: ConcertDate::parse("2026-12-24").unwrap(),
        seat_nos: vec![SeatNo::new(7).unwrap(), SeatNo::new(8).unwrap()],
        price: Won::new(100_000),
        status: ReservationStatus::Confirmed,
        expires_at: Utc::now(),
    };
    let page = Page {
        reservations: vec![reservation.clone()],
        next: None,
    };
    let list = serde_json::to_value(ReservationListView::new(
        &reservation.user_id,
        &page,
        Some("cursor".into()),
    ))
    .unwrap();
    all_required("ReservationList", schema(&root, "ReservationList"), &list);
    let ticket = Ticket {
        id: TicketId {
            reservation: reservation.reservation_id,
            seat: SeatNo::new(7).unwrap(),
        },
        concert: reservation.concert_id.clone(),
        date: reservation.date,
    };
    let issued = IssuedTicket {
        code: keys.sign(&ticket),
        ticket: ticket.clone(),
        section: Name::parse("Floor").unwrap(),
        checked_in_at: None,
    };
    let tickets =
        serde_json::to_value(TicketsView::new(&reservation.reservation_id, &[issued])).unwrap();
    let tickets_schema = schema(&root, "Tickets");
    all_required("Tickets", tickets_schema, &tickets);
    let one = property(&root, tickets_schema, "tickets")
        .get("items")
        .unwrap();
    all_required("Tickets.tickets[]", one, &tickets["tickets"][0]);
    let checked_in = serde_json::to_value(CheckInView::from(&CheckedIn {
        ticket,
        section: Name::parse("Floor").unwrap(),
        checked_in_at: Utc::now(),
    }))
    .unwrap();
    all_required("CheckIn", schema(&root, "CheckIn"), &checked_in);
    let jwks =
        serde_json::to_value(JwksView::new(&keys.published(ConcertDate::today_utc()))).unwrap();
    let jwks_schema = schema(&root, "TicketKeys");
    all_required("TicketKeys", jwks_schema, &jwks);
    let jwk = property(&root, jwks_schema, "keys").get("items").unwrap();
    all_required("TicketKeys.keys[]", jwk, &jwks["keys"][0]);
}

/// One request the operator handlers refuse before any I/O, and how.
struct Refused {
    method: &'static str,
    path: &'static str,
    concert: &'static str,
    auth: Option<String>,
    body: Option<String>,
    status: u16,
    code: &'static str,
    /// The field `detail` names; empty for a 401.
    field: &'static str,
}

/// The operator's token of the in-process checks.
const ADMIN_TOKEN: &str = "openapi-test-operator-token-0000000000";

/// A state whose stores are never reached: every request below is refused before any I/O.
async fn state_without_stores() -> AppState {
    let settings = Settings::from_lookup(|k| match k {
        "ADMIN_TOKEN" => Some(ADMIN_TOKEN.to_owned()),
        "REDIS_URL" => Some("redis://127.0.0.1:9".to_owned()),
        "STORE_TIMEOUT_MS" => Some("100".to_owned()),
        _ => None,
    })
    .expect("valid settings");
    AppState::new(settings).await.expect("the state builds")
}

fn request(
    method: &str,
    path: &str,
    concert: &str,
    auth: Option<&str>,
    body: Option<String>,
) -> lambda_http::Request {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"));
    if let Some(auth) = auth {
        builder = builder.header("authorization", auth);
    }
    let body = body.map_or(Body::Empty, Body::Text);
    let params: HashMap<String, String> = [("concertId".to_owned(), concert.to_owned())].into();
    builder.body(body).unwrap().with_path_parameters(params)
}

#[tokio::test]
async fn the_operator_routes_refuse_as_the_spec_says() {
    let root = spec();
    let state = state_without_stores().await;
    let ops = operations(&root);
    let op = |method: &str, path: &str| {
        ops.iter()
            .find(|o| o.method == method && o.path == path)
            .unwrap_or_else(|| panic!("{method} {path} is not in the spec"))
    };
    let put = "/admin/concerts/{concertId}";
    let patch = "/admin/concerts/{concertId}/queue";
    let padded = |json: &str, bytes: usize| format!("{json}{}", " ".repeat(bytes - json.len()));
    let section = r#"{"name":"A","fromSeat":1,"toSeat":10,"price":1}"#;
    let dates = |n: usize| {
        let list: Vec<String> = (0..n)
            .map(|i| {
                let day = ConcertDate::today_utc().naive() + chrono::Days::new(i as u64);
                format!(
                    r#"{{"date":"{}","sections":[{section}]}}"#,
                    day.format("%Y-%m-%d")
                )
            })
            .collect();
        format!(r#"{{"name":"N","dates":[{}]}}"#, list.join(","))
    };
    // (method, path, concertId, Authorization, body, status, code, the field `detail` names)
    let unauthorized = |method, path, concert, auth: Option<&str>, body: Option<String>| Refused {
        method,
        path,
        concert,
        auth: auth.map(str::to_owned),
        body,
        status: 401,
        code: "ADMIN_UNAUTHORIZED",
        field: "",
    };
    let invalid = |method, path, concert, body: Option<String>, field| Refused {
        method,
        path,
        concert,
        auth: Some(format!("Bearer {ADMIN_TOKEN}")),
        body,
        status: 400,
        code: "VALIDATION_FAILED",
        field,
    };
    let bad_sections = r#"{"name":"N","dates":[{"date":"2026-12-24","sections":[
        {"name":"A","fromSeat":2,"toSeat":10,"price":1}]}]}"#;
    let no_name = r#"{"name":"","dates":[]}"#;
    let door = "/admin/checkins";
    let cases = [
        unauthorized("POST", door, "", None, Some(r#"{"code":"x"}"#.into())),
        invalid("POST", door, "", Some("{}".into()), "code"),
        invalid(
            "POST",
            door,
            "",
            Some(r#"{"code":"x","gate":1}"#.into()),
            "gate",
        ),
        // Not a ticket of this stack: refused before any store is asked.
        Refused {
            method: "POST",
            path: door,
            concert: "",
            auth: Some(format!("Bearer {ADMIN_TOKEN}")),
            body: Some(r#"{"code":"k.a.b.c.d.e"}"#.into()),
            status: 400,
            code: "TICKET_INVALID",
            field: "",
        },
        unauthorized("PUT", put, "gala", None, Some(dates(1))),
        unauthorized("GET", put, "gala", None, None),
        unauthorized("PATCH", patch, "gala", None, Some("{}".into())),
        unauthorized("GET", put, "gala", Some("Bearer x"), None),
        unauthorized("GET", put, "gala", Some(ADMIN_TOKEN), None),
        // The credentials come before the input.
        unauthorized("PUT", put, "no such id", None, Some("[]".into())),
        unauthorized("PATCH", patch, "no such id", Some("Basic x"), None),
        invalid("GET", put, "no such id", None, "concertId"),
        invalid("PUT", put, "gala", Some("{}".into()), "name"),
        invalid("PUT", put, "gala", Some(dates(MAX_DATES + 1)), "dates"),
        invalid(
            "PUT",
            put,
            "gala",
            Some(bad_sections.into()),
            "dates[0].sections",
        ),
        // PUT takes up to 512 KiB: a body of 20 KiB is read, and refused for its name.
        invalid("PUT", put, "gala", Some(padded(no_name, 20 * 1024)), "name"),
        invalid(
            "PUT",
            put,
            "gala",
            Some(padded(no_name, shared::http::MAX_ADMIN_BODY_BYTES + 1)),
            "body",
        ),
        invalid("PATCH", patch, "gala", Some("{}".into()), "body"),
        invalid(
            "PATCH",
            patch,
            "gala",
            Some(r#"{"activeLimit":0}"#.into()),
            "activeLimit",
        ),
        invalid(
            "PATCH",
            patch,
            "gala",
            Some(r#"{"activeLimit":null}"#.into()),
            "activeLimit",
        ),
        invalid(
            "PATCH",
            patch,
            "gala",
            Some(r#"{"paused":null}"#.into()),
            "paused",
        ),
        // PATCH takes 16 KiB, like the buyers' routes.
        invalid(
            "PATCH",
            patch,
            "gala",
            Some(padded("{}", shared::http::MAX_BODY_BYTES + 1)),
            "body",
        ),
    ];
    for case in cases {
        let Refused {
            method,
            path,
            concert,
            auth,
            body,
            status,
            code,
            field,
        } = case;
        // As the router hands it over: the path percent-encoded, the parameter decoded.
        let concrete = path.replace("{concertId}", &concert.replace(' ', "%20"));
        let req = request(method, &concrete, concert, auth.as_deref(), body);
        let res = match (method, path) {
            ("POST", _) => admin_check_in::handler(&state, req).await,
            ("PUT", _) => admin_put_concert::handler(&state, req).await,
            ("GET", _) => admin_get_concert::handler(&state, req).await,
            _ => admin_patch_queue::handler(&state, req).await,
        }
        .expect("the handler answers");
        let name = format!("{method} {path} ({concert}, {auth:?})");
        assert_eq!(res.status().as_u16(), status, "{name}: {:?}", res.body());
        let answered: serde_json::Value = match res.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(answered["code"], code, "{name}: {answered}");
        if !field.is_empty() {
            let detail = answered["detail"].as_str().unwrap();
            assert!(
                detail.starts_with(&format!("{field}: ")),
                "{name}: {detail}"
            );
        }
        // Declared by the spec for the operation, with that code.
        let spec_op = op(method, path);
        let declared = response(&root, spec_op, status)
            .unwrap_or_else(|| panic!("{name}: {status} is not declared"));
        let schema = declared
            .get("content")
            .and_then(|c| c.get(PROBLEM_JSON))
            .and_then(|m| m.get("schema"))
            .unwrap();
        let codes = problem_codes(&root, schema).unwrap();
        assert!(
            codes.contains(code),
            "{name}: {code} is not declared under {status}"
        );
    }
}
