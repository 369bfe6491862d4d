//! Reading records from the files people have: JSONL, CSV, XLSX and Markdown with front matter.
//!
//! Every input becomes either a validated, PII-masked [`Record`] with its [`Origin`], or a
//! [`Rejection`] that names the file, the line or row, and the field. A bad record never stops
//! the others.
//!
//! Architecture invariant: this is the only crate that knows input file formats (calamine, csv,
//! YAML front matter); nothing here writes anywhere.

mod formats;
pub mod limits;
mod table;
mod xlsx;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};
use store::{Entity, FieldError, Item, Record};

pub use formats::Format;
pub use limits::ReadLimits;
pub use table::{TableRow, read_table};

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub file: PathBuf,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// 1-based line of a JSONL file.
    Line(usize),
    /// 1-based row of a CSV file or a sheet, counting the header as row 1.
    Row { sheet: Option<String>, row: usize },
    /// The whole file (Markdown).
    File,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match &self.location {
            Location::Line(n) => write!(f, "{file}:{n}"),
            Location::Row { sheet: Some(sheet), row } => write!(f, "{file} [{sheet}] row {row}"),
            Location::Row { sheet: None, row } => write!(f, "{file} row {row}"),
            Location::File => write!(f, "{file}"),
        }
    }
}

/// A record that was not accepted, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub origin: Origin,
    /// The offending field, when one can be named.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: field `{field}`: {}", self.origin, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

/// Everything read from a set of paths.
#[derive(Debug, Default)]
pub struct Batch {
    pub records: Vec<(Origin, Record)>,
    pub rejections: Vec<Rejection>,
    /// Files under the given directories that are not in a known format.
    pub skipped_files: Vec<PathBuf>,
    /// Number of personal-data spans masked.
    pub masked_spans: usize,
}

/// A path that cannot be read at all (as opposed to a bad record inside a file).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a file in a known format (use .jsonl, .csv, .xlsx or .md)")]
    UnknownFormat { path: PathBuf },
}

/// Reads files and directories (recursively, in path order). Explicitly named files must be in a
/// known format; unknown files found inside directories are skipped and listed, and so are
/// `README.md` files, which document a directory rather than hold records, and labelled
/// evaluation sets (directories with a `qrels/` folder, like `corpus/tickets`), which hold
/// queries rather than knowledge. Reads within the default [`ReadLimits`].
pub fn read_paths(paths: &[PathBuf]) -> Result<Batch, Error> {
    read_paths_within(paths, &ReadLimits::default())
}

/// [`read_paths`] within `limits`: a file past one of them is refused whole, with a rejection
/// that names the file and the limit, before it is read into memory.
pub fn read_paths_within(paths: &[PathBuf], limits: &ReadLimits) -> Result<Batch, Error> {
    let mut batch = Batch::default();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| Error::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            for file in files_under(path, &mut batch.skipped_files)? {
                match Format::of(&file).filter(|_| !is_readme(&file)) {
                    Some(format) => formats::read_file(&file, format, limits, &mut batch)?,
                    None => batch.skipped_files.push(file),
                }
            }
        } else {
            let format = Format::of(path).ok_or_else(|| Error::UnknownFormat { path: path.clone() })?;
            formats::read_file(path, format, limits, &mut batch)?;
        }
    }
    mask_rejections(&mut batch);
    Ok(batch)
}

/// Reads JSONL text given directly (the HTTP ingest route), as if it were `name`.
pub fn read_jsonl_bytes(name: &str, bytes: &[u8]) -> Batch {
    read_bytes(name, Format::Jsonl, bytes, &ReadLimits::default())
}

/// Reads a file's content given directly (an HTTP upload), as if it were the file `name`,
/// within `limits`.
pub fn read_bytes(name: &str, format: Format, bytes: &[u8], limits: &ReadLimits) -> Batch {
    let mut batch = Batch::default();
    formats::read_bytes(Path::new(name), format, bytes, limits, &mut batch);
    mask_rejections(&mut batch);
    batch
}

/// Rejections name the file, the line and the field and say what is wrong; a value they quote
/// (a bad id, a cell that is not a number) is masked like any text we show, so that a rejection
/// printed or returned over HTTP never carries personal data.
fn mask_rejections(batch: &mut Batch) {
    for rejection in &mut batch.rejections {
        rejection.message = analysis::mask(&rejection.message).text;
        if let Some(field) = &mut rejection.field {
            *field = analysis::mask(field).text;
        }
    }
}

