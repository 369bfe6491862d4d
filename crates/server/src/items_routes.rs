//! The editors' workspace over HTTP: read, list, create, update (with `If-Match`), lifecycle
//! actions, versions, diffs and the audit trail. Agents and bots may read published items only.

use axum::Extension;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use search::editing::{ItemDiff, ItemList, VersionEntry};
use search::{
    DraftText, EditContext, EditOutcome, EditRole, ItemCheck, ItemInput, ItemListFilter, ItemView, Transition,
};
use serde::Deserialize;

use crate::auth::{Principal, Role};
use crate::extract::{JsonBody, QueryPairs};
use crate::{ApiError, AppState, ErrorCode};

/// Entries on one page of a paginated list when `limit` is not given (or `max_page`, when that
/// limit is lower).
pub const DEFAULT_PAGE: usize = 50;

/// What an editor's request acts as, or 403 for a reader.
pub(crate) fn edit_context(principal: &Principal) -> Result<EditContext, ApiError> {
    let role = match principal.role {
        Role::Agent | Role::Bot | Role::Manager => {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "a key with role `{}` may read published items only; editing needs `editor` or higher",
                    principal.role
                ),
            ));
        }
        Role::Editor => EditRole::Editor,
        Role::Reviewer => EditRole::Reviewer,
        Role::Admin => EditRole::Admin,
    };
    Ok(EditContext {
        actor: store::Actor {
            key_id: principal.key_id.clone(),
            name: principal.name.clone(),
            role: principal.role.to_string(),
            org: principal.org.clone(),
        },
        role,
        org: principal.org.clone(),
    })
}

pub(crate) fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) =
        path.map_err(|_| ApiError::new(ErrorCode::InvalidParameter, "the item id in the path is not valid UTF-8"))?;
    if store::record::validate_id("id", &id).is_err() {
        return Err(ApiError::new(ErrorCode::NotFound, "nothing with that id (ids use A-Z a-z 0-9 . _ : -)"));
    }
    Ok(id)
}

pub(crate) fn etag(version: u32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// The version an `If-Match` header names: `"7"`, `W/"7"` or `7`.
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<u32>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse::<u32>().map(Some).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidParameter,
            "If-Match must be the ETag of the item as read (a version number in quotes, such as \"3\")",
        )
    })
}

fn with_etag(status: StatusCode, view: &ItemView, body: impl serde::Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::ETAG, etag(view.version));
    response
}

/// An accepted edit, with the duplicate and conflict warnings of what was saved.
fn edited(status: StatusCode, outcome: EditOutcome, check: ItemCheck) -> Response {
    let body = serde_json::json!({
        "item": outcome.item,
        "audit": outcome.audit,
        "possible_duplicates": check.possible_duplicates,
        "conflicts": check.conflicts,
    });
    with_etag(status, &outcome.item, body)
}

/// Saves through `save`, then checks what was saved against the knowledge base. A check that
/// fails does not undo the save: it is logged and the warnings are left empty.
async fn save_and_check(
    state: &AppState,
    status: StatusCode,
    save: impl FnOnce(&search::Engine) -> Result<EditOutcome, search::EditError> + Send + 'static,
) -> Result<Response, ApiError> {
    let (outcome, check) = blocking(state, move |engine| {
        let outcome = save(engine)?;
        let check = engine.check_item(&DraftText::from(&outcome.item.record)).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the duplicate check after a save failed");
            ItemCheck::default()
        });
        Ok((outcome, check))
    })
    .await?;
    Ok(edited(status, outcome, check))
}

async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&search::Engine) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    state.run_write(work).await
}

/// `offset` and `limit` of a paginated list: `limit` from 1 to `max_page` ([`search::Limits::max_page`]).
pub(crate) fn page(pairs: &[(String, String)], max_page: usize) -> Result<(usize, usize), ApiError> {
    let number = |name: &str, code: ErrorCode, default: usize, max: usize| -> Result<usize, ApiError> {
        match pairs.iter().rev().find(|(n, _)| n == name) {
            None => Ok(default),
            Some((_, v)) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| ApiError::new(code, format!("`{name}` must be a whole number from 0 to {max}"))),
        }
    };
    let limit = number("limit", ErrorCode::InvalidLimit, DEFAULT_PAGE.min(max_page), max_page)?.max(1);
    let offset = number("offset", ErrorCode::InvalidOffset, 0, usize::MAX / 2)?;
    Ok((offset, limit))
}

