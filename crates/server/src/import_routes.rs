//! Bulk import over HTTP: `POST /v1/import` reads a JSONL, CSV, XLSX or Markdown upload with the
//! ingest crate's guarded readers and imports it as a background task; `GET /v1/tasks/{id}`
//! reports its progress and every rejection (file, line or row, field).
//!
//! Tasks live in the server's memory (the most recent `max_import_tasks`, a limit): a restart forgets the
//! reports, never what was imported — each record is stored, audited and durable as it lands.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Extension;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use search::ImportReport;
use serde::Serialize;

use crate::auth::Principal;
use crate::extract::{BodyBytes, QueryPairs};
use crate::items_routes::edit_context;
use crate::{ApiError, AppState, ErrorCode};

/// One rejected record of an upload.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskRejection {
    /// Where: file and line, or sheet and row.
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

/// A background task as `GET /v1/tasks/{id}` reports it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskView {
    pub id: String,
    /// `import`.
    pub kind: &'static str,
    /// `running`, `done` or `failed`.
    pub state: &'static str,
    pub file: String,
    pub publish: bool,
    /// Records imported so far, of `total` readable records.
    pub done: usize,
    pub total: usize,
    /// Records the reader refused (bad field, limit broken), with where and why: the first
    /// `max_listed_rejections` (a limit, 1000 unless configured); `rejected` counts them all.
    pub rejections: Vec<TaskRejection>,
    pub rejected: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ImportReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The key that started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub started_at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
}

/// The server's recent tasks.
#[derive(Debug, Default)]
pub struct Tasks(Mutex<VecDeque<Arc<Mutex<TaskView>>>>);

impl Tasks {
    /// Keeps `task`, forgetting the oldest ones past the most recent `keep`.
    fn add(&self, task: TaskView, keep: usize) -> Arc<Mutex<TaskView>> {
        let task = Arc::new(Mutex::new(task));
        let mut tasks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        while tasks.len() >= keep.max(1) {
            tasks.pop_front();
        }
        tasks.push_back(Arc::clone(&task));
        task
    }

    fn get(&self, id: &str) -> Option<TaskView> {
        let tasks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.iter().map(|t| t.lock().unwrap_or_else(PoisonError::into_inner).clone()).find(|t| t.id == id)
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn update(task: &Mutex<TaskView>, change: impl FnOnce(&mut TaskView)) {
    change(&mut task.lock().unwrap_or_else(PoisonError::into_inner));
}

/// `POST /v1/import?format=jsonl|csv|xlsx|md&name=FILE&publish=false`: the body is the file.
#[utoipa::path(
    post,
    path = "/v1/import",
    operation_id = "import",
    tag = "editing",
    params(
        ("format" = Option<String>, Query, description = "jsonl, csv, xlsx or md (default: from `name`'s extension)"),
        ("name" = Option<String>, Query, description = "The file's name, for rejections (default `upload`)"),
        ("publish" = Option<bool>, Query, description = "Admins only: write straight to published, as `gridkb ingest` does"),
    ),
    request_body(content = Vec<u8>, description = "The file, at most the `max_ingest_body_bytes` limit (32 MB \
        unless configured)", content_type = "application/octet-stream"),
    responses(
        (status = 202, description = "The task started: `{task}`; poll `GET /v1/tasks/{id}`", body = Object),
        (status = 400, description = "`invalid_parameter` (unknown format) or `unknown_parameter`", body = ApiError),
        (status = 403, description = "`forbidden` (reader) or `out_of_scope` (publish without admin)", body = ApiError),
        (status = 413, description = "`payload_too_large`", body = ApiError),
    ),
)]
pub(crate) async fn import(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
    BodyBytes(body): BodyBytes,
) -> Result<Response, ApiError> {
    let ctx = edit_context(&principal)?;
    let (mut format, mut name, mut publish) = (None, "upload".to_string(), false);
    for (key, value) in &pairs {
        let value = value.trim();
        match key.as_str() {
            "format" => {
                format =
                    Some(ingest::Format::of(std::path::Path::new(&format!("x.{value}"))).ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidParameter, "`format` is jsonl, csv, xlsx or md")
                    })?)
            }
            "name" if !value.is_empty() => {
                name = value.chars().filter(|c| !c.is_control() && *c != '/' && *c != '\\').take(200).collect()
            }
            "name" => {}
            "publish" => publish = matches!(value, "true" | "1" | "yes"),
            _ => {
                return Err(ApiError::new(
                    ErrorCode::UnknownParameter,
                    "unknown parameter; use format, name or publish",
                ));
            }
        }
    }
    let format = format.or_else(|| ingest::Format::of(std::path::Path::new(&name))).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidParameter,
            "give `format` (jsonl, csv, xlsx or md) or a `name` with that extension",
        )
    })?;
    if publish && ctx.role != search::EditRole::Admin {
        return Err(ApiError::new(ErrorCode::OutOfScope, "only an admin may import straight to published"));
    }
    let engine = state
        .engine()
        .cloned()
        .ok_or_else(|| ApiError::new(ErrorCode::NotReady, "the indexes are still being built"))?;
    let id = format!(
        "t_{:x}",
        blake3::hash(format!("{}:{name}:{}", now_ms(), body.len()).as_bytes()).as_bytes()[..6]
            .iter()
            .fold(0u64, |n, b| (n << 8) | u64::from(*b))
    );
    let task = state.tasks().add(
        TaskView {
            id: id.clone(),
            kind: "import",
            state: "running",
            file: name.clone(),
            publish,
            done: 0,
            total: 0,
            rejections: Vec::new(),
            rejected: 0,
            report: None,
            error: None,
            key_id: principal.key_id.clone(),
            started_at_ms: now_ms(),
            finished_at_ms: None,
        },
        state.limits().max_import_tasks,
    );
    let (limits, listed) = (state.limits().read_limits(), state.limits().max_listed_rejections);
    let running = Arc::clone(&task);
    tokio::task::spawn_blocking(move || {
        let batch = ingest::read_bytes(&name, format, &body, &limits);
        update(&running, |t| {
            t.total = batch.records.len();
            t.rejected = batch.rejections.len();
            t.rejections = batch
                .rejections
                .iter()
                .take(listed)
                .map(|r| TaskRejection { at: r.origin.to_string(), field: r.field.clone(), message: r.message.clone() })
                .collect();
        });
        let records = batch.records.into_iter().map(|(_, r)| r).collect();
        let progress = |done: usize, _total: usize| update(&running, |t| t.done = done);
        let result = engine.import_records(&ctx, records, publish, &progress);
        update(&running, |t| {
            t.finished_at_ms = Some(now_ms());
            match result {
                Ok(report) => {
                    t.state = "done";
                    t.done = t.total;
                    t.report = Some(report);
                }
                Err(e) => {
                    tracing::error!(error = %e, "import failed");
                    t.state = "failed";
                    t.error = Some(ApiError::from(e).message);
                }
            }
        });
    });
    let view = task.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({"task": view}))).into_response())
}

/// `GET /v1/tasks/{id}`: a background task's progress and rejections.
#[utoipa::path(
    get,
    path = "/v1/tasks/{id}",
    operation_id = "task",
    tag = "editing",
    params(("id" = String, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 404, description = "`not_found` (unknown, or forgotten after a restart)", body = ApiError),
    ),
)]
pub(crate) async fn task(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<TaskView>, ApiError> {
    let Path(id) = id.map_err(|_| ApiError::new(ErrorCode::NotFound, "no such task"))?;
    state.tasks().get(&id).map(Json).ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such task"))
}
