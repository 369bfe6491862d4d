//! Bulk import for editors (`POST /v1/import`): records read by the ingest crate land as drafts
//! that go through review like any other edit, or — for an admin who asks — straight into the
//! served knowledge base as the CLI's `gridkb ingest` does.

use serde::Serialize;
use store::{Item, Record};

use crate::editing::{EditContext, EditError, EditRole, ItemInput};
use crate::engine::Engine;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// New drafts.
    pub created: usize,
    /// New draft versions of existing items.
    pub updated: usize,
    /// Records written straight to the served knowledge base (`publish`, admins only).
    pub published: usize,
    /// Records refused, each with its id and why (the id is the record's own, never its text).
    pub refused: Vec<ImportRefusal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportRefusal {
    pub id: String,
    pub reason: String,
}

fn input_of(item: Item) -> ItemInput {
    ItemInput {
        id: Some(item.id),
        kind: item.kind,
        title: item.title,
        body: item.body,
        products: item.products,
        faults: item.faults,
        contracts: item.contracts,
        cases: item.cases,
        customers: item.customers,
        cites: item.cites,
        tags: item.tags,
        category: item.category,
        owner: item.owner,
        valid_until: item.valid_until,
        superseded_by: item.superseded_by,
        source: item.source,
        review_by: item.review_by,
    }
}

impl Engine {
    /// Imports `records` for `ctx`, calling `progress(done, total)` as it goes. Without
    /// `publish`, items become drafts (a new draft version when the id exists), within the
    /// editor's scope; entities need `publish`. With `publish` (admins only) every record is
    /// written as the CLI's ingest writes it.
    pub fn import_records(
        &self,
        ctx: &EditContext,
        records: Vec<Record>,
        publish: bool,
        progress: &dyn Fn(usize, usize),
    ) -> Result<ImportReport, EditError> {
        let total = records.len();
        let mut report = ImportReport::default();
        if publish {
            if ctx.role != EditRole::Admin {
                return Err(EditError::OutOfScope("only an admin may import straight to published".into()));
            }
            let written = self.ingest(&records, &ctx.actor.name, &|_| {})?;
            report.published = written.inserted + written.replaced + written.unchanged;
            report.refused = written.refused.into_iter().map(|(id, reason)| ImportRefusal { id, reason }).collect();
            progress(total, total);
            return Ok(report);
        }
        for (done, record) in records.into_iter().enumerate() {
            let id = record.id().to_string();
            let result = match record {
                Record::Entity(_) => Err(EditError::OutOfScope(
                    "entities are imported by an admin with publish=true, or edited through /v1/entities".into(),
                )),
                Record::Item(item) => match self.store.state(&id).map(|s| s.head_version()) {
                    Ok(0) => self.create_item(ctx, input_of(item)).map(|_| report.created += 1),
                    Ok(head) => self.update_item(ctx, &id, head, input_of(item)).map(|_| report.updated += 1),
                    Err(e) => Err(EditError::from(e)),
                },
            };
            match result {
                Ok(()) => {}
                Err(EditError::Engine(e)) => return Err(EditError::Engine(e)),
                Err(refusal) => report.refused.push(ImportRefusal { id, reason: refusal.to_string() }),
            }
            fail::fail_point!("import.batch");
            progress(done + 1, total);
        }
        Ok(report)
    }
}
