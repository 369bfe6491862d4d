//! Who may call what: API keys with roles, checked on every request, deny by default.
//!
//! A client sends its key as `Authorization: Bearer gkb_…` (what Dify sends) or as
//! `X-Api-Key: gkb_…`. Keys live in the data directory ([`crate::keys`]); a running server
//! follows changes to the file within about a second.
//!
//! | role            | may call                                                                      |
//! |-----------------|-------------------------------------------------------------------------------|
//! | `agent`, `bot`  | search, ticket matching, retrieval (`/v1/retrieve`, Dify `/retrieval`), devices, warranties |
//! | `manager`       | the above, the analytics (`/v1/analytics/...`) and customer tag proposals (`/v1/customers/...`: confirm or reject) within the key's organisation |
//! | `editor`        | the above, SPARQL, stale items, and the write routes under `/v1/items` within the key's organisation |
//! | `reviewer`      | the above, approve / reject / retire / restore within the key's organisation, `/v1/audit` |
//! | `admin`         | everything, including `/metrics`, `/v1/stats` and any route not listed in [`required_role`] |
//!
//! Agents and bots also read `GET /v1/items/{id}` and `/v1/me`, and are served published items only
//! on every route: a `status` filter asking for others is refused.
//!
//! `/healthz`, `/readyz`, `/openapi.json` and the web console's pages and files
//! ([`crate::console::is_console_route`]: the page is public, its API calls carry the key) are
//! open. A missing or invalid key answers 401
//! `unauthorized`; a valid key whose role is too small answers 403 `forbidden`.
//!
//! When the data directory has no key at all, the API is open only if the server was told so
//! ([`AppState::with_keys`] with `open_without_keys`, which `gridkb serve` sets for a loopback
//! address only). An `AppState` built with [`AppState::new`] alone has no key store and is open:
//! that is for tests and embedding, never for `gridkb serve`.
//!
//! ## Routes that check for themselves: Dify `POST /retrieval`
//!
//! Dify expects its own error shape (`{error_code, error_msg}`), so the middleware lets
//! `/retrieval` through untouched and the handler must call, before anything else:
//!
//! ```ignore
//! let principal = server::auth::check(&state, &headers, Role::Bot)?; // Result<Principal, AuthFailure>
//! ```
//!
//! and on failure answer with [`AuthFailure::status`] and [`AuthFailure::dify_code`]
//! (1001: no or malformed `Authorization` header; 1002: unknown, wrong or revoked key, or a role
//! too small) and [`AuthFailure::message`]. `check` never panics and reads no body.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::keys::KeyStore;
use crate::{ApiError, AppState, ErrorCode};

/// What a key may do. `agent` (a service-centre agent's desk) and `bot` (a chatbot backend such
/// as Dify) are readers with the same rights and see published items only; `manager` (a service
/// manager) adds the analytics of the request log within the key's organisation; `editor` adds the
/// graph and editing within the key's organisation; `reviewer` adds approving, rejecting,
/// retiring and restoring there; `admin` all, everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Bot,
    Manager,
    Editor,
    Reviewer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [Role::Agent, Role::Bot, Role::Manager, Role::Editor, Role::Reviewer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Bot => "bot",
            Role::Manager => "manager",
            Role::Editor => "editor",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }

    fn level(self) -> u8 {
        match self {
            Role::Agent | Role::Bot => 1,
            Role::Manager => 2,
            Role::Editor => 3,
            Role::Reviewer => 4,
            Role::Admin => 5,
        }
    }

    /// Agents, bots and managers: they are served published items only, whatever they ask for.
    pub fn is_reader(self) -> bool {
        self.level() <= Role::Manager.level()
    }

    /// True when this role may call a route that requires `required`.
    pub fn allows(self, required: Role) -> bool {
        self.level() >= required.level()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`; use agent, bot, manager, editor, reviewer or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownRole(text.to_string()))
    }
}

/// The caller of a request that passed the check; put in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's public id; `None` when the server runs without keys (loopback development).
    pub key_id: Option<String>,
    pub role: Role,
    /// The organisation the key belongs to (`gridkb keys create --org`).
    pub org: Option<String>,
    /// The key's note, or its id: how the audit trail names the caller.
    pub name: String,
}

impl Principal {
    /// The caller of a server that runs without keys (loopback development): an admin.
    pub fn open() -> Principal {
        Principal { key_id: None, role: Role::Admin, org: None, name: "local".to_string() }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` nor `X-Api-Key` header.
    Missing,
    /// A header that is not `Bearer <key>` (or not visible ASCII).
    Malformed,
    /// An unknown, wrong or revoked key.
    InvalidKey,
    /// A valid key whose role is too small.
    Forbidden { role: Role, required: Role },
    /// The key file cannot be read or is corrupt: no key is accepted until it is fixed.
    Unavailable,
}

