//! The buyer's page and the operator's page (`web/`, built into `web/dist`), served before the
//! API's routes, as CloudFront serves them from S3 in AWS: `GET /` and `GET /admin` the pages,
//! `/assets/NAME` their scripts and styles, `/config.json` where the API is (here the same
//! origin: `apiBase` ""). Files are read on each request, so a rebuild shows without a restart.
//! With no build there, nothing here answers and the API's 404 stands.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::Bytes;
use http::{header, Method, StatusCode};
use http_body_util::Full;

/// What the pages may load: only this origin (no CDN, no inline script), as in AWS.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `WEB_DIR`, else `web/dist` under the working directory (the checkout's root, where the
/// make targets run), else that of the checkout this was built from.
fn web_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| match std::env::var_os("WEB_DIR") {
        Some(dir) => PathBuf::from(dir),
        None if Path::new("web/dist").is_dir() => PathBuf::from("web/dist"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/dist"),
    })
}

/// The answer for a page, an asset or the config, or None for everything else.
pub fn serve(
    method: &Method,
    path: &str,
    max_seats_per_user: u32,
) -> Option<hyper::Response<Full<Bytes>>> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let dir = web_dir();
    let file = match path {
        "/" | "/index.html" => dir.join("index.html"),
        "/admin" | "/admin/" => dir.join("admin.html"),
        "/config.json" if dir.is_dir() => {
            return Some(respond("config.json", config(max_seats_per_user).into()))
        }
        _ => {
            let name = path.strip_prefix("/assets/")?;
            if !is_plain_name(name) {
                return None;
            }
            dir.join("assets").join(name)
        }
    };
    let body = std::fs::read(&file).ok()?;
    Some(respond(&file.to_string_lossy(), body.into()))
}

/// The page's settings: the API on this origin, and how many seats one hold may take (the
/// server's `MAX_SEATS_PER_USER`).
fn config(max_seats_per_user: u32) -> String {
    format!(r#"{{"apiBase":"","maxSeatsPerUser":{max_seats_per_user}}}"#)
}

/// One file name, no folder and no dot file: `buyer.js`, `style.css`.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn respond(name: &str, body: Bytes) -> hyper::Response<Full<Bytes>> {
    let kind = match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };
    let mut response = hyper::Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, kind)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer");
    if kind.starts_with("text/html") {
        response = response.header(header::CONTENT_SECURITY_POLICY, PAGE_CSP);
    }
    response
        .body(Full::new(body))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_assets() {
        assert!(is_plain_name("buyer.js"));
        assert!(is_plain_name("style-1.css"));
        for bad in ["", ".env", "../Cargo.toml", "a/b.js", "a\\b", "%2e%2e"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }

    #[test]
    fn api_routes_are_not_pages() {
        for path in [
            "/admin/concerts/demo",
            "/queue/status",
            "/assets/",
            "/assets/../x",
        ] {
            assert!(serve(&Method::GET, path, 4).is_none(), "{path}");
        }
        assert!(serve(&Method::POST, "/", 4).is_none());
    }
}
