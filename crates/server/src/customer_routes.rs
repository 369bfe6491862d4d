//! Customer portraits (客户画像) over HTTP: the proposed tags with their evidence
//! (`GET /v1/customers/tag-proposals`), and an editor's or a manager's decision on one
//! (`POST /v1/customers/{id}/tags`). A confirmed tag is written to the customer record — a new
//! version with its audit entry, live in the graph and in ticket matching at once; a rejected one
//! is remembered in the request log.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use journal::{TaskEvent, TaskStatus};
use search::portraits::{PortraitRules, ProposalStatus, TagProposal, proposal_id};
use search::{EditContext, EditRole, EntityView};
use serde::{Deserialize, Serialize};

use crate::analytics_routes::{ReportPage, page, params};
use crate::auth::{Principal, Role};
use crate::extract::{JsonBody, QueryPairs};
use crate::items_routes::path_id;
use crate::{ApiError, AppState, ErrorCode};

/// What to do with a proposed tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Write the tag to the customer record.
    Confirm,
    /// Do not propose it again unless newer tickets add to its evidence.
    Reject,
}

/// A decision on one proposed tag.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagDecision {
    /// One of the tags proposals carry: 停电敏感, 电费敏感, 情绪化, 重复来电, 重要客户.
    pub tag: String,
    pub decision: Decision,
}

/// The proposal after the decision, and the customer record when the tag was written.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TagDecisionOutcome {
    pub proposal: TagProposal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<EntityView>,
}

fn vocabulary() -> String {
    PortraitRules::bundled().vocabulary().collect::<Vec<_>>().join(", ")
}

fn window(pairs: &[(String, String)], state: &AppState) -> Result<crate::analytics_routes::Params, ApiError> {
    let mut p = params(pairs, &["status", "customer", "tag"], state.limits())?;
    if !pairs.iter().any(|(name, _)| name == "since") {
        p.window.from_day = p.window.to_day - i64::from(state.limits().portrait_window_days) + 1;
    }
    Ok(p)
}

/// Every proposal in the caller's scope over `window`, with the decisions taken.
async fn proposals(
    state: &AppState,
    principal: &Principal,
    window: search::improvement::Window,
) -> Result<Vec<TagProposal>, ApiError> {
    let journal = state.ready_journal()?;
    let org = principal.org.clone();
    state
        .run_write(move |engine| {
            let scope = engine.scope(org.as_deref())?;
            Ok(engine.tag_proposals(&journal.snapshot(), &scope, window)?)
        })
        .await
}

