//! The editors' write path: items move draft → review → published → retired under optimistic
//! concurrency, organisation scope and the four-eyes rule, and every change is audited in the
//! store transaction that makes it.
//!
//! The store keeps two states per item: the *served* record (what agents, bots and every index
//! see) and the *working copy* (a draft or an item in review). Editing a published item writes a
//! new working copy; the published version keeps serving until the new one is approved. Every
//! write takes the next version number, so `ETag` = the head version, and history is never
//! rewritten: retired items and every version stay.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use store::{
    Action, Actor, AuditEntry, AuditFilter, EditDone, EditPlan, EntityClass, FieldError, Item, ItemKind, OrgLevel,
    Record, RecordState, Status, StoredRecord, WorkingPlan,
};

use crate::catalogue::{Catalogue, EntitySummary, ItemSummary};
use crate::engine::Engine;
use crate::{Error, Result};

/// What an editor may do beyond reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EditRole {
    /// Creates and edits items of their organisation and below; submits them for review.
    Editor,
    /// An editor who also approves, rejects, retires and restores, within the same scope.
    Reviewer,
    /// Everything, everywhere.
    Admin,
}

/// Who is editing: the audit trail's actor, their role and their organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditContext {
    pub actor: Actor,
    pub role: EditRole,
    /// Organisation id (`org-p01-c01`); a non-admin without one edits nothing.
    pub org: Option<String>,
}

/// Why an edit was refused. Each maps to one error code at the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("no item `{0}`")]
    NotFound(String),
    #[error("an item with id `{0}` exists already; edit it with PUT, or choose another id")]
    AlreadyExists(String),
    #[error(
        "version {expected} is not the current version {current} (saved by {saved_by}); reload the item, \
         reapply your change and send If-Match with the current version"
    )]
    VersionConflict { expected: u32, current: u32, saved_by: String },
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{0}")]
    OutOfScope(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("the approver must not be the last author of the item (four-eyes rule); ask another reviewer")]
    FourEyes,
    #[error(transparent)]
    Engine(#[from] Error),
}

impl From<store::Error> for EditError {
    fn from(e: store::Error) -> Self {
        EditError::Engine(Error::Store(e))
    }
}

/// The fields an editor writes; status and version belong to the lifecycle.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// Given on create (or generated); must match the path on update.
    #[serde(default)]
    pub id: Option<String>,
    #[schema(value_type = String)]
    pub kind: ItemKind,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub products: Vec<String>,
    #[serde(default)]
    pub faults: Vec<String>,
    #[serde(default)]
    pub contracts: Vec<String>,
    #[serde(default)]
    pub cases: Vec<String>,
    #[serde(default)]
    pub customers: Vec<String>,
    #[serde(default)]
    pub cites: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub category: Option<store::Category>,
    /// Owning organisation (id or name); defaults to the editor's organisation.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub valid_until: Option<String>,
    #[serde(default)]
    pub superseded_by: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub review_by: Option<String>,
}

/// A lifecycle step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Submit,
    Approve,
    Reject,
    Retire,
    Restore,
}

impl Transition {
    pub fn from_code(code: &str) -> Option<Transition> {
        match code {
            "submit" => Some(Transition::Submit),
            "approve" => Some(Transition::Approve),
            "reject" => Some(Transition::Reject),
            "retire" => Some(Transition::Retire),
            "restore" => Some(Transition::Restore),
            _ => None,
        }
    }

    fn action(self) -> Action {
        match self {
            Transition::Submit => Action::Submit,
            Transition::Approve => Action::Approve,
            Transition::Reject => Action::Reject,
            Transition::Retire => Action::Retire,
            Transition::Restore => Action::Restore,
        }
    }

    fn needs_reviewer(self) -> bool {
        match self {
            Transition::Submit => false,
            Transition::Approve | Transition::Reject | Transition::Retire | Transition::Restore => true,
        }
    }
}

/// An item as editors read it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemView {
    pub id: String,
    /// The head version (the working copy's when there is one): the `ETag`.
    pub version: u32,
    #[schema(value_type = String)]
    pub status: Status,
    /// The version agents and bots are served, when one is published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_version: Option<u32>,
    /// The head state's fields.
    #[schema(value_type = Object)]
    pub record: Item,
    /// Every linked id with its label and class (or `missing`).
    pub links: BTreeMap<String, Vec<LinkView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub saved_by: Option<Actor>,
    pub saved_at_ms: u64,
    /// Whether `review_by` has passed.
    pub overdue: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub class: Option<EntityClass>,
    /// The id names nothing in the store.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub missing: bool,
}