fn codes<T>(name: &str, value: &str, parse: impl Fn(&str) -> Option<T>, allowed: &str) -> Result<Vec<T>, ApiError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| parse(v).ok_or_else(|| ApiError::new(ErrorCode::InvalidFilter, format!("`{name}` takes {allowed}"))))
        .collect()
}

fn boolean(name: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim() {
        "true" | "1" | "yes" | "" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ApiError::new(ErrorCode::InvalidParameter, format!("`{name}` is true or false"))),
    }
}

/// `YYYY-MM-DD` or a Unix time in milliseconds, as milliseconds.
fn instant_ms(name: &str, value: &str) -> Result<u64, ApiError> {
    let value = value.trim();
    if let Ok(ms) = value.parse::<u64>() {
        return Ok(ms);
    }
    calendar::Date::parse(value.get(..10).unwrap_or(value))
        .ok()
        .and_then(|d| u64::try_from(d.start_unix_ms()).ok())
        .ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidParameter, format!("`{name}` is a date YYYY-MM-DD or Unix milliseconds"))
        })
}

/// `GET /v1/items`: the editors' list.
#[utoipa::path(
    get,
    path = "/v1/items",
    operation_id = "list_items",
    tag = "editing",
    params(
        ("status" = Option<String>, Query, description = "draft, review, published, retired (comma-separated)"),
        ("kind" = Option<String>, Query, description = "Item kinds (comma-separated)"),
        ("owner" = Option<String>, Query, description = "Owning organisation id"),
        ("subunits" = Option<bool>, Query, description = "With `owner`: include every unit below it"),
        ("product" = Option<String>, Query, description = "A linked product id"),
        ("fault" = Option<String>, Query, description = "A linked fault id"),
        ("updated_since" = Option<String>, Query, description = "YYYY-MM-DD or Unix milliseconds"),
        ("overdue" = Option<bool>, Query, description = "Only items past (or not past) their `review_by`"),
        ("q" = Option<String>, Query, description = "Words of the title or id"),
        ("limit" = Option<usize>, Query, description = "Items per page: 1 to the \
            `max_page` limit (500 unless configured); 50, or `max_page` when lower, when absent"),
        ("offset" = Option<usize>, Query, description = "Items to skip"),
    ),
    responses(
        (status = 200, description = "The newest state of each matching item, last saved first", body = ItemList),
        (status = 400, description = "`invalid_filter`, `invalid_parameter`, `invalid_limit`, `invalid_offset` \
            or `unknown_parameter`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`forbidden`: needs an editor key", body = ApiError),
    ),
)]
pub(crate) async fn list_items(
    State(state): State<AppState>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<ItemList>, ApiError> {
    let mut filter = ItemListFilter::default();
    for (name, value) in &pairs {
        match name.as_str() {
            "status" => {
                filter.status = codes(name, value, store::Status::from_code, "draft, review, published, retired")?
            }
            "kind" => {
                filter.kind = codes(name, value, store::ItemKind::from_code, "item kind codes such as answer_standard")?
            }
            "owner" => filter.owner = Some(value.trim().to_string()).filter(|v| !v.is_empty()),
            "subunits" => filter.subunits = boolean(name, value)?,
            "product" => filter.product = Some(value.trim().to_string()).filter(|v| !v.is_empty()),
            "fault" => filter.fault = Some(value.trim().to_string()).filter(|v| !v.is_empty()),
            "updated_since" => filter.updated_since_ms = Some(instant_ms(name, value)?),
            "overdue" => filter.overdue = Some(boolean(name, value)?),
            "q" => filter.q = Some(value.trim().to_string()).filter(|v| !v.is_empty()),
            "limit" | "offset" => {}
            _ => {
                return Err(ApiError::new(
                    ErrorCode::UnknownParameter,
                    "unknown parameter; use status, kind, owner, subunits, product, fault, updated_since, overdue, q, \
                     limit or offset",
                ));
            }
        }
    }
    let (offset, limit) = page(&pairs, state.limits().max_page)?;
    let list = blocking(&state, move |engine| Ok(engine.list_items(&filter, offset, limit)?)).await?;
    Ok(Json(list))
}

/// `GET /v1/items/{id}`: the item as stored, with an `ETag`.
#[utoipa::path(
    get,
    path = "/v1/items/{id}",
    operation_id = "get_item",
    tag = "editing",
    params(("id" = String, Path, description = "Item id")),
    responses(
        (status = 200, description = "Editors get the newest state (a draft or one in review when there is one); \
            agents and bots the published version only. `ETag` is the version.", body = ItemView),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 404, description = "`not_found` (for a reader also: not published)", body = ApiError),
    ),
)]
pub(crate) async fn get_item(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let reader = principal.role.is_reader();
    let view =
        blocking(&state, move |engine| Ok(if reader { engine.published_item(&id)? } else { engine.item_view(&id)? }))
            .await?;
    let view = view.ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no item with that id"))?;
    Ok(with_etag(StatusCode::OK, &view, &view))
}