fn is_readme(file: &Path) -> bool {
    file.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.eq_ignore_ascii_case("readme.md"))
}

fn is_dataset(dir: &Path) -> bool {
    dir.join("qrels").is_dir()
}

fn files_under(dir: &Path, skipped: &mut Vec<PathBuf>) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(dir).sort_by_file_name().into_iter().filter_entry(|entry| {
        if entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.') {
            return false;
        }
        if entry.file_type().is_dir() && is_dataset(entry.path()) {
            skipped.push(entry.path().to_path_buf());
            return false;
        }
        true
    });
    for entry in walker {
        let entry = entry.map_err(|e| Error::Io {
            path: e.path().unwrap_or(dir).to_path_buf(),
            source: e.into_io_error().unwrap_or_else(|| std::io::Error::other("directory loop")),
        })?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// Turns one JSON object into a validated, masked record, or says which field is wrong.
pub fn record_from_value(value: Value) -> Result<(Record, usize), FieldError> {
    let Value::Object(object) = value else {
        return Err(FieldError::new("(record)", "expected a JSON object"));
    };
    let record = match (object.contains_key("kind"), object.contains_key("class")) {
        (true, false) => Record::Item(deserialize::<Item>(object)?),
        (false, true) => Record::Entity(deserialize::<Entity>(object)?),
        (true, true) => {
            return Err(FieldError::new("kind", "a record has `kind` (item) or `class` (entity), not both"));
        }
        (false, false) => {
            return Err(FieldError::new("kind", "missing: items need `kind`, entities need `class`"));
        }
    };
    let (record, masked) = mask_record(record);
    record.validate().map_err(|e| FieldError::new(analysis::mask(&e.field).text, analysis::mask(&e.message).text))?;
    Ok((record, masked))
}

fn deserialize<T: serde::de::DeserializeOwned>(object: Map<String, Value>) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names missing / unknown fields in its message rather than in the path.
        let field = backticked(&inner).filter(|_| path == "." || path.is_empty()).unwrap_or(path);
        FieldError::new(analysis::mask(&field).text, without_value(&inner))
    })
}

/// serde's message without the value it quotes (`invalid type: string "13812345678", expected
/// u32` → `invalid type: a string, expected u32`): the field is named separately.
fn without_value(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((got, expected)) = rest.rsplit_once(", expected ")
        {
            let kind = match got.split([' ', '`', '"']).next().unwrap_or_default() {
                "string" => "a string",
                "integer" => "an integer",
                "floating" => "a number",
                "boolean" => "a boolean",
                "null" | "unit" => "null",
                "sequence" => "an array",
                "map" => "an object",
                _ => "a value of another type",
            };
            return format!("{prefix}{kind}, expected {expected}");
        }
    }
    for prefix in ["unknown variant `", "unknown field `"] {
        if message.starts_with(prefix)
            && let Some((_, expected)) = message.rsplit_once("`, expected ")
        {
            return format!("{}, expected {expected}", prefix.trim_end_matches(" `"));
        }
    }
    analysis::mask(message).text
}

fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

/// Masks personal data in every stored string that is not an id: an item's title, body, tags,
/// source and owner; an entity's label, aliases and every string (or number) inside its
/// attributes, however deeply nested, so that Dify metadata and SPARQL never return raw personal
/// data. Ids and the links between records are identifiers and are left as they are (masking
/// them would break the references). Returns the record and the number of spans masked.
fn mask_record(record: Record) -> (Record, usize) {
    let mut masked = 0;
    let mut mask = |text: &mut String| {
        let result = analysis::mask(text);
        if !result.found.is_empty() {
            masked += result.found.len();
            *text = result.text;
        }
    };
    let record = match record {
        Record::Item(mut item) => {
            mask(&mut item.title);
            mask(&mut item.body);
            item.tags.iter_mut().for_each(&mut mask);
            item.source.iter_mut().for_each(&mut mask);
            item.owner.iter_mut().for_each(&mut mask);
            Record::Item(item)
        }
        Record::Entity(mut entity) => {
            mask(&mut entity.label);
            entity.aliases.iter_mut().for_each(&mut mask);
            for value in entity.attrs.values_mut() {
                mask_value(value, &mut mask);
            }
            Record::Entity(entity)
        }
    };
    (record, masked)
}