/// What an accepted edit answers.
#[derive(Debug, Clone, Serialize)]
pub struct EditOutcome {
    pub item: ItemView,
    pub audit: AuditEntry,
}

/// Filters of the editors' item list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemListFilter {
    pub status: Vec<Status>,
    pub kind: Vec<ItemKind>,
    /// An organisation id; with `subunits` also everything below it.
    pub owner: Option<String>,
    pub subunits: bool,
    pub product: Option<String>,
    pub fault: Option<String>,
    /// Milliseconds since the epoch.
    pub updated_since_ms: Option<u64>,
    pub overdue: Option<bool>,
    /// Words of the title or id (case-insensitive substring).
    pub q: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemList {
    pub total: usize,
    pub items: Vec<ItemSummary>,
}

/// A field that differs between two versions.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldChange {
    pub field: String,
    #[schema(value_type = Object)]
    pub from: serde_json::Value,
    #[schema(value_type = Object)]
    pub to: serde_json::Value,
}

/// One line of a body diff.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiffLine {
    /// `equal`, `delete` or `insert`.
    pub op: &'static str,
    /// 1-based line number in the `from` version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_line: Option<usize>,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemDiff {
    pub id: String,
    pub from: u32,
    pub to: u32,
    pub fields: Vec<FieldChange>,
    pub body: Vec<DiffLine>,
}