/// `POST /v1/items`: create a draft.
#[utoipa::path(
    post,
    path = "/v1/items",
    operation_id = "create_item",
    tag = "editing",
    request_body = ItemInput,
    responses(
        (status = 201, description = "The draft and its audit entry; `ETag` is its version", body = Object),
        (status = 400, description = "`invalid_json` or `invalid_parameter` (unknown field, wrong type)", body = ApiError),
        (status = 403, description = "`forbidden` (reader key) or `out_of_scope` (owner outside the key's organisation)",
            body = ApiError),
        (status = 409, description = "`already_exists`", body = ApiError),
        (status = 422, description = "`validation_failed`, with `field`", body = ApiError),
    ),
)]
pub(crate) async fn create_item(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(input): JsonBody<ItemInput>,
) -> Result<Response, ApiError> {
    let ctx = edit_context(&principal)?;
    if input.id.as_deref().is_some_and(|id| RESERVED_IDS.contains(&id)) {
        return Err(ApiError {
            field: Some("id".into()),
            ..ApiError::new(ErrorCode::ValidationFailed, "`check` and `stale` name routes; choose another id")
        });
    }
    save_and_check(&state, StatusCode::CREATED, move |engine| engine.create_item(&ctx, input)).await
}

/// Item ids that would shadow a route under `/v1/items/`.
const RESERVED_IDS: [&str; 2] = ["check", "stale"];

/// `POST /v1/items/check`: duplicate and conflict warnings for unsaved text, as an editor types.
#[utoipa::path(
    post,
    path = "/v1/items/check",
    operation_id = "check_item",
    tag = "editing",
    request_body = DraftText,
    responses(
        (status = 200, description = "`possible_duplicates` (top 5, each with its similarity and why) and \
            `conflicts` (published items of the same kind, category, product and fault that say something else)",
            body = ItemCheck),
        (status = 400, description = "`invalid_json` or `invalid_parameter` (wrong type, unknown field, a title or \
            body over the limits)", body = ApiError),
        (status = 403, description = "`forbidden`: needs an editor key", body = ApiError),
    ),
)]
pub(crate) async fn check_item(
    State(state): State<AppState>,
    JsonBody(draft): JsonBody<DraftText>,
) -> Result<Json<ItemCheck>, ApiError> {
    let check = state.run_search(move |engine, _| engine.check_item(&draft).map_err(ApiError::from)).await?;
    Ok(Json(check))
}

/// `PUT /v1/items/{id}`: save a new draft version; `If-Match` is required.
#[utoipa::path(
    put,
    path = "/v1/items/{id}",
    operation_id = "update_item",
    tag = "editing",
    params(
        ("id" = String, Path, description = "Item id"),
        ("If-Match" = String, Header, description = "The ETag the edit started from"),
    ),
    request_body = ItemInput,
    responses(
        (status = 200, description = "The new draft version and its audit entry; a published version keeps \
            serving until the draft is approved", body = Object),
        (status = 403, description = "`forbidden` or `out_of_scope`", body = ApiError),
        (status = 404, description = "`not_found`", body = ApiError),
        (status = 409, description = "`version_conflict`, with `current_version` and `saved_by`", body = ApiError),
        (status = 422, description = "`validation_failed`, with `field`", body = ApiError),
        (status = 428, description = "`precondition_required`: no If-Match", body = ApiError),
    ),
)]
pub(crate) async fn update_item(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    JsonBody(input): JsonBody<ItemInput>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let ctx = edit_context(&principal)?;
    let expected = if_match(&headers)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::PreconditionRequired,
            "send If-Match with the item's ETag, so that an edit never overwrites a version you have not seen",
        )
    })?;
    save_and_check(&state, StatusCode::OK, move |engine| engine.update_item(&ctx, &id, expected, input)).await
}

