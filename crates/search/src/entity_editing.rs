//! Editing the graph and the thesaurus as things: entities (product lines, models, components,
//! faults, causes, solutions, concepts, customers, contracts, …) are created and changed with the
//! same versions, `If-Match` and audit as items, checked against the ontology's relations.
//! An entity write is live at once — no review step: the graph, the entity linker and the query
//! synonyms pick up a new alias in the same call, and the items linked to the entity are
//! re-projected into the lexical index so that they match its new words.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use store::{Action, Actor, EditPlan, Entity, EntityClass, FieldError, Record, RecordState, WorkingPlan};

use crate::editing::{EditContext, EditError, EditRole, LinkView, VersionEntry};
use crate::engine::Engine;
use crate::{Error, Result};

/// The fields an editor writes; the version belongs to the store.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityInput {
    /// Given on create (or generated from the class); must match the path on update.
    #[serde(default)]
    pub id: Option<String>,
    #[schema(value_type = String)]
    pub class: EntityClass,
    pub label: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Relation (an object property of the ontology) → linked entity ids.
    #[serde(default)]
    pub links: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attrs: BTreeMap<String, serde_json::Value>,
}

/// An entity as editors read it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EntityView {
    pub id: String,
    pub version: u32,
    #[schema(value_type = Object)]
    pub record: Entity,
    /// Every link with the linked entity's label and class.
    pub links: BTreeMap<String, Vec<LinkView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub saved_by: Option<Actor>,
    pub saved_at_ms: u64,
}

/// What an accepted entity edit answers.
#[derive(Debug, Clone, Serialize)]
pub struct EntityOutcome {
    pub entity: EntityView,
    pub audit: store::AuditEntry,
}

fn generate_entity_id(class: EntityClass) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let hash = blake3::hash(format!("{nanos}:{}:{}", class.code(), std::process::id()).as_bytes());
    format!("{}-{}", class.code().to_ascii_lowercase(), &hash.to_hex()[..10])
}

fn entity_of(state: &RecordState) -> Option<&Entity> {
    match &state.served.as_ref()?.record {
        Record::Entity(entity) => Some(entity),
        Record::Item(_) => None,
    }
}

impl Engine {
    /// The entity as stored; `None` when there is none (or the id is an item's).
    pub fn entity_view(&self, id: &str) -> Result<Option<EntityView>> {
        let state = self.store.state(id)?;
        let Some(entity) = entity_of(&state) else { return Ok(None) };
        let served = state.served.as_ref().ok_or_else(|| Error::Internal("an entity without a record".into()))?;
        let links = self.catalogue_read(|c| {
            entity
                .links
                .iter()
                .map(|(relation, ids)| {
                    let views = ids
                        .iter()
                        .map(|id| match c.entity(id) {
                            Some(e) => LinkView {
                                id: id.clone(),
                                label: Some(e.label.clone()),
                                class: Some(e.class),
                                missing: false,
                            },
                            None => LinkView { id: id.clone(), label: None, class: None, missing: true },
                        })
                        .collect();
                    (relation.clone(), views)
                })
                .collect()
        })?;
        Ok(Some(EntityView {
            id: entity.id.clone(),
            version: entity.version,
            record: entity.clone(),
            links,
            saved_by: served.saved_by.clone(),
            saved_at_ms: served.saved_at_ms,
        }))
    }

    /// Every version of an entity with the audit entry that wrote it, oldest first.
    pub fn entity_versions(&self, id: &str) -> Result<Option<Vec<VersionEntry>>> {
        let versions = self.store.history(id)?;
        if !versions.iter().any(|r| matches!(r, Record::Entity(_))) {
            return Ok(None);
        }
        let filter = store::AuditFilter { record: Some(id.to_string()), ..store::AuditFilter::default() };
        let (entries, _) = self.store.audit(&filter, 0, usize::MAX)?;
        Ok(Some(
            versions
                .iter()
                .filter_map(|r| match r {
                    Record::Entity(e) => Some(e),
                    Record::Item(_) => None,
                })
                .map(|e| {
                    let entry = entries.iter().find(|a| a.to_version == Some(e.version));
                    VersionEntry {
                        version: e.version,
                        status: store::Status::Published,
                        title: e.label.clone(),
                        action: entry.map(|a| a.action),
                        actor: entry.map(|a| a.actor.clone()),
                        at_ms: entry.map(|a| a.at_ms),
                        reason: entry.and_then(|a| a.reason.clone()),
                    }
                })
                .collect(),
        ))
    }

    /// Creates an entity; it is live at once.
    pub fn create_entity(&self, ctx: &EditContext, input: EntityInput) -> Result<EntityOutcome, EditError> {
        let id = input.id.clone().unwrap_or_else(|| generate_entity_id(input.class));
        let entity = self.entity_from_input(ctx, input, &id)?;
        self.edit_entity(ctx, &id, |state| {
            if state.exists() {
                return Err(EditError::AlreadyExists(id.clone()));
            }
            Ok(EditPlan {
                served: Some(Record::Entity(entity)),
                working: WorkingPlan::Keep,
                action: Action::Create,
                reason: None,
                from_version: None,
                from_status: None,
            })
        })
    }

