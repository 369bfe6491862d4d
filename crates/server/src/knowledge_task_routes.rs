//! The editors' task queue: `GET /v1/tasks/knowledge` and `POST /v1/tasks/knowledge/{id}`: flagged and
//! unhelpful items, knowledge gaps, stale and overdue items, likely duplicate pairs.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use journal::{TaskEvent, TaskStatus};
use search::improvement::{KnowledgeTask, TaskKind};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::extract::{JsonBody, QueryPairs};
use crate::{ApiError, AppState, ErrorCode};

/// One page of the task queue.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskList {
    /// Tasks that match the filters (all pages).
    pub total: usize,
    pub tasks: Vec<KnowledgeTask>,
    /// Items the duplicate-pair scan has yet to check: after a start it runs in the background
    /// (and with every task-queue request), and `duplicate` tasks may still appear until this is 0.
    pub duplicate_scan_pending: usize,
}

/// A task's new status.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    pub status: TaskStatus,
}

fn parse_kind(value: &str) -> Option<TaskKind> {
    serde_json::from_value(serde_json::Value::String(value.to_string())).ok()
}

fn parse_status(value: &str) -> Option<TaskStatus> {
    serde_json::from_value(serde_json::Value::String(value.to_string())).ok()
}

/// Every task in the caller's scope, with the statuses set so far.
async fn tasks_in_scope(state: &AppState, principal: &Principal) -> Result<(Vec<KnowledgeTask>, usize), ApiError> {
    let journal = state.ready_journal()?;
    let org = principal.org.clone();
    state
        .run_write(move |engine| {
            let scope = engine.scope(org.as_deref())?;
            let tasks = engine.knowledge_tasks(&journal.snapshot(), &scope, calendar::Date::today())?;
            Ok((tasks, engine.duplicate_scan_pending()))
        })
        .await
}

/// `GET /v1/tasks/knowledge?kind=&status=&limit=&offset=`
#[utoipa::path(
    get,
    path = "/v1/tasks/knowledge",
    operation_id = "knowledge_tasks",
    tag = "improvement",
    params(
        ("kind" = Option<String>, Query, description = "flagged, low_helpful, gap, stale, overdue_review or \
            duplicate (comma-separated; default all)"),
        ("status" = Option<String>, Query, description = "open (default), done, dismissed, or all"),
        ("limit" = Option<usize>, Query, description = "Tasks per page: 1 to the \
            `max_page` limit (500 unless configured); 50, or `max_page` when lower, when absent"),
        ("offset" = Option<usize>, Query, description = "Tasks to skip"),
    ),
    responses(
        (status = 200, description = "The tasks in the key's organisation scope: kind, then count, then id",
            body = TaskList),
        (status = 400, description = "`invalid_filter`, `unknown_parameter`, `invalid_limit` or `invalid_offset`",
            body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: editors, reviewers and admins only", body = ApiError),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<TaskList>, ApiError> {
    let mut kinds: Vec<TaskKind> = Vec::new();
    let mut statuses: Option<Vec<TaskStatus>> = Some(vec![TaskStatus::Open]);
    for (name, value) in &pairs {
        match name.as_str() {
            "kind" => {
                for v in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                    kinds.push(parse_kind(v).ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::InvalidFilter,
                            "`kind` takes flagged, low_helpful, gap, stale, overdue_review or duplicate",
                        )
                    })?);
                }
            }
            "status" if value.trim() == "all" => statuses = None,
            "status" => {
                let mut list = Vec::new();
                for v in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                    list.push(parse_status(v).ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidFilter, "`status` takes open, done, dismissed or all")
                    })?);
                }
                statuses = Some(list);
            }
            "limit" | "offset" => {}
            _ => {
                return Err(ApiError::new(
                    ErrorCode::UnknownParameter,
                    "unknown parameter; use kind, status, limit or offset",
                ));
            }
        }
    }
    let (offset, limit) = crate::items_routes::page(&pairs, state.limits().max_page)?;
    let (tasks, duplicate_scan_pending) = tasks_in_scope(&state, &principal).await?;
    let tasks: Vec<KnowledgeTask> = tasks
        .into_iter()
        .filter(|t| kinds.is_empty() || kinds.contains(&t.kind))
        .filter(|t| statuses.as_ref().is_none_or(|s| s.contains(&t.status)))
        .collect();
    let total = tasks.len();
    Ok(Json(TaskList { total, tasks: tasks.into_iter().skip(offset).take(limit).collect(), duplicate_scan_pending }))
}

/// `POST /v1/tasks/knowledge/{id}`: mark a task done or dismissed (or open again).
#[utoipa::path(
    post,
    path = "/v1/tasks/knowledge/{id}",
    operation_id = "update_knowledge_task",
    tag = "improvement",
    params(("id" = String, Path, description = "Task id, as the task queue gives it")),
    request_body = TaskUpdate,
    responses(
        (status = 200, description = "The task with its new status", body = KnowledgeTask),
        (status = 400, description = "`invalid_json` or `invalid_parameter` (unknown status)", body = ApiError),
        (status = 401, description = "`unauthorized`: no valid API key", body = ApiError),
        (status = 403, description = "`forbidden`: editors, reviewers and admins only", body = ApiError),
        (status = 404, description = "`not_found`: no task with this id in the key's scope", body = ApiError),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(update): JsonBody<TaskUpdate>,
) -> Result<Json<KnowledgeTask>, ApiError> {
    let mut task = tasks_in_scope(&state, &principal)
        .await?
        .0
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no task with this id in your scope"))?;
    let journal = state.ready_journal()?;
    let event = TaskEvent {
        task_id: task.id.clone(),
        status: update.status,
        by: principal.name.clone(),
        at_ms: journal::now_ms(),
    };
    let at_ms = event.at_ms;
    tokio::task::spawn_blocking(move || journal.set_task(event))
        .await
        .map_err(|_| ApiError::new(ErrorCode::Internal, "internal error; the server log has the details"))??;
    task.status = update.status;
    if update.status == TaskStatus::Open {
        task.closed_by = None;
        task.closed_at_ms = None;
    } else {
        task.closed_by = Some(principal.name.clone());
        task.closed_at_ms = Some(at_ms);
    }
    Ok(Json(task))
}
