//! What a data directory holds, counted for people (`gridkb stats`) and admins (`GET /v1/stats`):
//! items by kind, status, category and product line; entities by class; labelled tickets; the
//! graph's triples; vectors; how many item bodies are distinct; the store's last sequence
//! number; and the bytes each part takes on disk.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;

use serde::Serialize;
use store::{EntityClass, Record};

use crate::{Engine, Result};

/// Items with no product (or only unknown ones) are counted under this product line.
pub const NO_PRODUCT_LINE: &str = "(none)";

/// The counts of one data directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KnowledgeStats {
    pub items: ItemCounts,
    pub entities: EntityCounts,
    /// Labelled tickets (entities of class `Ticket`).
    pub tickets: u64,
    /// Triples in the knowledge graph, the ontology's included; `None` while the graph loads or
    /// when it is switched off.
    pub triples: Option<u64>,
    /// Vectors in the vector index (several per item when long items are split), and the
    /// documents they belong to; `None` without a vector index.
    pub vectors: Option<VectorCounts>,
    /// Distinct item bodies / items (1.0 when every body is different; 0 without items).
    pub distinct_text_ratio: f64,
    /// The store's last sequence number, and the one each projection has applied.
    pub seq: SeqNumbers,
    /// Bytes on disk of each top-level entry of the data directory, and their sum.
    pub disk: DiskUsage,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ItemCounts {
    pub total: u64,
    pub by_kind: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    /// By minor service category; items without one are not counted here.
    pub by_category: BTreeMap<String, u64>,
    /// By product line id: an item counts once under each line its products (lines, or models
    /// of a line) belong to, or under `(none)`.
    pub by_product_line: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EntityCounts {
    pub total: u64,
    pub by_class: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VectorCounts {
    pub documents: u64,
    pub vectors: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SeqNumbers {
    pub store: u64,
    pub lexical: u64,
    pub graph: Option<u64>,
    pub vectors: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DiskUsage {
    pub total_bytes: u64,
    /// Top-level file or directory name → bytes (directories summed recursively).
    pub entries: BTreeMap<String, u64>,
}

impl Engine {
    /// Counts what the data directory holds: one pass over the store, plus the projections'
    /// own counts and a walk of the directory.
    pub fn knowledge_stats(&self) -> Result<KnowledgeStats> {
        let mut stats = KnowledgeStats::default();
        let mut line_of_model: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut lines: BTreeSet<String> = BTreeSet::new();
        let mut item_products: Vec<Vec<String>> = Vec::new();
        let mut bodies: HashSet<u64> = HashSet::new();
        self.store().for_each(|stored| {
            match stored.record {
                Record::Item(item) => {
                    let items = &mut stats.items;
                    items.total += 1;
                    *items.by_kind.entry(item.kind.code().to_string()).or_default() += 1;
                    *items.by_status.entry(item.status.code().to_string()).or_default() += 1;
                    if let Some(category) = item.category {
                        *items.by_category.entry(category.code().to_string()).or_default() += 1;
                    }
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    item.body.hash(&mut hasher);
                    bodies.insert(hasher.finish());
                    item_products.push(item.products);
                }
                Record::Entity(entity) => {
                    stats.entities.total += 1;
                    *stats.entities.by_class.entry(entity.class.code().to_string()).or_default() += 1;
                    match entity.class {
                        EntityClass::Ticket => stats.tickets += 1,
                        EntityClass::ProductLine => {
                            lines.insert(entity.id);
                        }
                        EntityClass::ProductModel => {
                            line_of_model.insert(entity.id, entity.links.get("line").cloned().unwrap_or_default());
                        }
                        _ => {}
                    }
                }
            }
            Ok(())
        })?;
        for products in item_products {
            let mut item_lines: BTreeSet<&str> = BTreeSet::new();
            for product in &products {
                if lines.contains(product) {
                    item_lines.insert(product);
                }
                for line in line_of_model.get(product).into_iter().flatten() {
                    item_lines.insert(line);
                }
            }
            if item_lines.is_empty() {
                item_lines.insert(NO_PRODUCT_LINE);
            }
            for line in item_lines {
                *stats.items.by_product_line.entry(line.to_string()).or_default() += 1;
            }
        }
        if stats.items.total > 0 {
            stats.distinct_text_ratio = bodies.len() as f64 / stats.items.total as f64;
        }
        let engine = self.stats()?;
        stats.seq = SeqNumbers {
            store: engine.store_seq,
            lexical: engine.lexical_seq,
            graph: self.graph().map(graph::Graph::applied_seq),
            vectors: None,
        };
        if let Some(graph) = self.graph() {
            stats.triples = Some(graph.triple_count()? as u64);
        }
        match &engine.dense {
            Some(dense) => {
                let vectors = self.vector_count().unwrap_or(dense.vectors) as u64;
                stats.vectors = Some(VectorCounts { documents: dense.vectors as u64, vectors });
                stats.seq.vectors = Some(dense.applied_seq);
            }
            // Without a model loaded, what the saved index says about itself.
            None => {
                if let Ok(manifest) = vectors::Manifest::read(&self.layout().vectors_dir()) {
                    stats.vectors =
                        Some(VectorCounts { documents: manifest.count as u64, vectors: manifest.vectors as u64 });
                    stats.seq.vectors = Some(manifest.applied_seq);
                }
            }
        }
        stats.disk = disk_usage(self.data_dir());
        Ok(stats)
    }
}

fn disk_usage(dir: &Path) -> DiskUsage {
    let mut usage = DiskUsage::default();
    let Ok(entries) = std::fs::read_dir(dir) else { return usage };
    for entry in entries.flatten() {
        let bytes = size_of(&entry.path());
        usage.total_bytes += bytes;
        usage.entries.insert(entry.file_name().to_string_lossy().into_owned(), bytes);
    }
    usage
}

fn size_of(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            std::fs::read_dir(path).map(|entries| entries.flatten().map(|e| size_of(&e.path())).sum()).unwrap_or(0)
        }
        Ok(meta) => meta.len(),
        Err(_) => 0,
    }
}