    /// Saves a new version of an entity; `expected` is the version the edit started from.
    pub fn update_entity(
        &self,
        ctx: &EditContext,
        id: &str,
        expected: u32,
        input: EntityInput,
    ) -> Result<EntityOutcome, EditError> {
        if input.id.as_deref().is_some_and(|given| given != id) {
            return Err(EditError::Invalid(FieldError::new("id", "differs from the id in the path")));
        }
        let current = self.store.state(id)?;
        let Some(old) = entity_of(&current) else { return Err(EditError::NotFound(id.to_string())) };
        if old.class != input.class {
            return Err(EditError::Invalid(FieldError::new(
                "class",
                format!("an entity keeps its class ({}); create a new entity instead", old.class.code()),
            )));
        }
        let mut entity = self.entity_from_input(ctx, input, id)?;
        self.edit_entity(ctx, id, |state| {
            if state.head_version() != expected {
                let saved_by = state
                    .served
                    .as_ref()
                    .and_then(|s| s.saved_by.as_ref())
                    .map(|a| a.name.clone())
                    .unwrap_or_else(|| "unknown".into());
                return Err(EditError::VersionConflict { expected, current: state.head_version(), saved_by });
            }
            let from = state.head_version();
            entity.version = from + 1;
            Ok(EditPlan {
                served: Some(Record::Entity(entity)),
                working: WorkingPlan::Keep,
                action: Action::Update,
                reason: None,
                from_version: Some(from),
                from_status: None,
            })
        })
    }

    pub(crate) fn edit_entity(
        &self,
        ctx: &EditContext,
        id: &str,
        decide: impl FnOnce(&RecordState) -> Result<EditPlan, EditError>,
    ) -> Result<EntityOutcome, EditError> {
        let guard = self.write_lock()?;
        let done = self.store.edit(id, &ctx.actor, decide)??;
        // The graph (linker, synonyms, analyser words), the catalogue and the lexical index —
        // with the items that link to this entity — are brought up to the write before answering.
        self.catch_up_locked(&guard)?;
        drop(guard);
        let entity = self
            .entity_view(id)?
            .ok_or_else(|| EditError::Engine(Error::Internal("an entity edit left no entity".into())))?;
        Ok(EntityOutcome { entity, audit: done.audit })
    }

    /// Checks an editor's entity against the schema and the ontology.
    fn entity_from_input(&self, ctx: &EditContext, input: EntityInput, id: &str) -> Result<Entity, EditError> {
        if input.class == EntityClass::Organisation && ctx.role != EditRole::Admin {
            return Err(EditError::OutOfScope(
                "the organisation tree decides every key's scope; only an admin may change it".into(),
            ));
        }
        let attrs = input.attrs.into_iter().map(|(name, value)| (name, mask_value(value))).collect();
        let entity = Entity {
            id: id.to_string(),
            class: input.class,
            label: input.label.trim().to_string(),
            aliases: dedup(input.aliases),
            links: input.links,
            attrs,
            version: 1,
        };
        entity.validate().map_err(EditError::Invalid)?;
        let relations = graph::ontology::relations();
        for (relation, ids) in &entity.links {
            let Some(declared) = relations.get(relation) else {
                let names: Vec<&str> = relations.keys().map(String::as_str).collect();
                return Err(EditError::Invalid(FieldError::new(
                    format!("links.{relation}"),
                    format!("is not a relation of the ontology; use one of {}", names.join(", ")),
                )));
            };
            if let Some(domain) = declared.domain
                && domain != entity.class
            {
                return Err(EditError::Invalid(FieldError::new(
                    format!("links.{relation}"),
                    format!(
                        "links a {} to what it names; a {} has no such relation",
                        domain.code(),
                        entity.class.code()
                    ),
                )));
            }
            let problem = self.catalogue_read(|c| {
                ids.iter().enumerate().find_map(|(i, target)| match c.entity(target) {
                    None if target == id => None,
                    None => Some(FieldError::new(format!("links.{relation}[{i}]"), "names no entity of the graph")),
                    Some(e) => declared.range.filter(|range| *range != e.class).map(|range| {
                        FieldError::new(
                            format!("links.{relation}[{i}]"),
                            format!("names a {} where `{relation}` takes a {}", e.class.code(), range.code()),
                        )
                    }),
                })
            })?;
            if let Some(problem) = problem {
                return Err(EditError::Invalid(problem));
            }
        }
        Ok(entity)
    }
}

/// Personal data in free-text attributes (a contact in a customer's attributes, say) is masked.
fn mask_value(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::String(text) => serde_json::Value::String(analysis::mask(&text).text),
        serde_json::Value::Array(values) => serde_json::Value::Array(values.into_iter().map(mask_value).collect()),
        serde_json::Value::Object(map) => {
            serde_json::Value::Object(map.into_iter().map(|(k, v)| (k, mask_value(v))).collect())
        }
        other => other,
    }
}

fn dedup(aliases: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    aliases.into_iter().map(|a| a.trim().to_string()).filter(|a| seen.insert(a.clone())).collect()
}
