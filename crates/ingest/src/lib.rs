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
mod xlsx;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};
use store::{Entity, FieldError, Item, Record};

pub use formats::Format;
pub use limits::ReadLimits;

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
    batch
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
    record.validate()?;
    Ok((record, masked))
}

fn deserialize<T: serde::de::DeserializeOwned>(object: Map<String, Value>) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names missing / unknown fields in its message rather than in the path.
        let field = backticked(&inner).filter(|_| path == "." || path.is_empty()).unwrap_or(path);
        FieldError::new(field, inner)
    })
}

fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

/// Masks personal data in every free-text field; returns the record and the number of spans masked.
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
            Record::Item(item)
        }
        Record::Entity(mut entity) => {
            mask(&mut entity.label);
            entity.aliases.iter_mut().for_each(&mut mask);
            for value in entity.attrs.values_mut() {
                if let Value::String(text) = value {
                    mask(text);
                }
            }
            Record::Entity(entity)
        }
    };
    (record, masked)
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