/// `GET /v1/customers/tag-proposals?status=open&customer=&tag=&since=&until=`
#[utoipa::path(
    get,
    path = "/v1/customers/tag-proposals",
    operation_id = "customer_tag_proposals",
    tag = "customers",
    params(
        ("status" = Option<String>, Query, description = "open (default), rejected, or all"),
        ("customer" = Option<String>, Query, description = "Only this customer id"),
        ("tag" = Option<String>, Query, description = "Only this tag"),
        ("since" = Option<String>, Query, description = "First day of tickets, YYYY-MM-DD (default: the \
            portrait window, 90 days, before `until`)"),
        ("until" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default today, UTC)"),
        ("limit" = Option<usize>, Query, description = "Proposals per page: 1 to the \
            `max_page` limit (500 unless configured); 50, or `max_page` when lower, when absent"),
        ("offset" = Option<usize>, Query, description = "Proposals to skip"),
    ),
    responses(
        (status = 200, description = "Proposed tags of the customers in the key's organisation scope, strongest \
            first, each with its evidence (masked ticket snippets with request ids, cases, record facts), score \
            and threshold", body = ReportPage<TagProposal>),
        (status = 400, description = "`invalid_filter`, `invalid_parameter`, `unknown_parameter`, `invalid_limit` \
            or `invalid_offset`", body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`forbidden`: managers, editors, reviewers and admins", body = ApiError),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    QueryPairs(pairs): QueryPairs,
) -> Result<Json<ReportPage<TagProposal>>, ApiError> {
    let p = window(&pairs, &state)?;
    let mut statuses = Some(vec![ProposalStatus::Open]);
    let (mut customer, mut tag) = (None, None);
    for (name, value) in &pairs {
        let value = value.trim();
        match name.as_str() {
            "status" if value == "all" => statuses = None,
            "status" => {
                let status = match value {
                    "open" => ProposalStatus::Open,
                    "rejected" => ProposalStatus::Rejected,
                    _ => return Err(ApiError::new(ErrorCode::InvalidFilter, "`status` takes open, rejected or all")),
                };
                statuses = Some(vec![status]);
            }
            "customer" if !value.is_empty() => customer = Some(value.to_string()),
            "tag" if !value.is_empty() => tag = Some(value.to_string()),
            _ => {}
        }
    }
    let all: Vec<TagProposal> = proposals(&state, &principal, p.window)
        .await?
        .into_iter()
        .filter(|t| statuses.as_ref().is_none_or(|s| s.contains(&t.status)))
        .filter(|t| customer.as_ref().is_none_or(|c| *c == t.customer.id))
        .filter(|t| tag.as_ref().is_none_or(|g| *g == t.tag))
        .collect();
    Ok(Json(page(&p, all)))
}

/// What a manager's or an editor's decision acts as: editing one customer record within the
/// key's organisation (a manager may change nothing else).
fn decision_context(principal: &Principal) -> EditContext {
    let role = match principal.role {
        Role::Admin => EditRole::Admin,
        Role::Reviewer => EditRole::Reviewer,
        Role::Agent | Role::Bot | Role::Manager | Role::Editor => EditRole::Editor,
    };
    EditContext {
        actor: store::Actor {
            key_id: principal.key_id.clone(),
            name: principal.name.clone(),
            role: principal.role.to_string(),
            org: principal.org.clone(),
        },
        role,
        org: principal.org.clone(),
    }
}

/// `POST /v1/customers/{id}/tags {tag, decision}`: confirm or reject a proposed tag.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/tags",
    operation_id = "decide_customer_tag",
    tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    request_body = TagDecision,
    responses(
        (status = 200, description = "The proposal with its new status; on `confirm`, the customer record's new \
            version (the tag is in its `attrs.tags`, in the graph and in ticket matching)", body = TagDecisionOutcome),
        (status = 400, description = "`invalid_json` or `invalid_parameter` (a tag outside the vocabulary)",
            body = ApiError),
        (status = 401, description = "`unauthorized`", body = ApiError),
        (status = 403, description = "`forbidden` (managers, editors, reviewers and admins), or `out_of_scope`: \
            the customer belongs to an organisation outside the key's", body = ApiError),
        (status = 404, description = "`not_found`: no such proposal for this customer in the key's scope",
            body = ApiError),
        (status = 409, description = "`invalid_state`: the record carries the tag already", body = ApiError),
    ),
)]
pub(crate) async fn decide(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    JsonBody(decision): JsonBody<TagDecision>,
) -> Result<Json<TagDecisionOutcome>, ApiError> {
    let id = path_id(path)?;
    let tag = decision.tag.trim().to_string();
    if !PortraitRules::bundled().vocabulary().any(|t| t == tag) {
        return Err(ApiError::new(ErrorCode::InvalidParameter, format!("`tag` is one of {}", vocabulary())));
    }
    let p = window(&[], &state)?;
    let wanted = proposal_id(&id, &tag);
    let mut proposal =
        proposals(&state, &principal, p.window).await?.into_iter().find(|t| t.id == wanted).ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "no proposal of this tag for this customer in your scope (proposals come from the tickets of the \
                 portrait window)",
            )
        })?;
    let journal = state.ready_journal()?;
    let (status, customer) = match decision.decision {
        Decision::Confirm => {
            let ctx = decision_context(&principal);
            let (customer_id, confirmed) = (id.clone(), tag.clone());
            let outcome = state
                .run_write(move |engine| {
                    engine.confirm_customer_tag(&ctx, &customer_id, &confirmed).map_err(|e| match e {
                        search::EditError::NotFound(_) => {
                            ApiError::new(ErrorCode::NotFound, "no customer record with this id")
                        }
                        other => ApiError::from(other),
                    })
                })
                .await?;
            (TaskStatus::Done, Some(outcome.entity))
        }
        Decision::Reject => (TaskStatus::Dismissed, None),
    };
    let event = TaskEvent { task_id: wanted, status, by: principal.name.clone(), at_ms: journal::now_ms() };
    let at_ms = event.at_ms;
    tokio::task::spawn_blocking(move || journal.set_task(event))
        .await
        .map_err(|_| ApiError::new(ErrorCode::Internal, "internal error; the server log has the details"))??;
    proposal.status = match decision.decision {
        Decision::Confirm => ProposalStatus::Confirmed,
        Decision::Reject => ProposalStatus::Rejected,
    };
    proposal.decided_by = Some(principal.name.clone());
    proposal.decided_at_ms = Some(at_ms);
    Ok(Json(TagDecisionOutcome { proposal, customer }))
}
