//! The route table, read from template.yaml itself: the local server routes by exactly the
//! routes the SAM template declares, to the same handler functions the Lambda binaries run.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use lambda_http::Request;
use serde_yaml::Value;
use shared::http::HttpResponse;
use shared::AppState;

/// The SAM template, compiled in so the server and the template cannot drift apart.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<HttpResponse, lambda_http::Error>> + Send + 'a>>;
pub type Handler = for<'a> fn(&'a AppState, Request) -> HandlerFuture<'a>;

macro_rules! http_functions {
    ($($name:ident),* $(,)?) => {
        /// Every HTTP function crate the local server can call, by its binary name.
        pub const HTTP_FUNCTIONS: &[&str] = &[$(stringify!($name)),*];

        /// The handler a template function's binary name stands for.
        pub fn handler_for(binary: &str) -> Option<Handler> {
            match binary {
                $(stringify!($name) => Some(|state, req| Box::pin(
                    shared::metrics::in_function(stringify!($name), $name::handler(state, req))
                )),)*
                _ => None,
            }
        }
    };
}

http_functions!(
    issue_token,
    queue_status,
    list_dates,
    list_seats,
    reserve_seat,
    get_reservation,
    release_reservation,
    refund_reservation,
    charge_balance,
    get_balance,
    pay,
    admin_put_concert,
    admin_get_concert,
    admin_patch_queue,
    admin_check_in,
    list_reservations,
    get_tickets,
    get_ticket_keys,
);

/// One HttpApi route of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    /// API Gateway syntax: `/concerts/{concertId}/dates`.
    pub path: String,
    /// The function's binary (`Metadata.BuildProperties.Binary`).
    pub function: String,
    pub auth: RouteAuth,
}

/// Who API Gateway lets through to a route: its `Auth.Authorizer`, or the API's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAuth {
    /// The JWT authorizer: a signed-in buyer (the local server checks it: `crate::auth`).
    Jwt,
    /// IAM (SigV4): the operator's routes. Locally their functions take `ADMIN_TOKEN` instead.
    Iam,
    /// `Authorizer: NONE`: public.
    Open,
}

/// The logical ID of the template's JWT authorizer (`HttpApi.Properties.Auth.Authorizers`).
pub const JWT_AUTHORIZER: &str = "BuyerJwt";

/// The HttpApi's `Auth.DefaultAuthorizer`, if any.
fn default_authorizer(doc: &Value) -> Option<String> {
    doc.get("Resources")?
        .get("HttpApi")?
        .get("Properties")?
        .get("Auth")?
        .get("DefaultAuthorizer")?
        .as_str()
        .map(str::to_owned)
}

fn route_auth(named: Option<&str>, default: Option<&str>) -> Result<RouteAuth, String> {
    match named.or(default) {
        None | Some("NONE") => Ok(RouteAuth::Open),
        Some("AWS_IAM") => Ok(RouteAuth::Iam),
        Some(JWT_AUTHORIZER) => Ok(RouteAuth::Jwt),
        Some(other) => Err(format!(
            "a route names authorizer {other}, which the local server does not play"
        )),
    }
}

/// What the template says about one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFunction {
    pub logical_id: String,
    pub binary: String,
    pub event_types: Vec<String>,
}

fn parse_template() -> Result<Value, String> {
    serde_yaml::from_str(TEMPLATE).map_err(|e| format!("template.yaml does not parse: {e}"))
}

/// Every `AWS::Serverless::Function` of the template.
pub fn template_functions() -> Result<Vec<TemplateFunction>, String> {
    let doc = parse_template()?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or("template.yaml has no Resources")?;
    let mut out = Vec::new();
    for (id, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let logical_id = id.as_str().unwrap_or_default().to_owned();
        let binary = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{logical_id} has no Metadata.BuildProperties.Binary"))?
            .to_owned();
        let event_types = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping)
            .map(|events| {
                events
                    .values()
                    .filter_map(|e| e.get("Type").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        out.push(TemplateFunction {
            logical_id,
            binary,
            event_types,
        });
    }
    Ok(out)
}

/// Every HttpApi route of the template.
pub fn template_routes() -> Result<Vec<Route>, String> {
    let doc = parse_template()?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or("template.yaml has no Resources")?;
    let default = default_authorizer(&doc);
    let mut routes = Vec::new();
    for function in template_functions()? {
        let events = resources
            .get(function.logical_id.as_str())
            .and_then(|r| r.get("Properties"))
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping);
        for event in events.into_iter().flat_map(|m| m.values()) {
            if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                continue;
            }
            let props = event.get("Properties");
            let field = |name: &str| {
                props
                    .and_then(|p| p.get(name))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{}: HttpApi event without {name}", function.logical_id))
            };
            let named = props
                .and_then(|p| p.get("Auth"))
                .and_then(|a| a.get("Authorizer"))
                .and_then(Value::as_str);
            routes.push(Route {
                method: field("Method")?.to_ascii_uppercase(),
                path: field("Path")?,
                function: function.binary.clone(),
                auth: route_auth(named, default.as_deref())
                    .map_err(|e| format!("{}: {e}", function.logical_id))?,
            });
        }
    }
    Ok(routes)
}

/// A route matched to its handler.
struct Entry {
    method: String,
    segments: Vec<Segment>,
    handler: Handler,
    auth: RouteAuth,
}

enum Segment {
    Literal(String),
    Param(String),
}

pub struct Router {
    entries: Vec<Entry>,
}

/// What the router found for a request.
pub enum Matched {
    Found {
        handler: Handler,
        params: HashMap<String, String>,
        auth: RouteAuth,
    },
    NotFound,
}

impl Router {
    /// The template's routes; every one must have a handler here.
    pub fn from_template() -> Result<Self, String> {
        let mut entries = Vec::new();
        for route in template_routes()? {
            let handler = handler_for(&route.function).ok_or_else(|| {
                format!(
                    "template.yaml routes {} {} to {}, which the local server does not know",
                    route.method, route.path, route.function
                )
            })?;
            let segments = route
                .path
                .trim_matches('/')
                .split('/')
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => Segment::Param(name.to_owned()),
                        None => Segment::Literal(s.to_owned()),
                    },
                )
                .collect();
            entries.push(Entry {
                method: route.method,
                segments,
                handler,
                auth: route.auth,
            });
        }
        Ok(Self { entries })
    }

    pub fn find(&self, method: &str, path: &str) -> Matched {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        for entry in &self.entries {
            if entry.method != method || entry.segments.len() != parts.len() {
                continue;
            }
            let mut params = HashMap::new();
            let fits = entry
                .segments
                .iter()
                .zip(&parts)
                .all(|(seg, part)| match seg {
                    Segment::Literal(lit) => lit == part,
                    Segment::Param(name) => {
                        // API Gateway hands the handler the decoded segment.
                        let decoded = percent_decode(part);
                        let ok = !decoded.is_empty();
                        params.insert(name.clone(), decoded);
                        ok
                    }
                });
            if fits {
                return Matched::Found {
                    handler: entry.handler,
                    params,
                    auth: entry.auth,
                };
            }
        }
        Matched::NotFound
    }
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = raw
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