impl AuthFailure {
    /// The code of Dify's External Knowledge API: 1001 invalid header format, 1002 authorization
    /// failed.
    pub fn dify_code(&self) -> u32 {
        match self {
            AuthFailure::Missing | AuthFailure::Malformed => 1001,
            AuthFailure::InvalidKey | AuthFailure::Forbidden { .. } | AuthFailure::Unavailable => 1002,
        }
    }

    /// 401, 403, or 500 when the key file is broken.
    pub fn status(&self) -> StatusCode {
        self.code().status()
    }

    /// The code in the API's error table.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthFailure::Missing | AuthFailure::Malformed | AuthFailure::InvalidKey => ErrorCode::Unauthorized,
            AuthFailure::Forbidden { .. } => ErrorCode::Forbidden,
            AuthFailure::Unavailable => ErrorCode::Internal,
        }
    }

    /// A message for the caller; never contains the key.
    pub fn message(&self) -> String {
        match self {
            AuthFailure::Missing => {
                "this route needs an API key: send `Authorization: Bearer <key>` (or `X-Api-Key: <key>`)".to_string()
            }
            AuthFailure::Malformed => "invalid Authorization header format; expected `Bearer <key>`".to_string(),
            AuthFailure::InvalidKey => "authorization failed: the API key is unknown, wrong or revoked".to_string(),
            AuthFailure::Forbidden { role, required } => {
                format!("a key with role `{role}` may not call this route; it needs `{required}` or higher")
            }
            AuthFailure::Unavailable => "the API key file cannot be read; the server log has the details".to_string(),
        }
    }
}

impl From<AuthFailure> for ApiError {
    fn from(failure: AuthFailure) -> ApiError {
        ApiError::new(failure.code(), failure.message())
    }
}

/// The key store of a server, and whether it is open while the store holds no key.
#[derive(Debug)]
pub(crate) struct Auth {
    store: KeyStore,
    open_without_keys: bool,
}

impl AppState {
    /// Checks every protected route against `store`. While the store holds no key at all, the
    /// API is open when `open_without_keys` (give `true` only for a loopback address), else every
    /// protected route is refused. Without this call a state has no key store and is open.
    /// The key store is set once; a second call leaves the first in place.
    pub fn with_keys(self, store: KeyStore, open_without_keys: bool) -> AppState {
        if self.inner.auth.set(Auth { store, open_without_keys }).is_err() {
            tracing::warn!("the key store was already set; keeping the first");
        }
        self
    }
}

/// The slot in the state; empty is "no key store" (open).
pub(crate) type AuthSlot = OnceLock<Auth>;

/// The principal of a request that may call a route requiring `required`, or why not.
///
/// This is the one check every protected route goes through (the middleware calls it; routes
/// that answer in another error shape, like Dify's `/retrieval`, call it themselves).
pub fn check(state: &AppState, headers: &HeaderMap, required: Role) -> Result<Principal, AuthFailure> {
    let Some(auth) = state.inner.auth.get() else {
        return Ok(Principal::open());
    };
    let keys = auth.store.current().map_err(|_| AuthFailure::Unavailable)?;
    if keys.is_empty() && auth.open_without_keys {
        return Ok(Principal::open());
    }
    let key = presented_key(headers)?;
    let found = keys.verify(key, state.limits()).ok_or(AuthFailure::InvalidKey)?;
    if !found.role.allows(required) {
        return Err(AuthFailure::Forbidden { role: found.role, required });
    }
    Ok(Principal {
        key_id: Some(found.id.to_string()),
        role: found.role,
        org: found.org.map(str::to_string),
        name: found.note.unwrap_or(found.id).to_string(),
    })
}

