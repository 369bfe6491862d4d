//! The graph and the thesaurus edited as things over HTTP: entities with versions, `If-Match`
//! and audit, checked against the ontology, live at once.

use axum::Extension;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use search::{EntityInput, EntityOutcome, EntitySummary, EntityView};

use crate::auth::Principal;
use crate::extract::{JsonBody, QueryPairs};
use crate::items_routes::{edit_context, etag, if_match, path_id};
use crate::{ApiError, AppState, ErrorCode};

/// Entities listed when `limit` is not given (or `max_entities`, when that limit is lower).
pub const DEFAULT_ENTITIES: usize = 20;

fn answer(status: StatusCode, outcome: EntityOutcome) -> Response {
    let version = outcome.entity.version;
    let mut response =
        (status, Json(serde_json::json!({"entity": outcome.entity, "audit": outcome.audit}))).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// `GET /v1/entities?class=&q=&limit=`: find entities (autocomplete for links, the graph editor).
#[utoipa::path(
    get,
    path = "/v1/entities",
    operation_id = "find_entities",
    tag = "editing",
    params(
        ("class" = Option<String>, Query, description = "An entity class such as Fault or ProductModel"),
        ("q" = Option<String>, Query, description = "Part of the id, label or an alias"),
        ("limit" = Option<usize>, Query, description = "1 to the `max_entities` limit (200 \
            unless configured); 20, or `max_entities` when lower, when absent"),
    ),
    responses(
        (status = 200, description = "`{entities}`: labels starting with `q` first", body = Object),
        (status = 400, description = "`invalid_filter`, `invalid_limit` or `unknown_parameter`", body = ApiError),
        (status = 403, description = "`forbidden`: needs an editor key", body = ApiError),
    ),
)]
pub(crate) async fn find_entities(
    State(state): State<AppState>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Response, ApiError> {
    let max_entities = state.limits().max_entities;
    let (mut class, mut q, mut limit) = (None, None, DEFAULT_ENTITIES.min(max_entities));
    for (name, value) in &pairs {
        let value = value.trim();
        match name.as_str() {
            "class" if value.is_empty() => {}
            "class" => {
                class = Some(store::EntityClass::from_code(value).ok_or_else(|| {
                    ApiError::new(ErrorCode::InvalidFilter, "`class` is an entity class such as Fault or ProductModel")
                })?)
            }
            "q" => q = Some(value.to_string()).filter(|v| !v.is_empty()),
            "limit" => {
                limit = value.parse().ok().filter(|l| (1..=max_entities).contains(l)).ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidLimit,
                        format!("`limit` is a whole number from 1 to {max_entities}"),
                    )
                })?
            }
            _ => return Err(ApiError::new(ErrorCode::UnknownParameter, "unknown parameter; use class, q or limit")),
        }
    }
    let found: Vec<EntitySummary> =
        state.run_write(move |engine| Ok(engine.find_entities(class, q.as_deref(), limit)?)).await?;
    Ok(Json(serde_json::json!({"entities": found})).into_response())
}

/// `GET /v1/entities/{id}`.
#[utoipa::path(
    get,
    path = "/v1/entities/{id}",
    operation_id = "get_entity",
    tag = "editing",
    params(("id" = String, Path, description = "Entity id")),
    responses(
        (status = 200, description = "The entity with its links' labels; `ETag` is its version", body = EntityView),
        (status = 404, description = "`not_found`", body = ApiError),
    ),
)]
pub(crate) async fn get_entity(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let view = state.run_write(move |engine| Ok(engine.entity_view(&id)?)).await?;
    let view = view.ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no entity with that id"))?;
    let mut response = Json(&view).into_response();
    response.headers_mut().insert(header::ETAG, etag(view.version));
    Ok(response)
}

/// `GET /v1/entities/{id}/versions`.
#[utoipa::path(
    get,
    path = "/v1/entities/{id}/versions",
    operation_id = "entity_versions",
    tag = "editing",
    params(("id" = String, Path, description = "Entity id")),
    responses(
        (status = 200, description = "`{versions}`, oldest first", body = Object),
        (status = 404, description = "`not_found`", body = ApiError),
    ),
)]
pub(crate) async fn entity_versions(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let versions = state.run_write(move |engine| Ok(engine.entity_versions(&id)?)).await?;
    let versions = versions.ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no entity with that id"))?;
    Ok(Json(serde_json::json!({"versions": versions})).into_response())
}

/// `POST /v1/entities`: a new entity, live at once.
#[utoipa::path(
    post,
    path = "/v1/entities",
    operation_id = "create_entity",
    tag = "editing",
    request_body = EntityInput,
    responses(
        (status = 201, description = "`{entity, audit}`", body = Object),
        (status = 403, description = "`forbidden` (reader) or `out_of_scope` (organisations: admins only)", body = ApiError),
        (status = 409, description = "`already_exists`", body = ApiError),
        (status = 422, description = "`validation_failed` with `field` (e.g. a relation the ontology lacks)", body = ApiError),
    ),
)]
pub(crate) async fn create_entity(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    JsonBody(input): JsonBody<EntityInput>,
) -> Result<Response, ApiError> {
    let ctx = edit_context(&principal)?;
    let outcome = state.run_write(move |engine| Ok(engine.create_entity(&ctx, input)?)).await?;
    Ok(answer(StatusCode::CREATED, outcome))
}

/// `PUT /v1/entities/{id}` with `If-Match`: a new version, live at once (aliases reach entity
/// linking and query synonyms, linked items are re-indexed).
#[utoipa::path(
    put,
    path = "/v1/entities/{id}",
    operation_id = "update_entity",
    tag = "editing",
    params(
        ("id" = String, Path, description = "Entity id"),
        ("If-Match" = String, Header, description = "The ETag the edit started from"),
    ),
    request_body = EntityInput,
    responses(
        (status = 200, description = "`{entity, audit}`", body = Object),
        (status = 403, description = "`forbidden` or `out_of_scope`", body = ApiError),
        (status = 404, description = "`not_found`", body = ApiError),
        (status = 409, description = "`version_conflict`", body = ApiError),
        (status = 422, description = "`validation_failed` with `field`", body = ApiError),
        (status = 428, description = "`precondition_required`", body = ApiError),
    ),
)]
pub(crate) async fn update_entity(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    JsonBody(input): JsonBody<EntityInput>,
) -> Result<Response, ApiError> {
    let id = path_id(id)?;
    let ctx = edit_context(&principal)?;
    let expected = if_match(&headers)?
        .ok_or_else(|| ApiError::new(ErrorCode::PreconditionRequired, "send If-Match with the entity's ETag"))?;
    let outcome = state.run_write(move |engine| Ok(engine.update_entity(&ctx, &id, expected, input)?)).await?;
    Ok(answer(StatusCode::OK, outcome))
}