/// The body of a lifecycle action.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionBody {
    /// Why (required to reject).
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/items/{id}/{action}`: submit, approve, reject, retire or restore.
#[utoipa::path(
    post,
    path = "/v1/items/{id}/{action}",
    operation_id = "item_action",
    tag = "editing",
    params(
        ("id" = String, Path, description = "Item id"),
        ("action" = String, Path, description = "submit, approve, reject, retire or restore"),
        ("If-Match" = Option<String>, Header, description = "When given, the action applies only to this version"),
    ),
    request_body(content = ActionBody, description = "`{\"reason\": ...}` (required to reject); may be empty"),
    responses(
        (status = 200, description = "The item after the action and its audit entry", body = Object),
        (status = 403, description = "`forbidden`, `out_of_scope` or `four_eyes`", body = ApiError),
        (status = 404, description = "`not_found` (item or action)", body = ApiError),
        (status = 409, description = "`invalid_state` or `version_conflict`", body = ApiError),
        (status = 422, description = "`validation_failed` (a reject without a reason)", body = ApiError),
    ),
)]
pub(crate) async fn item_action(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let Path((id, action)) =
        path.map_err(|_| ApiError::new(ErrorCode::InvalidParameter, "the path is not valid UTF-8"))?;
    let step = Transition::from_code(&action).ok_or_else(|| {
        ApiError::new(ErrorCode::NotFound, "no such action; use submit, approve, reject, retire or restore")
    })?;
    let id = path_id(Ok(Path(id)))?;
    let body: ActionBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        if crate::extract::json_depth_exceeds(&body, state.limits().max_json_depth) {
            return Err(ApiError::new(ErrorCode::NestingTooDeep, "JSON nested too deep"));
        }
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidJson,
                format!("the body must be {{\"reason\": \"...\"}} or empty (line {}, column {})", e.line(), e.column()),
            )
        })?
    };
    let ctx = edit_context(&principal)?;
    let expected = if_match(&headers)?;
    save_and_check(&state, StatusCode::OK, move |engine| engine.transition_item(&ctx, &id, step, expected, body.reason))
        .await
}

/// `GET /v1/items/{id}/versions`: every version with who made it, when and why.
#[utoipa::path(
    get,
    path = "/v1/items/{id}/versions",
    operation_id = "item_versions",
    tag = "editing",
    params(("id" = String, Path, description = "Item id")),
    responses(
        (status = 200, description = "Versions, oldest first", body = Vec<VersionEntry>),
        (status = 404, description = "`not_found`", body = ApiError),
    ),
)]
pub(crate) async fn item_versions(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let versions = blocking(&state, move |engine| Ok(engine.item_versions(&id)?)).await?;
    let versions = versions.ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no item with that id"))?;
    Ok(Json(serde_json::json!({"versions": versions})).into_response())
}

/// `GET /v1/items/{id}/versions/{version}`: one version as it was saved.
#[utoipa::path(
    get,
    path = "/v1/items/{id}/versions/{version}",
    operation_id = "item_version",
    tag = "editing",
    params(("id" = String, Path, description = "Item id"), ("version" = u32, Path, description = "Version")),
    responses(
        (status = 200, description = "The item's fields at that version", body = Object),
        (status = 404, description = "`not_found`", body = ApiError),
    ),
)]
pub(crate) async fn item_version(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((id, version)) =
        path.map_err(|_| ApiError::new(ErrorCode::InvalidParameter, "the path is not valid UTF-8"))?;
    let id = path_id(Ok(Path(id)))?;
    let version: u32 = version
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::InvalidParameter, "a version is a whole number from 1"))?;
    let item = blocking(&state, move |engine| Ok(engine.item_version(&id, version)?)).await?;
    let item = item.ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such version of that item"))?;
    Ok(Json(item).into_response())
}

