//! The web console (`console/`, Vue + Element Plus): its built files, embedded in the binary by
//! `build.rs`, served at `/`.
//!
//! The console's pages are open (the page is public; its API calls carry the key). Only the
//! paths in [`PAGES`] answer the console's `index.html` (the browser-side router takes it from
//! there); any other unknown path keeps the API's JSON 404. Hashed files under `/assets/` are
//! cached for a year; `index.html` is revalidated on every load, so a new build is picked up at
//! once. Every answer carries a Content-Security-Policy that allows scripts, styles and requests
//! from this origin only, and no inline script.
//!
//! When the binary was built without `console/dist`, `/` answers a short page saying how to
//! build the console; the API is unaffected.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::{ApiError, AppState, ErrorCode};

/// One file of the built console.
#[derive(Debug)]
struct EmbeddedFile {
    /// Path under `console/dist`, with `/`.
    path: &'static str,
    body: &'static [u8],
    /// The same, gzip-compressed at build time (by the console's Vite config), when worth it.
    gzip: Option<&'static [u8]>,
}

/// Every file of `console/dist` when the binary was built; empty without a console build.
static FILES: &[EmbeddedFile] = include!(concat!(env!("OUT_DIR"), "/console_files.rs"));

/// The console's pages: each answers `index.html`. Keep in step with `console/src/router.js`.
pub const PAGES: [&str; 6] = ["/", "/signin", "/agent", "/editor", "/editor/{*rest}", "/dashboard"];
/// The console's hashed files (scripts, styles, fonts).
pub const ASSETS: &str = "/assets/{*file}";

/// Self only; no inline script. Element Plus and ECharts set element styles from script (allowed
/// by CSP); fonts and icons may come as `data:` URLs from the stylesheets.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

const INDEX: &str = "index.html";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// What `/` says when the binary holds no console build.
const NOT_BUILT: &str = "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
<title>gridkb</title></head><body>\n<h1>gridkb</h1>\n\
<p>控制台尚未构建。The web console was not built into this binary.</p>\n\
<p>Build it, then rebuild gridkb:</p>\n\
<pre>cd console &amp;&amp; npm ci &amp;&amp; npm run build\ncargo build --release --locked -p gridkb</pre>\n\
<p>The API is served as usual: <a href=\"/openapi.json\">/openapi.json</a>.</p>\n</body></html>\n";

/// True for route patterns of the console (open to anyone, see [`crate::auth::required_role`]).
pub fn is_console_route(route: &str) -> bool {
    route == ASSETS || PAGES.contains(&route)
}

/// Adds the console's routes to the API's router.
pub(crate) fn add_routes(mut router: Router<AppState>) -> Router<AppState> {
    for page in PAGES {
        router = router.route(page, get(page_handler));
    }
    router.route(ASSETS, get(asset_handler))
}

async fn page_handler(headers: HeaderMap) -> Response {
    page(FILES, &headers)
}

async fn asset_handler(Path(file): Path<String>, headers: HeaderMap) -> Response {
    asset(FILES, &format!("assets/{file}"), &headers)
}

fn page(files: &[EmbeddedFile], headers: &HeaderMap) -> Response {
    match files.iter().find(|f| f.path == INDEX) {
        Some(index) => answer(index, headers, "no-cache"),
        None => with_policy(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
                NOT_BUILT,
            )
                .into_response(),
        ),
    }
}

fn asset(files: &[EmbeddedFile], path: &str, headers: &HeaderMap) -> Response {
    match files.iter().find(|f| f.path == path) {
        Some(file) => answer(file, headers, IMMUTABLE),
        None => ApiError::new(ErrorCode::NotFound, "no such console file; the console may have been rebuilt: reload")
            .into_response(),
    }
}

fn answer(file: &EmbeddedFile, request: &HeaderMap, cache: &'static str) -> Response {
    let gzip = file.gzip.filter(|_| accepts_gzip(request));
    let mut response = (StatusCode::OK, gzip.unwrap_or(file.body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(file.path)));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if file.gzip.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzip.is_some() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    with_policy(response)
}

fn with_policy(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `Accept-Encoding` names gzip with a non-zero quality.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let zero = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0)));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero
        },
    )
}

fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept_encoding: Option<&'static str>) -> HeaderMap {
        let mut map = HeaderMap::new();
        if let Some(value) = accept_encoding {
            map.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
        }
        map
    }

    fn header_of(response: &Response, name: header::HeaderName) -> Option<&str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    static BUILT: &[EmbeddedFile] = &[
        EmbeddedFile { path: "index.html", body: b"<!doctype html><div id=app></div>", gzip: None },
        EmbeddedFile { path: "assets/index-3f9a.js", body: b"console.log(1)", gzip: Some(b"\x1f\x8b") },
    ];

    #[test]
    fn without_a_build_the_page_says_how_to_build_the_console() {
        let response = page(&[], &headers(None));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header_of(&response, header::CACHE_CONTROL), Some("no-store"));
        assert_eq!(header_of(&response, header::CONTENT_SECURITY_POLICY), Some(CONTENT_SECURITY_POLICY));
        assert!(NOT_BUILT.contains("npm ci &amp;&amp; npm run build"));
        assert_eq!(asset(&[], "assets/index-3f9a.js", &headers(None)).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn index_is_revalidated_and_hashed_assets_are_immutable_and_gzipped_on_request() {
        let index = page(BUILT, &headers(Some("gzip")));
        assert_eq!(header_of(&index, header::CACHE_CONTROL), Some("no-cache"));
        assert_eq!(header_of(&index, header::CONTENT_TYPE), Some("text/html; charset=utf-8"));
        assert_eq!(header_of(&index, header::CONTENT_ENCODING), None);

        let plain = asset(BUILT, "assets/index-3f9a.js", &headers(None));
        assert_eq!(header_of(&plain, header::CACHE_CONTROL), Some(IMMUTABLE));
        assert_eq!(header_of(&plain, header::CONTENT_ENCODING), None);
        assert_eq!(header_of(&plain, header::VARY), Some("accept-encoding"));
        let packed = asset(BUILT, "assets/index-3f9a.js", &headers(Some("br, gzip;q=0.8")));
        assert_eq!(header_of(&packed, header::CONTENT_ENCODING), Some("gzip"));
        let refused = asset(BUILT, "assets/index-3f9a.js", &headers(Some("gzip;q=0, br")));
        assert_eq!(header_of(&refused, header::CONTENT_ENCODING), None);
        assert_eq!(asset(BUILT, "assets/other.js", &headers(None)).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn console_routes_are_the_pages_and_the_assets_only() {
        assert!(is_console_route("/") && is_console_route("/agent") && is_console_route("/assets/{*file}"));
        assert!(!is_console_route("/v1/search") && !is_console_route("/favicon.ico") && !is_console_route("/v1"));
    }
}