/// Whether the API is open now (no key store, or no key and told to be open without one).
fn is_open(state: &AppState) -> bool {
    match state.inner.auth.get() {
        None => true,
        Some(auth) => auth.open_without_keys && auth.store.current().is_ok_and(|keys| keys.is_empty()),
    }
}

/// Whether a `Host` header names this machine's loopback: `localhost` or an address in
/// 127.0.0.0/8 or `::1`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [::1] or [::1]:port
        match rest.split_once(']') {
            Some((address, port)) if port.is_empty() || port.strip_prefix(':').is_some_and(is_port) => address,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The middleware in front of everything: while the API is open (no keys), a request whose
/// `Host` is not a loopback name is refused with 421 `host_not_allowed`. A page on another site
/// could otherwise point a name it controls at 127.0.0.1 (DNS rebinding) and have the browser of
/// someone at this machine read and write the open API. A request without `Host` (HTTP/1.0, not
/// a browser) passes.
pub(crate) async fn loopback_host_when_open(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST);
    let allowed = host.is_none_or(|h| h.to_str().is_ok_and(is_loopback_host));
    if !allowed && is_open(&state) {
        return ApiError::new(
            ErrorCode::HostNotAllowed,
            "this server has no API keys, so it answers only requests addressed to localhost or a loopback address; \
             create keys (gridkb keys add) to serve other host names",
        )
        .into_response();
    }
    next.run(request).await
}

/// The key of `Authorization: Bearer <key>`, else of `X-Api-Key: <key>`.
fn presented_key(headers: &HeaderMap) -> Result<&str, AuthFailure> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| AuthFailure::Malformed)?.trim();
        let (scheme, key) = value.split_once(' ').ok_or(AuthFailure::Malformed)?;
        let key = key.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() || key.contains(' ') {
            return Err(AuthFailure::Malformed);
        }
        return Ok(key);
    }
    if let Some(value) = headers.get("x-api-key") {
        let key = value.to_str().map_err(|_| AuthFailure::Malformed)?.trim();
        if key.is_empty() {
            return Err(AuthFailure::Malformed);
        }
        return Ok(key);
    }
    Err(AuthFailure::Missing)
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Open,
    /// The handler calls [`check`] itself (to answer in its own error shape).
    HandlerChecks,
    /// A key of this role or higher.
    Role(Role),
}

/// The table from route pattern (axum's matched path) to what it needs. A route not named here
/// needs `admin` until it is listed: deny by default. A request that matches no route needs any
/// valid key before it is told 404.
pub fn required_role(route: Option<&str>) -> Access {
    let Some(route) = route else {
        return Access::Role(Role::Bot);
    };
    match route {
        "/healthz" | "/readyz" | "/openapi.json" => Access::Open,
        r if crate::console::is_console_route(r) => Access::Open,
        "/retrieval" => Access::HandlerChecks,
        "/v1/search" | "/v1/retrieve" | "/v1/devices/{serial}" | "/v1/warranties/expiring" => Access::Role(Role::Bot),
        "/v1/tickets/match" => Access::Role(Role::Bot),
        // Readers get published items only; the handler refuses them every write.
        "/v1/me" | "/v1/items/{id}" => Access::Role(Role::Bot),
        "/v1/sparql" => Access::Role(Role::Editor),
        r if r == "/v1/items" || r.starts_with("/v1/items/") => Access::Role(Role::Editor),
        "/v1/audit" => Access::Role(Role::Reviewer),
        "/v1/feedback" => Access::Role(Role::Bot),
        r if r.starts_with("/v1/analytics/") => Access::Role(Role::Manager),
        // Customer portraits: managers and editors confirm or reject proposed tags.
        "/v1/customers/tag-proposals" | "/v1/customers/{id}/tags" => Access::Role(Role::Manager),
        "/v1/tasks/knowledge" | "/v1/tasks/knowledge/{id}" => Access::Role(Role::Editor),
        "/v1/import" | "/v1/tasks/{id}" => Access::Role(Role::Editor),
        r if r == "/v1/entities" || r.starts_with("/v1/entities/") => Access::Role(Role::Editor),
        "/metrics" | "/v1/stats" | "/v1/backup" | "/v1/admin/tune" | "/v1/admin/categories" => {
            Access::Role(Role::Admin)
        }
        _ => Access::Role(Role::Admin),
    }
}