/// Masks the strings inside a JSON value, and numbers that mask as personal data (a phone number
/// stored as a JSON number becomes its masked text).
fn mask_value(value: &mut Value, mask: &mut impl FnMut(&mut String)) {
    match value {
        Value::String(text) => mask(text),
        Value::Array(values) => values.iter_mut().for_each(|v| mask_value(v, mask)),
        Value::Object(object) => object.values_mut().for_each(|v| mask_value(v, mask)),
        Value::Number(number) => {
            let mut text = number.to_string();
            let before = text.clone();
            mask(&mut text);
            if text != before {
                *value = Value::String(text);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_missing_unknown_and_mistyped_fields() {
        let missing = record_from_value(json!({"id": "a", "kind": "technical_point", "body": "x"})).unwrap_err();
        assert_eq!(missing.field, "title");
        let unknown =
            record_from_value(json!({"id": "a", "kind": "technical_point", "title": "t", "body": "x", "titel": "t"}))
                .unwrap_err();
        assert_eq!(unknown.field, "titel");
        let mistyped = record_from_value(
            json!({"id": "a", "kind": "technical_point", "title": "t", "body": "x", "version": "two"}),
        )
        .unwrap_err();
        assert_eq!(mistyped.field, "version");
        let bad_kind = record_from_value(json!({"id": "a", "kind": "memo", "title": "t", "body": "x"})).unwrap_err();
        assert_eq!(bad_kind.field, "kind");
        let neither = record_from_value(json!({"id": "a"})).unwrap_err();
        assert_eq!(neither.field, "kind");
    }

    #[test]
    fn rejections_never_repeat_the_value() {
        let mistyped = record_from_value(
            json!({"id": "a", "kind": "technical_point", "title": "t", "body": "x", "version": "13812345678"}),
        )
        .unwrap_err();
        assert_eq!(mistyped.field, "version");
        assert!(!mistyped.message.contains("13812345678"), "{}", mistyped.message);
        let bad_id =
            record_from_value(json!({"id": "张 13812345678", "kind": "technical_point", "title": "t", "body": "x"}))
                .unwrap_err();
        assert!(!bad_id.message.contains("13812345678"), "{}", bad_id.message);
        let unknown = record_from_value(json!({"id": "a", "kind": "zhangsan@example.com", "title": "t", "body": "x"}))
            .unwrap_err();
        assert!(!unknown.message.contains("zhangsan"), "{}", unknown.message);
    }

    #[test]
    fn masks_source_owner_and_nested_attributes() {
        let (record, masked) = record_from_value(json!({
            "id": "c-2", "kind": "solved_case", "title": "客户来电", "body": "装置告警",
            "source": "客户13812345678来电", "owner": "联系人沈超"
        }))
        .expect("valid");
        let Record::Item(item) = record else { panic!("item expected") };
        assert_eq!(masked, 2);
        assert!(!item.source.as_deref().unwrap_or_default().contains("13812345678"));
        assert!(!item.owner.as_deref().unwrap_or_default().contains("沈超"));
        let (record, _) = record_from_value(json!({
            "id": "cust-1", "class": "Customer", "label": "崇岭省电力公司芷江供电公司",
            "attrs": {"contacts": [{"name": "联系人沈超", "phone": "138 1234 5678"}], "mobile": 13912345678u64,
                      "level": "地市级"}
        }))
        .expect("valid");
        let Record::Entity(entity) = record else { panic!("entity expected") };
        let text = serde_json::to_string(&entity.attrs).expect("json");
        assert_eq!(entity.label, "崇岭省电力公司芷江供电公司");
        for secret in ["1234 5678", "13912345678", "沈超"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("地市级"), "{text}");
    }

    #[test]
    fn masks_personal_data_before_storing() {
        let (record, masked) = record_from_value(json!({
            "id": "c-1", "kind": "solved_case", "title": "客户来电",
            "body": "客户手机13812345678反映装置告警"
        }))
        .expect("valid");
        let Record::Item(item) = record else { panic!("item expected") };
        assert_eq!(masked, 1);
        assert!(!item.body.contains("13812345678"), "{}", item.body);
    }
}