/// `GET /v1/items/{id}/diff?from=&to=`: field by field, and a line diff of the body.
#[utoipa::path(
    get,
    path = "/v1/items/{id}/diff",
    operation_id = "item_diff",
    tag = "editing",
    params(
        ("id" = String, Path, description = "Item id"),
        ("from" = u32, Query, description = "The older version"),
        ("to" = Option<u32>, Query, description = "The newer version (default: the newest)"),
    ),
    responses(
        (status = 200, description = "Changed fields and the body's line diff", body = ItemDiff),
        (status = 400, description = "`invalid_parameter`", body = ApiError),
        (status = 404, description = "`not_found` (item or version)", body = ApiError),
    ),
)]
pub(crate) async fn item_diff(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let version = |name: &str| -> Result<Option<u32>, ApiError> {
        match pairs.iter().rev().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, v)) => v
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|_| ApiError::new(ErrorCode::InvalidParameter, format!("`{name}` is a version number"))),
        }
    };
    let from = version("from")?.ok_or_else(|| ApiError::new(ErrorCode::InvalidParameter, "give `from`, a version"))?;
    let to = version("to")?;
    let diff = blocking(&state, move |engine| {
        let to = match to {
            Some(to) => to,
            None => match engine.item_view(&id)? {
                Some(view) => view.version,
                None => return Ok(None),
            },
        };
        Ok(engine.item_diff(&id, from, to)?)
    })
    .await?;
    let diff = diff.ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such item or version"))?;
    Ok(Json(diff).into_response())
}

/// `GET /v1/audit?item=&actor=&action=&since=&until=`: the audit trail, newest first.
#[utoipa::path(
    get,
    path = "/v1/audit",
    operation_id = "audit",
    tag = "editing",
    params(
        ("item" = Option<String>, Query, description = "A record id"),
        ("actor" = Option<String>, Query, description = "A key id or actor name"),
        ("action" = Option<String>, Query, description = "ingest, create, update, submit, approve, reject, retire, restore, import, delete"),
        ("since" = Option<String>, Query, description = "YYYY-MM-DD or Unix milliseconds, inclusive"),
        ("until" = Option<String>, Query, description = "YYYY-MM-DD or Unix milliseconds, exclusive"),
        ("limit" = Option<usize>, Query, description = "Entries per page: 1 to the \
            `max_page` limit (500 unless configured); 50, or `max_page` when lower, when absent"),
        ("offset" = Option<usize>, Query, description = "Entries to skip"),
    ),
    responses(
        (status = 200, description = "`{entries, more}`", body = Object),
        (status = 400, description = "`invalid_parameter` or `unknown_parameter`", body = ApiError),
        (status = 403, description = "`forbidden`: needs a reviewer or admin key", body = ApiError),
    ),
)]
pub(crate) async fn audit(State(state): State<AppState>, QueryPairs(pairs): QueryPairs) -> Result<Response, ApiError> {
    let mut filter = store::AuditFilter::default();
    for (name, value) in &pairs {
        let value = value.trim();
        match name.as_str() {
            "item" => filter.record = Some(value.to_string()).filter(|v| !v.is_empty()),
            "actor" => filter.actor = Some(value.to_string()).filter(|v| !v.is_empty()),
            "action" => {
                filter.action = Some(store::Action::from_code(value).ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidFilter,
                        "`action` is one of ingest, create, update, submit, approve, reject, retire, restore, import, delete",
                    )
                })?)
            }
            "since" => filter.since_ms = Some(instant_ms(name, value)?),
            "until" => filter.until_ms = Some(instant_ms(name, value)?),
            "limit" | "offset" => {}
            _ => {
                return Err(ApiError::new(
                    ErrorCode::UnknownParameter,
                    "unknown parameter; use item, actor, action, since, until, limit or offset",
                ));
            }
        }
    }
    let (offset, limit) = page(&pairs, state.limits().max_page)?;
    let (entries, more) = blocking(&state, move |engine| Ok(engine.audit(&filter, offset, limit)?)).await?;
    Ok(Json(serde_json::json!({"entries": entries, "more": more})).into_response())
}

/// `GET /v1/me`: who the key is.
#[utoipa::path(
    get,
    path = "/v1/me",
    operation_id = "me",
    tag = "operations",
    responses(
        (status = 200, description = "`{key_id, role, org, name}`; without keys (loopback) an admin", body = Object),
        (status = 401, description = "`unauthorized`", body = ApiError),
    ),
)]
pub(crate) async fn me(Extension(principal): Extension<Principal>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "key_id": principal.key_id,
        "role": principal.role,
        "org": principal.org,
        "name": principal.name,
    }))
}