/// The middleware: checks the key of every request against [`required_role`] and puts the
/// [`Principal`] into the request's extensions.
pub(crate) async fn require(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str());
    match required_role(route) {
        Access::Open | Access::HandlerChecks => next.run(request).await,
        Access::Role(required) => match check(&state, request.headers(), required) {
            Ok(principal) => {
                request.extensions_mut().insert(principal);
                next.run(request).await
            }
            Err(failure) => {
                if failure == AuthFailure::Unavailable {
                    tracing::error!("refusing a request: the API key file cannot be read");
                }
                ApiError::from(failure).into_response()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_told_apart_from_rebound_names() {
        for host in
            ["localhost", "LOCALHOST:7700", "127.0.0.1", "127.0.0.1:7700", "127.1.2.3:80", "[::1]", "[::1]:7700"]
        {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:7700",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "10.0.0.1:7700",
            "[::2]:7700",
            "[::1]x",
            "127.0.0.1:",
            "127.0.0.1:99999999",
            "",
            "0.0.0.0",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn roles_parse_order_and_print() {
        assert_eq!("Editor".parse::<Role>(), Ok(Role::Editor));
        assert_eq!(
            "superuser".parse::<Role>().map_err(|e| e.to_string()),
            Err("unknown role `superuser`; use agent, bot, manager, editor, reviewer or admin".to_string())
        );
        assert!(Role::Agent.allows(Role::Bot) && Role::Bot.allows(Role::Agent));
        assert!(!Role::Agent.allows(Role::Editor) && Role::Admin.allows(Role::Editor));
        assert!(!Role::Editor.allows(Role::Admin));
        assert!(Role::Reviewer.allows(Role::Editor) && !Role::Editor.allows(Role::Reviewer));
        assert!(Role::Agent.is_reader() && Role::Bot.is_reader() && !Role::Editor.is_reader());
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
            assert_eq!(serde_json::to_value(role).ok(), Some(serde_json::Value::String(role.to_string())));
        }
    }

    #[test]
    fn the_key_comes_from_bearer_or_x_api_key() {
        assert_eq!(presented_key(&headers(&[("authorization", "Bearer gkb_a")])), Ok("gkb_a"));
        assert_eq!(presented_key(&headers(&[("authorization", "bearer   gkb_a ")])), Ok("gkb_a"));
        assert_eq!(presented_key(&headers(&[("x-api-key", "gkb_b")])), Ok("gkb_b"));
        assert_eq!(presented_key(&headers(&[])), Err(AuthFailure::Missing));
        for bad in ["gkb_a", "Basic dXNlcjpw", "Bearer", "Bearer ", "Bearer a b"] {
            assert_eq!(presented_key(&headers(&[("authorization", bad)])), Err(AuthFailure::Malformed), "{bad}");
        }
        assert_eq!(AuthFailure::Missing.dify_code(), 1001);
        assert_eq!(AuthFailure::InvalidKey.dify_code(), 1002);
    }

    #[test]
    fn every_route_has_a_rule_and_unknown_ones_need_admin() {
        assert_eq!(required_role(Some("/healthz")), Access::Open);
        assert_eq!(required_role(Some("/")), Access::Open);
        assert_eq!(required_role(Some("/assets/{*file}")), Access::Open);
        assert_eq!(required_role(Some("/favicon.ico")), Access::Role(Role::Admin));
        assert_eq!(required_role(Some("/retrieval")), Access::HandlerChecks);
        assert_eq!(required_role(Some("/v1/search")), Access::Role(Role::Bot));
        assert_eq!(required_role(Some("/v1/sparql")), Access::Role(Role::Editor));
        assert_eq!(required_role(Some("/v1/items/stale")), Access::Role(Role::Editor));
        assert_eq!(required_role(Some("/v1/itemsx")), Access::Role(Role::Admin));
        assert_eq!(required_role(Some("/metrics")), Access::Role(Role::Admin));
        assert_eq!(required_role(Some("/v1/stats")), Access::Role(Role::Admin));
        assert_eq!(required_role(Some("/v1/something-new")), Access::Role(Role::Admin));
        assert_eq!(required_role(None), Access::Role(Role::Bot));
    }
}
