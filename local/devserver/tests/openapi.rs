//! openapi.yaml describes the API that exists: the same routes as template.yaml, and for every
//! operation the refusals the code can give, as problem+json with the codes `ApiError` uses.
//! Needs no store.

use std::collections::BTreeSet;

use devserver::routes::template_routes;
use serde_yaml::Value;
use shared::error::{ApiError, StoreError};

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

/// The effective security of an operation: its own, or the document's.
fn is_bearer_secured(root: &Value, op: &Operation) -> bool {
    let security = op
        .body
        .get("security")
        .or_else(|| root.get("security"))
        .and_then(Value::as_sequence);
    security.is_some_and(|reqs| reqs.iter().any(|r| r.get("bearerAuth").is_some()))
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
        ApiError::SeatLimitReached("x".into()),
        ApiError::ReservationNotPaid("x".into()),
        ApiError::RefundWindowClosed("x".into()),
        ApiError::IdempotencyKeyReused,
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
        let mut required = vec![400, 500, 503];
        if is_bearer_secured(&root, &op) {
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
                let all: BTreeSet<String> = ["TOKEN_MISSING", "TOKEN_INVALID", "TOKEN_EXPIRED"]
                    .map(str::to_owned)
                    .into();
                assert_eq!(codes, all, "{name}: every token refusal is a 401");
            }
            if status == 503 {
                let retry_after = resp.get("headers").and_then(|h| h.get("Retry-After"));
                assert!(retry_after.is_some(), "{name}: 503 without Retry-After");
            }
        }
    }
}

#[test]
fn only_issuing_a_token_goes_without_one() {
    let root = spec();
    for op in operations(&root) {
        let open = op.method == "POST" && op.path == "/queue/tokens";
        assert_eq!(
            is_bearer_secured(&root, &op),
            !open,
            "{}: bearerAuth {}",
            op.name(),
            if open { "is not needed" } else { "is needed" }
        );
    }
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
        let schema = resolve(
            &root,
            body.get("content")
                .and_then(|c| c.get("application/json"))
                .and_then(|m| m.get("schema"))
                .unwrap_or_else(|| panic!("{}: no application/json body", op.name())),
        );
        assert_eq!(
            schema.get("additionalProperties").and_then(Value::as_bool),
            Some(false),
            "{}",
            op.name()
        );
        let properties: BTreeSet<&str> = schema
            .get("properties")
            .and_then(Value::as_mapping)
            .unwrap()
            .keys()
            .filter_map(Value::as_str)
            .collect();
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_sequence)
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        // A hold names its seats one way or the other: `seatNo` or `seatNos` (oneOf).
        let either: BTreeSet<&str> = properties.difference(&required).copied().collect();
        if op.name().contains("/reservations") {
            assert_eq!(
                either,
                BTreeSet::from(["seatNo", "seatNos"]),
                "{}",
                op.name()
            );
        } else {
            assert_eq!(properties, required, "{}", op.name());
        }
    }
}