/// One version in an item's history, with the audit entry that wrote it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionEntry {
    pub version: u32,
    #[schema(value_type = String)]
    pub status: Status,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub action: Option<Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub actor: Option<Actor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Today as `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    calendar::Date::today().to_string()
}

fn is_overdue(review_by: Option<&str>, today: &str) -> bool {
    review_by.is_some_and(|d| d < today)
}

/// A new item id: `kb-` and the kind's short code, the date and a counter-salted hash.
fn generate_id(kind: ItemKind) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hash = blake3::hash(format!("{nanos}:{n}:{}", std::process::id()).as_bytes());
    let short: String = kind.code().split('_').filter_map(|w| w.chars().next()).collect();
    format!("kb-{short}-{}", &hash.to_hex()[..10])
}

fn version_conflict(state: &RecordState, expected: u32) -> EditError {
    let head = state.head();
    EditError::VersionConflict {
        expected,
        current: state.head_version(),
        saved_by: head.and_then(|h| h.saved_by.as_ref()).map(|a| a.name.clone()).unwrap_or_else(|| "unknown".into()),
    }
}

fn head_item(state: &RecordState) -> Option<&Item> {
    match &state.head()?.record {
        Record::Item(item) => Some(item),
        Record::Entity(_) => None,
    }
}

impl Engine {
    pub(crate) fn catalogue_read<T>(&self, read: impl FnOnce(&Catalogue) -> T) -> Result<T> {
        {
            let guard = self.catalogue.read().map_err(|_| self.poisoned())?;
            if let Some(catalogue) = guard.as_ref() {
                return Ok(read(catalogue));
            }
        }
        let mut guard = self.catalogue.write().map_err(|_| self.poisoned())?;
        if guard.is_none() {
            let started = std::time::Instant::now();
            *guard = Some(Catalogue::build(&self.store)?);
            tracing::info!(ms = started.elapsed().as_millis() as u64, "editors' catalogue built");
        }
        Ok(read(guard.as_ref().expect("just built")))
    }

    /// Applies `update` to the catalogue when it is built (a later build reads the store anyway).
    pub(crate) fn catalogue_update(&self, update: impl FnOnce(&mut Catalogue) -> Result<()>) -> Result<()> {
        let mut guard = self.catalogue.write().map_err(|_| self.poisoned())?;
        match guard.as_mut() {
            Some(catalogue) => update(catalogue),
            None => Ok(()),
        }
    }

    /// Served items linking to the given entities, for re-projection after an entity changed.
    pub(crate) fn items_linking(&self, entities: &std::collections::BTreeSet<String>) -> Result<Vec<String>> {
        self.catalogue_read(|c| c.items_linking(entities))
    }

    /// The item as editors see it (head state); `None` when there is no such item.
    pub fn item_view(&self, id: &str) -> Result<Option<ItemView>> {
        let state = self.store.state(id)?;
        self.view_of(&state, state.head())
    }

    /// The item as agents and bots see it: the served record when it is published.
    pub fn published_item(&self, id: &str) -> Result<Option<ItemView>> {
        let state = self.store.state(id)?;
        match &state.served {
            Some(served) if matches!(&served.record, Record::Item(i) if i.status == Status::Published) => {
                let mut view = self.view_of(&state, Some(served))?;
                if let Some(v) = view.as_mut() {
                    v.version = served.record.version();
                }
                Ok(view)
            }
            _ => Ok(None),
        }
    }

    fn view_of(&self, state: &RecordState, stored: Option<&StoredRecord>) -> Result<Option<ItemView>> {
        let Some(stored) = stored else { return Ok(None) };
        let Record::Item(item) = &stored.record else { return Ok(None) };
        let published_version = match state.served.as_ref().map(|s| &s.record) {
            Some(Record::Item(served)) if served.status == Status::Published => Some(served.version),
            _ => None,
        };
        let links = self.catalogue_read(|c| link_views(c, item))?;
        Ok(Some(ItemView {
            id: item.id.clone(),
            version: state.head_version(),
            status: item.status,
            published_version,
            record: item.clone(),
            links,
            saved_by: stored.saved_by.clone(),
            saved_at_ms: stored.saved_at_ms,
            overdue: is_overdue(item.review_by.as_deref(), &today()),
        }))
    }

    /// The editors' list: newest state of each item, filtered, sorted by last save (newest
    /// first, then id), one page.
    pub fn list_items(&self, filter: &ItemListFilter, offset: usize, limit: usize) -> Result<ItemList> {
        let today = today();
        let q = filter.q.as_ref().map(|q| q.to_lowercase());
        self.catalogue_read(|c| {
            let mut rows: Vec<&ItemSummary> = c
                .heads()
                .filter(|s| filter.status.is_empty() || filter.status.contains(&s.status))
                .filter(|s| filter.kind.is_empty() || filter.kind.contains(&s.kind))
                .filter(|s| match &filter.owner {
                    None => true,
                    Some(org) => match &s.owner_org {
                        Some(owner) if filter.subunits => c.orgs().within(owner, org),
                        Some(owner) => owner == org,
                        None => s.owner.as_deref() == Some(org.as_str()),
                    },
                })
                .filter(|s| filter.product.as_ref().is_none_or(|p| s.products.contains(p)))
                .filter(|s| filter.fault.as_ref().is_none_or(|f| s.faults.contains(f)))
                .filter(|s| filter.updated_since_ms.is_none_or(|t| s.updated_at_ms >= t))
                .filter(|s| filter.overdue.is_none_or(|o| is_overdue(s.review_by.as_deref(), &today) == o))
                .filter(|s| {
                    q.as_ref().is_none_or(|q| s.title.to_lowercase().contains(q) || s.id.to_lowercase().contains(q))
                })
                .collect();
            rows.sort_by(|a, b| b.updated_at_ms.cmp(&a.updated_at_ms).then_with(|| a.id.cmp(&b.id)));
            ItemList { total: rows.len(), items: rows.into_iter().skip(offset).take(limit).cloned().collect() }
        })
    }

    /// Entities for autocomplete and the graph editor: by class, and a case-insensitive
    /// substring of the id, label or an alias; labels that start with the text first.
    pub fn find_entities(
        &self,
        class: Option<EntityClass>,
        q: Option<&str>,
        limit: usize,
    ) -> Result<Vec<EntitySummary>> {
        let q = q.map(|q| analysis::normalize(q).to_lowercase()).filter(|q| !q.is_empty());
        self.catalogue_read(|c| {
            let mut found: Vec<(u8, &EntitySummary)> = c
                .entities()
                .filter(|e| class.is_none_or(|k| e.class == k))
                .filter_map(|e| match &q {
                    None => Some((1, e)),
                    Some(q) => {
                        let label = e.label.to_lowercase();
                        if label.starts_with(q.as_str()) || e.id == *q {
                            Some((0, e))
                        } else if label.contains(q.as_str())
                            || e.id.contains(q.as_str())
                            || e.aliases.iter().any(|a| a.to_lowercase().contains(q.as_str()))
                        {
                            Some((1, e))
                        } else {
                            None
                        }
                    }
                })
                .collect();
            found.sort_by(|a, b| {
                a.0.cmp(&b.0).then_with(|| a.1.label.len().cmp(&b.1.label.len())).then(a.1.id.cmp(&b.1.id))
            });
            found.into_iter().take(limit).map(|(_, e)| e.clone()).collect()
        })
    }

    /// Every version of an item with the audit entry that wrote it, oldest first.
    pub fn item_versions(&self, id: &str) -> Result<Option<Vec<VersionEntry>>> {
        let versions = self.store.history(id)?;
        if versions.is_empty() {
            return Ok(None);
        }
        let filter = AuditFilter { record: Some(id.to_string()), ..AuditFilter::default() };
        let (entries, _) = self.store.audit(&filter, 0, usize::MAX)?;
        let by_version: BTreeMap<u32, &AuditEntry> =
            entries.iter().filter_map(|e| e.to_version.map(|v| (v, e))).collect();
        Ok(Some(
            versions
                .iter()
                .filter_map(|r| match r {
                    Record::Item(item) => Some(item),
                    Record::Entity(_) => None,
                })
                .map(|item| {
                    let entry = by_version.get(&item.version);
                    VersionEntry {
                        version: item.version,
                        status: item.status,
                        title: item.title.clone(),
                        action: entry.map(|e| e.action),
                        actor: entry.map(|e| e.actor.clone()),
                        at_ms: entry.map(|e| e.at_ms),
                        reason: entry.and_then(|e| e.reason.clone()),
                    }
                })
                .collect(),
        ))
    }

    /// One stored version of an item.
    pub fn item_version(&self, id: &str, version: u32) -> Result<Option<Item>> {
        Ok(match self.store.version(id, version)? {
            Some(Record::Item(item)) => Some(item),
            _ => None,
        })
    }

    /// Field-by-field changes between two versions and a line diff of the body; `None` when
    /// either version does not exist.
    pub fn item_diff(&self, id: &str, from: u32, to: u32) -> Result<Option<ItemDiff>> {
        let (Some(old), Some(new)) = (self.item_version(id, from)?, self.item_version(id, to)?) else {
            return Ok(None);
        };
        Ok(Some(diff_items(&old, &new)))
    }

    /// Audit entries, newest first.
    pub fn audit(&self, filter: &AuditFilter, offset: usize, limit: usize) -> Result<(Vec<AuditEntry>, bool)> {
        Ok(self.store.audit(filter, offset, limit)?)
    }

    /// Creates a draft. The id is generated when not given; the owner defaults to the editor's
    /// organisation.
    pub fn create_item(&self, ctx: &EditContext, input: ItemInput) -> Result<EditOutcome, EditError> {
        let kind = input.kind;
        let id = input.id.clone().unwrap_or_else(|| generate_id(kind));
        let mut item = self.item_from_input(ctx, input, &id, 1)?;
        item.status = Status::Draft;
        self.edit_item(ctx, &id, |state| {
            if state.exists() {
                return Err(EditError::AlreadyExists(id.clone()));
            }
            Ok(EditPlan {
                served: None,
                working: WorkingPlan::Set(Record::Item(item)),
                action: Action::Create,
                reason: None,
                from_version: None,
                from_status: None,
            })
        })
    }

    /// Saves a new version of an item's content as a draft; `expected` is the version the
    /// editor started from (`If-Match`). A published item keeps serving until the draft is
    /// approved; an item in review goes back to draft.
    pub fn update_item(
        &self,
        ctx: &EditContext,
        id: &str,
        expected: u32,
        input: ItemInput,
    ) -> Result<EditOutcome, EditError> {
        if input.id.as_deref().is_some_and(|given| given != id) {
            return Err(EditError::Invalid(FieldError::new("id", "differs from the id in the path")));
        }
        let current = self.store.state(id)?;
        let Some(head) = head_item(&current) else { return Err(EditError::NotFound(id.to_string())) };
        self.check_scope(ctx, head.owner.as_deref(), "edit")?;
        let mut item = self.item_from_input(ctx, input, id, 0)?;
        self.edit_item(ctx, id, |state| {
            if state.head_version() != expected {
                return Err(version_conflict(state, expected));
            }
            let Some(head) = head_item(state) else { return Err(EditError::NotFound(id.to_string())) };
            item.version = state.head_version() + 1;
            item.status = Status::Draft;
            Ok(EditPlan {
                served: None,
                working: WorkingPlan::Set(Record::Item(item)),
                action: Action::Update,
                reason: None,
                from_version: Some(head.version),
                from_status: Some(head.status),
            })
        })
    }

    /// A lifecycle step; `expected` (`If-Match`) is checked when given.
    pub fn transition_item(
        &self,
        ctx: &EditContext,
        id: &str,
        step: Transition,
        expected: Option<u32>,
        reason: Option<String>,
    ) -> Result<EditOutcome, EditError> {
        let reason = reason.map(|r| analysis::mask(r.trim()).text).filter(|r| !r.is_empty());
        if step == Transition::Reject && reason.is_none() {
            return Err(EditError::Invalid(FieldError::new("reason", "a rejection needs a reason for the author")));
        }
        if reason.as_ref().is_some_and(|r| r.chars().count() > store::record::MAX_TITLE_CHARS * 5) {
            return Err(EditError::Invalid(FieldError::new("reason", "at most 1000 characters")));
        }
        if step.needs_reviewer() && ctx.role < EditRole::Reviewer {
            return Err(EditError::OutOfScope(format!(
                "{} needs a reviewer or admin key; an editor may submit",
                step.action().code()
            )));
        }
        let current = self.store.state(id)?;
        let Some(head) = head_item(&current) else { return Err(EditError::NotFound(id.to_string())) };
        self.check_scope(ctx, head.owner.as_deref(), step.action().code())?;
        let four_eyes = self.four_eyes;
        self.edit_item(ctx, id, |state| {
            if let Some(expected) = expected
                && state.head_version() != expected
            {
                return Err(version_conflict(state, expected));
            }
            plan_transition(state, step, reason, ctx, four_eyes)
        })
    }

    /// Runs one store edit under the write lock, then brings the catalogue and (when the served
    /// record changed) every projection up to it before answering.
    fn edit_item(
        &self,
        ctx: &EditContext,
        id: &str,
        decide: impl FnOnce(&RecordState) -> Result<EditPlan, EditError>,
    ) -> Result<EditOutcome, EditError> {
        let guard = self.write_lock()?;
        let done: EditDone = self.store.edit(id, &ctx.actor, decide)??;
        self.catalogue_update(|c| {
            c.set_working(id, done.state.working.as_ref());
            Ok(())
        })?;
        if done.seq.is_some() {
            self.catch_up_locked(&guard)?;
        }
        drop(guard);
        let item = self
            .view_of(&done.state, done.state.head())?
            .ok_or_else(|| EditError::Engine(Error::Internal("an edit left no item".into())))?;
        Ok(EditOutcome { item, audit: done.audit })
    }

    /// Checks that `ctx` may act on an item owned by `owner`.
    fn check_scope(&self, ctx: &EditContext, owner: Option<&str>, what: &str) -> Result<(), EditError> {
        if ctx.role == EditRole::Admin {
            return Ok(());
        }
        let Some(org) = &ctx.org else {
            return Err(EditError::OutOfScope(format!(
                "this key belongs to no organisation, so it may not {what} items; create a key with --org"
            )));
        };
        let allowed = self.catalogue_read(|c| {
            let owner_org = owner.and_then(|o| c.orgs().resolve(o)).map(|u| u.id.clone());
            owner_org.is_some_and(|owner| c.orgs().within(&owner, org))
        })?;
        if allowed {
            Ok(())
        } else {
            Err(EditError::OutOfScope(format!(
                "the item belongs to an organisation outside `{org}` and its sub-units; this key may not {what} it"
            )))
        }
    }

    /// Turns an editor's input into a valid item: owner defaulted and checked against the
    /// scope, links checked against the graph's entities, personal data masked.
    fn item_from_input(&self, ctx: &EditContext, input: ItemInput, id: &str, version: u32) -> Result<Item, EditError> {
        let (owner, owner_level) = self.resolve_owner(ctx, input.owner.as_deref())?;
        let mask = |text: String| analysis::mask(&text).text;
        let item = Item {
            id: id.to_string(),
            kind: input.kind,
            title: mask(input.title),
            body: mask(input.body),
            products: input.products,
            faults: input.faults,
            contracts: input.contracts,
            cases: input.cases,
            customers: input.customers,
            cites: input.cites,
            tags: input.tags.into_iter().map(mask).collect(),
            category: input.category,
            owner,
            owner_level,
            status: Status::Draft,
            version: version.max(1),
            valid_until: input.valid_until,
            superseded_by: input.superseded_by,
            source: input.source.map(mask),
            review_by: input.review_by,
        };
        item.validate().map_err(EditError::Invalid)?;
        self.check_links(&item)?;
        Ok(item)
    }

    fn resolve_owner(
        &self,
        ctx: &EditContext,
        owner: Option<&str>,
    ) -> Result<(Option<String>, Option<OrgLevel>), EditError> {
        let wanted = owner.map(str::trim).filter(|o| !o.is_empty()).map(str::to_string).or_else(|| ctx.org.clone());
        let Some(wanted) = wanted else { return Ok((None, None)) };
        let unit = self.catalogue_read(|c| c.orgs().resolve(&wanted).cloned())?;
        let Some(unit) = unit else {
            return Err(EditError::Invalid(FieldError::new(
                "owner",
                "names no organisation of the tree; give an organisation id such as org-p01 or its full name",
            )));
        };
        if ctx.role != EditRole::Admin {
            let within = ctx
                .org
                .as_ref()
                .is_some_and(|org| self.catalogue_read(|c| c.orgs().within(&unit.id, org)).unwrap_or(false));
            if !within {
                return Err(EditError::OutOfScope(format!(
                    "owner `{}` is outside this key's organisation and its sub-units",
                    unit.id
                )));
            }
        }
        Ok((Some(unit.label), unit.level))
    }

    /// Every linked id must name an entity of a fitting class (or, for `cites`, an item).
    fn check_links(&self, item: &Item) -> Result<(), EditError> {
        use EntityClass as C;
        let fields: [(&str, &[String], &[EntityClass]); 5] = [
            ("products", &item.products, &[C::ProductLine, C::ProductModel, C::Component]),
            ("faults", &item.faults, &[C::Fault, C::Cause, C::Solution, C::Concept]),
            ("contracts", &item.contracts, &[C::Contract]),
            ("cases", &item.cases, &[C::Case, C::Ticket]),
            ("customers", &item.customers, &[C::Customer]),
        ];
        let problem = self.catalogue_read(|c| {
            for (field, ids, classes) in fields {
                for (i, id) in ids.iter().enumerate() {
                    match c.entity(id) {
                        None => return Some(FieldError::new(format!("{field}[{i}]"), "names no entity of the graph")),
                        Some(e) if !classes.contains(&e.class) => {
                            return Some(FieldError::new(
                                format!("{field}[{i}]"),
                                format!("names a {} where {field} takes {}", e.class.code(), class_list(classes)),
                            ));
                        }
                        Some(_) => {}
                    }
                }
            }
            None
        })?;
        if let Some(problem) = problem {
            return Err(EditError::Invalid(problem));
        }
        for (i, id) in item.cites.iter().enumerate() {
            if id == &item.id || !self.store.state(id)?.exists() {
                return Err(EditError::Invalid(FieldError::new(format!("cites[{i}]"), "names no other item")));
            }
        }
        Ok(())
    }
}

fn class_list(classes: &[EntityClass]) -> String {
    classes.iter().map(|c| c.code()).collect::<Vec<_>>().join(" / ")
}

fn link_views(catalogue: &Catalogue, item: &Item) -> BTreeMap<String, Vec<LinkView>> {
    let mut links = BTreeMap::new();
    for (field, ids) in [
        ("products", &item.products),
        ("faults", &item.faults),
        ("contracts", &item.contracts),
        ("cases", &item.cases),
        ("customers", &item.customers),
    ] {
        if ids.is_empty() {
            continue;
        }
        let views = ids
            .iter()
            .map(|id| match catalogue.entity(id) {
                Some(e) => {
                    LinkView { id: id.clone(), label: Some(e.label.clone()), class: Some(e.class), missing: false }
                }
                None => LinkView { id: id.clone(), label: None, class: None, missing: true },
            })
            .collect();
        links.insert(field.to_string(), views);
    }
    if !item.cites.is_empty() {
        let views = item
            .cites
            .iter()
            .map(|id| {
                let served = catalogue.served(id);
                LinkView {
                    id: id.clone(),
                    label: served.map(|s| s.title.clone()),
                    class: None,
                    missing: served.is_none(),
                }
            })
            .collect();
        links.insert("cites".to_string(), views);
    }
    links
}

/// The pure rule of the lifecycle: what a step writes from a state, or why it may not.
fn plan_transition(
    state: &RecordState,
    step: Transition,
    reason: Option<String>,
    ctx: &EditContext,
    four_eyes: bool,
) -> Result<EditPlan, EditError> {
    let next = state.head_version() + 1;
    let working = state.working.as_ref().and_then(|w| match &w.record {
        Record::Item(item) => Some((w, item)),
        Record::Entity(_) => None,
    });
    let served = state.served.as_ref().and_then(|s| match &s.record {
        Record::Item(item) => Some(item),
        Record::Entity(_) => None,
    });
    let refuse = |status: Status, what: &str| {
        Err(EditError::InvalidState(format!("the item is {} ({}); {what}", status.code(), status.label_zh())))
    };
    let plan = |served: Option<Item>, working: WorkingPlan, from: &Item| EditPlan {
        served: served.map(Record::Item),
        working,
        action: step.action(),
        reason: reason.clone(),
        from_version: Some(from.version),
        from_status: Some(from.status),
    };
    let with = |item: &Item, status: Status| Item { status, version: next, ..item.clone() };
    match step {
        Transition::Submit => match (working, served) {
            (Some((_, item)), _) if item.status == Status::Draft => {
                Ok(plan(None, WorkingPlan::Set(Record::Item(with(item, Status::Review))), item))
            }
            (Some((_, item)), _) => refuse(item.status, "only a draft can be submitted"),
            // An item ingested as a draft has no working copy: its served record is the draft.
            (None, Some(item)) if item.status == Status::Draft => {
                Ok(plan(None, WorkingPlan::Set(Record::Item(with(item, Status::Review))), item))
            }
            (None, Some(item)) => refuse(item.status, "edit it to start a new draft"),
            (None, None) => Err(EditError::InvalidState("there is nothing to submit".into())),
        },
        Transition::Approve | Transition::Reject => {
            let item = match (working, served) {
                (Some((stored, item)), _) if item.status == Status::Review => {
                    if step == Transition::Approve
                        && four_eyes
                        && stored.author.as_deref() == Some(ctx.actor.identity())
                    {
                        return Err(EditError::FourEyes);
                    }
                    item
                }
                (Some((_, item)), _) => {
                    return refuse(item.status, "only an item in review can be approved or rejected");
                }
                (None, Some(item)) if item.status == Status::Review => {
                    if step == Transition::Approve
                        && four_eyes
                        && state.served.as_ref().and_then(|s| s.author.as_deref()) == Some(ctx.actor.identity())
                    {
                        return Err(EditError::FourEyes);
                    }
                    item
                }
                (None, Some(item)) => return refuse(item.status, "only an item in review can be approved or rejected"),
                (None, None) => return Err(EditError::InvalidState("there is nothing to review".into())),
            };
            if step == Transition::Approve {
                Ok(plan(Some(with(item, Status::Published)), WorkingPlan::Clear, item))
            } else {
                Ok(plan(None, WorkingPlan::Set(Record::Item(with(item, Status::Draft))), item))
            }
        }
        Transition::Retire => match served {
            Some(item) if item.status == Status::Published => {
                Ok(plan(Some(with(item, Status::Retired)), WorkingPlan::Keep, item))
            }
            Some(item) => refuse(item.status, "only a published item can be retired"),
            None => Err(EditError::InvalidState("the item was never published; there is nothing to retire".into())),
        },
        Transition::Restore => match served {
            Some(item) if item.status == Status::Retired => {
                Ok(plan(Some(with(item, Status::Published)), WorkingPlan::Keep, item))
            }
            Some(item) => refuse(item.status, "only a retired item can be restored"),
            None => Err(EditError::InvalidState("the item was never published; there is nothing to restore".into())),
        },
    }
}

/// Field-by-field changes (the body as a line diff) from `old` to `new`.
pub fn diff_items(old: &Item, new: &Item) -> ItemDiff {
    let as_map = |item: &Item| match serde_json::to_value(item) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (a, b) = (as_map(old), as_map(new));
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    let fields = names
        .into_iter()
        .filter(|name| !matches!(name.as_str(), "body" | "version"))
        .filter_map(|name| {
            let (from, to) = (a.get(name), b.get(name));
            (from != to).then(|| FieldChange {
                field: name.clone(),
                from: from.cloned().unwrap_or(serde_json::Value::Null),
                to: to.cloned().unwrap_or(serde_json::Value::Null),
            })
        })
        .collect();
    let diff = similar::TextDiff::from_lines(&old.body, &new.body);
    let body = diff
        .iter_all_changes()
        .map(|change| DiffLine {
            op: match change.tag() {
                similar::ChangeTag::Equal => "equal",
                similar::ChangeTag::Delete => "delete",
                similar::ChangeTag::Insert => "insert",
            },
            old_line: change.old_index().map(|i| i + 1),
            new_line: change.new_index().map(|i| i + 1),
            text: change.value().trim_end_matches('\n').to_string(),
        })
        .collect();
    ItemDiff { id: new.id.clone(), from: old.version, to: new.version, fields, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(version: u32, status: Status, body: &str) -> Item {
        serde_json::from_value(serde_json::json!({
            "id": "kb-1", "kind": "answer_standard", "title": "通道告警应答", "body": body,
            "status": status.code(), "version": version, "owner": "org-p01"
        }))
        .expect("item")
    }

    fn stored(item: Item, author: &str) -> StoredRecord {
        StoredRecord {
            seq: 1,
            hash: String::new(),
            record: Record::Item(item),
            saved_at_ms: 0,
            saved_by: None,
            author: Some(author.into()),
        }
    }

    fn ctx(name: &str, role: EditRole) -> EditContext {
        EditContext {
            actor: Actor { key_id: Some(name.into()), name: name.into(), role: "reviewer".into(), org: None },
            role,
            org: None,
        }
    }

    #[test]
    fn the_lifecycle_moves_one_step_at_a_time() {
        let reviewer = ctx("k_rev", EditRole::Reviewer);
        let draft = RecordState { served: None, working: Some(stored(item(1, Status::Draft, "a"), "k_ed")) };
        let submitted = plan_transition(&draft, Transition::Submit, None, &reviewer, true).expect("submit");
        let WorkingPlan::Set(Record::Item(review)) = &submitted.working else { panic!("a working copy") };
        assert_eq!((review.status, review.version), (Status::Review, 2));
        assert!(submitted.served.is_none(), "submitting publishes nothing");

        assert!(matches!(
            plan_transition(&draft, Transition::Approve, None, &reviewer, true),
            Err(EditError::InvalidState(_))
        ));
        let in_review = RecordState { served: None, working: Some(stored(review.clone(), "k_ed")) };
        let approved = plan_transition(&in_review, Transition::Approve, None, &reviewer, true).expect("approve");
        let Some(Record::Item(published)) = &approved.served else { panic!("a served record") };
        assert_eq!((published.status, published.version), (Status::Published, 3));
        assert_eq!(approved.working, WorkingPlan::Clear);

        let live = RecordState { served: Some(stored(published.clone(), "k_ed")), working: None };
        let retired = plan_transition(&live, Transition::Retire, None, &reviewer, true).expect("retire");
        let Some(Record::Item(retired)) = retired.served else { panic!("retired") };
        assert_eq!((retired.status, retired.version), (Status::Retired, 4));
        assert!(matches!(
            plan_transition(&live, Transition::Restore, None, &reviewer, true),
            Err(EditError::InvalidState(_))
        ));
    }

    #[test]
    fn the_last_author_may_not_approve_unless_four_eyes_is_off() {
        let author = ctx("k_ed", EditRole::Reviewer);
        let in_review = RecordState { served: None, working: Some(stored(item(2, Status::Review, "a"), "k_ed")) };
        assert!(matches!(
            plan_transition(&in_review, Transition::Approve, None, &author, true),
            Err(EditError::FourEyes)
        ));
        assert!(plan_transition(&in_review, Transition::Approve, None, &author, false).is_ok());
    }

    #[test]
    fn the_diff_names_changed_fields_and_lines() {
        let mut new = item(2, Status::Draft, "第一行\n第二行改\n第三行");
        new.title = "新标题".into();
        let diff = diff_items(&item(1, Status::Published, "第一行\n第二行\n第三行"), &new);
        let fields: Vec<&str> = diff.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["status", "title"]);
        let ops: Vec<(&str, &str)> = diff.body.iter().map(|l| (l.op, l.text.as_str())).collect();
        assert_eq!(ops, [("equal", "第一行"), ("delete", "第二行"), ("insert", "第二行改"), ("equal", "第三行")]);
        assert_eq!(diff.body[1].old_line, Some(2));
        assert_eq!(diff.body[2].new_line, Some(2));
    }
}
