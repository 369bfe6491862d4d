//! The hand-written core under `corpus/authored`, read once and indexed for the generator.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use store::{Entity, EntityClass, Item, Record};

use crate::Error;

#[derive(Debug, Clone)]
pub struct Line {
    pub id: String,
    pub label: String,
    pub aliases: Vec<String>,
    pub prefix: String,
    pub speciality: String,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub id: String,
    pub code: String,
    /// The label without the code: `超高压线路纵联电流差动保护装置`.
    pub name: String,
    pub line: String,
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub id: String,
    pub label: String,
    pub aliases: Vec<String>,
    pub models: Vec<String>,
    /// Models named on the fault itself (more typical than models only reached through the line).
    pub named_models: Vec<String>,
    pub lines: Vec<String>,
    pub causes: Vec<String>,
    pub solutions: Vec<String>,
    pub components: Vec<String>,
    pub symptom_customer: String,
    pub symptom_engineer: String,
    pub severity: String,
    pub speciality: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Named {
    pub id: String,
    pub label: String,
    pub aliases: Vec<String>,
    pub kind: String,
    pub links: Vec<String>,
}

/// The authored corpus, indexed.
#[derive(Debug, Default)]
pub struct Authored {
    pub lines: BTreeMap<String, Line>,
    pub models: BTreeMap<String, Model>,
    pub faults: BTreeMap<String, Fault>,
    pub causes: BTreeMap<String, Named>,
    pub solutions: BTreeMap<String, Named>,
    pub components: BTreeMap<String, Named>,
    pub concepts: BTreeMap<String, Named>,
    pub items: BTreeMap<String, Item>,
    /// Item ids per fault id (from the items' `faults` lists).
    pub items_by_fault: BTreeMap<String, Vec<String>>,
    pub entity_count: usize,
}

fn jsonl_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    if !dir.is_dir() {
        return Ok(files);
    }
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            files.extend(jsonl_files(&path)?);
        } else if path.extension().is_some_and(|x| x == "jsonl") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn str_attr(entity: &Entity, key: &str) -> String {
    match entity.attrs.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("、"),
        _ => String::new(),
    }
}

fn list_attr(entity: &Entity, key: &str) -> Vec<String> {
    match entity.attrs.get(key) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn links(entity: &Entity, key: &str) -> Vec<String> {
    entity.links.get(key).cloned().unwrap_or_default()
}

impl Authored {
    /// Reads every `*.jsonl` under `dir` (recursively, in path order).
    pub fn load(dir: &Path) -> Result<Authored, Error> {
        let files = jsonl_files(dir)?;
        if files.is_empty() {
            return Err(Error::Input(format!("no *.jsonl files under {}", dir.display())));
        }
        let mut entities = Vec::new();
        let mut authored = Authored::default();
        for file in files {
            let text = fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let record: Record = serde_json::from_str(line)
                    .map_err(|e| Error::Input(format!("{}:{}: {e}", file.display(), n + 1)))?;
                match record {
                    Record::Item(item) => {
                        authored.items.insert(item.id.clone(), item);
                    }
                    Record::Entity(entity) => entities.push(entity),
                }
            }
        }
        authored.entity_count = entities.len();
        for e in &entities {
            let named = || Named {
                id: e.id.clone(),
                label: e.label.clone(),
                aliases: e.aliases.clone(),
                kind: str_attr(e, "type"),
                links: e.links.values().flatten().cloned().collect(),
            };
            match e.class {
                EntityClass::ProductLine => {
                    authored.lines.insert(
                        e.id.clone(),
                        Line {
                            id: e.id.clone(),
                            label: e.label.clone(),
                            aliases: e.aliases.clone(),
                            prefix: str_attr(e, "prefix"),
                            speciality: str_attr(e, "speciality"),
                        },
                    );
                }
                EntityClass::ProductModel => {
                    let code = str_attr(e, "code");
                    let name = e.label.strip_prefix(code.as_str()).unwrap_or(&e.label).trim().to_string();
                    let line = links(e, "line").into_iter().next().unwrap_or_default();
                    authored
                        .models
                        .insert(e.id.clone(), Model { id: e.id.clone(), code, name, line, aliases: e.aliases.clone() });
                }
                EntityClass::Cause => {
                    authored.causes.insert(e.id.clone(), named());
                }
                EntityClass::Solution => {
                    authored.solutions.insert(e.id.clone(), named());
                }
                EntityClass::Component => {
                    authored.components.insert(e.id.clone(), named());
                }
                EntityClass::Concept => {
                    authored.concepts.insert(e.id.clone(), named());
                }
                _ => {}
            }
        }
        for e in entities.iter().filter(|e| e.class == EntityClass::Fault) {
            let products = links(e, "product");
            let lines: Vec<String> = products.iter().filter(|p| authored.lines.contains_key(*p)).cloned().collect();
            let named_models: Vec<String> =
                products.iter().filter(|p| authored.models.contains_key(*p)).cloned().collect();
            let mut models = named_models.clone();
            for m in authored.models.values() {
                if lines.contains(&m.line) && !models.contains(&m.id) {
                    models.push(m.id.clone());
                }
            }
            models.sort();
            let exists = |ids: Vec<String>, map: &BTreeMap<String, Named>| -> Vec<String> {
                ids.into_iter().filter(|i| map.contains_key(i)).collect()
            };
            authored.faults.insert(
                e.id.clone(),
                Fault {
                    id: e.id.clone(),
                    label: e.label.clone(),
                    aliases: e.aliases.clone(),
                    models,
                    named_models,
                    lines,
                    causes: exists(links(e, "cause"), &authored.causes),
                    solutions: exists(links(e, "solution"), &authored.solutions),
                    components: exists(links(e, "component"), &authored.components),
                    symptom_customer: str_attr(e, "symptom_customer"),
                    symptom_engineer: str_attr(e, "symptom_engineer"),
                    severity: str_attr(e, "severity"),
                    speciality: list_attr(e, "speciality"),
                },
            );
        }
        authored.faults.retain(|_, f| !f.models.is_empty() && !f.causes.is_empty() && !f.solutions.is_empty());
        for item in authored.items.values() {
            for f in &item.faults {
                authored.items_by_fault.entry(f.clone()).or_default().push(item.id.clone());
            }
        }
        if authored.faults.is_empty() || authored.models.is_empty() {
            return Err(Error::Input(format!("{} holds no usable faults or product models", dir.display())));
        }
        Ok(authored)
    }

    pub fn model_line(&self, model: &str) -> &Line {
        &self.lines[&self.models[model].line]
    }

    pub fn has_item(&self, id: &str) -> bool {
        self.items.contains_key(id)
    }
}
