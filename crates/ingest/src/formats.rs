//! One reader per input format; each turns its units (lines, rows, files) into JSON objects and
//! hands them to [`crate::record_from_value`].

use std::path::Path;

use std::io::Read;

use serde_json::{Map, Value};

use crate::{Batch, Error, Location, Origin, ReadLimits, Rejection, record_from_value};

/// The input formats gridkb reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
    Xlsx,
    Markdown,
}

impl Format {
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            "md" | "markdown" => Some(Format::Markdown),
            _ => None,
        }
    }
}

/// Fields that hold lists; in a table cell their values are separated by `|` or `;`.
const LIST_FIELDS: &[&str] = &["products", "faults", "contracts", "cases", "customers", "cites", "tags", "aliases"];

pub(crate) fn read_file(path: &Path, format: Format, limits: &ReadLimits, batch: &mut Batch) -> Result<(), Error> {
    let cap = match format {
        Format::Markdown => ("max_markdown_bytes", limits.max_markdown_bytes),
        Format::Xlsx => ("max_xlsx_bytes", limits.max_xlsx_bytes),
        Format::Jsonl | Format::Csv => ("max_file_bytes", limits.max_file_bytes),
    };
    let (name, max) = if cap.1 <= limits.max_file_bytes { cap } else { ("max_file_bytes", limits.max_file_bytes) };
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let refuse = |batch: &mut Batch, size: u64| {
        let origin = Origin { file: path.to_path_buf(), location: Location::File };
        reject(batch, origin, format!("refused: the file is {size} bytes, more than limits.{name} ({max} bytes)"));
    };
    if size > max {
        refuse(batch, size);
        return Ok(());
    }
    // The file may grow between the size check and the read: read one byte past the bound at most.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        refuse(batch, bytes.len() as u64);
        return Ok(());
    }
    read_bytes(path, format, &bytes, limits, batch);
    Ok(())
}

pub(crate) fn read_bytes(path: &Path, format: Format, bytes: &[u8], limits: &ReadLimits, batch: &mut Batch) {
    let refuse = |batch: &mut Batch, name: &str, max: u64| {
        let origin = Origin { file: path.to_path_buf(), location: Location::File };
        let len = bytes.len();
        reject(batch, origin, format!("refused: the file is {len} bytes, more than limits.{name} ({max} bytes)"));
    };
    let len = bytes.len() as u64;
    match format {
        _ if len > limits.max_file_bytes => refuse(batch, "max_file_bytes", limits.max_file_bytes),
        Format::Jsonl => read_jsonl(path, bytes, limits, batch),
        Format::Csv => read_csv(path, bytes, limits, batch),
        Format::Xlsx if len > limits.max_xlsx_bytes => refuse(batch, "max_xlsx_bytes", limits.max_xlsx_bytes),
        Format::Xlsx => crate::xlsx::read_workbook(path, bytes, limits, batch),
        Format::Markdown if len > limits.max_markdown_bytes => {
            refuse(batch, "max_markdown_bytes", limits.max_markdown_bytes);
        }
        Format::Markdown => read_markdown(path, bytes, batch),
    }
}

pub(crate) fn accept(batch: &mut Batch, origin: Origin, value: Value) {
    match record_from_value(value) {
        Ok((record, masked)) => {
            batch.masked_spans += masked;
            batch.records.push((origin, record));
        }
        Err(e) => batch.rejections.push(Rejection { origin, field: Some(e.field), message: e.message }),
    }
}

pub(crate) fn reject(batch: &mut Batch, origin: Origin, message: impl Into<String>) {
    batch.rejections.push(Rejection { origin, field: None, message: message.into() });
}

pub(crate) fn read_jsonl(path: &Path, bytes: &[u8], limits: &ReadLimits, batch: &mut Batch) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let origin = Origin { file: path.to_path_buf(), location: Location::Line(index + 1) };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > limits.max_jsonl_line_bytes {
            let (len, max) = (line.len(), limits.max_jsonl_line_bytes);
            reject(
                batch,
                origin,
                format!("refused: the line is {len} bytes, more than limits.max_jsonl_line_bytes ({max})"),
            );
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(text) = std::str::from_utf8(line) else {
            reject(batch, origin, "line is not valid UTF-8");
            continue;
        };
        match serde_json::from_str::<Value>(text) {
            Ok(value) => accept(batch, origin, value),
            Err(e) => reject(batch, origin, format!("not valid JSON: {e}")),
        }
    }
}

fn read_csv(path: &Path, bytes: &[u8], limits: &ReadLimits, batch: &mut Batch) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(e) => {
            let origin = Origin { file: path.to_path_buf(), location: Location::Row { sheet: None, row: 1 } };
            return reject(batch, origin, format!("cannot read the header row: {e}"));
        }
    };
    for (index, row) in reader.records().enumerate() {
        let origin = Origin { file: path.to_path_buf(), location: Location::Row { sheet: None, row: index + 2 } };
        match row {
            Ok(row) if row.as_byte_record().as_slice().len() > limits.max_csv_record_bytes => {
                let (len, max) = (row.as_byte_record().as_slice().len(), limits.max_csv_record_bytes);
                reject(
                    batch,
                    origin,
                    format!("refused: the row is {len} bytes, more than limits.max_csv_record_bytes ({max})"),
                );
            }
            Ok(row) => {
                let cells = header.iter().map(String::as_str).zip(row.iter().map(str::to_string));
                accept_row(batch, origin, cells);
            }
            Err(e) => reject(batch, origin, format!("unreadable row: {e}")),
        }
    }
}

/// Builds a record object from `(column, cell)` pairs: list fields are split, `version` becomes
/// a number, `links.REL` and `attrs.NAME` columns fill those maps; empty cells are left out.
pub(crate) fn accept_row<'a>(batch: &mut Batch, origin: Origin, cells: impl Iterator<Item = (&'a str, String)>) {
    let mut object = Map::new();
    let mut links = Map::new();
    let mut attrs = Map::new();
    for (column, cell) in cells {
        let cell = cell.trim();
        if column.is_empty() || cell.is_empty() {
            continue;
        }
        if let Some(relation) = column.strip_prefix("links.") {
            links.insert(relation.to_string(), split_list(cell));
        } else if let Some(name) = column.strip_prefix("attrs.") {
            attrs.insert(name.to_string(), Value::String(cell.to_string()));
        } else if LIST_FIELDS.contains(&column) {
            object.insert(column.to_string(), split_list(cell));
        } else if column == "version" {
            match cell.parse::<u64>() {
                Ok(v) => object.insert(column.to_string(), Value::from(v)),
                Err(_) => {
                    let message = format!("`{cell}` is not a whole number");
                    batch.rejections.push(Rejection { origin, field: Some("version".into()), message });
                    return;
                }
            };
        } else {
            object.insert(column.to_string(), Value::String(cell.to_string()));
        }
    }
    if !links.is_empty() {
        object.insert("links".into(), Value::Object(links));
    }
    if !attrs.is_empty() {
        object.insert("attrs".into(), Value::Object(attrs));
    }
    accept(batch, origin, Value::Object(object));
}

fn split_list(cell: &str) -> Value {
    Value::Array(
        cell.split(['|', ';']).map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.to_string())).collect(),
    )
}

/// Markdown: YAML front matter between `---` lines gives the fields, the rest is the body; a
/// missing `title` is taken from the first `# ` heading.
fn read_markdown(path: &Path, bytes: &[u8], batch: &mut Batch) {
    let origin = Origin { file: path.to_path_buf(), location: Location::File };
    let Ok(text) = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) else {
        return reject(batch, origin, "file is not valid UTF-8");
    };
    let Some((front, body)) = split_front_matter(text) else {
        return reject(batch, origin, "no front matter: start the file with a `---` line, the fields, and `---`");
    };
    let mut object = match serde_yaml_ng::from_str::<Value>(front) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return reject(batch, origin, "front matter must be a mapping of field: value"),
        Err(e) => return reject(batch, origin, format!("front matter is not valid YAML: {e}")),
    };
    let body = body.trim();
    if !object.contains_key("title")
        && let Some(heading) = body.lines().find_map(|l| l.strip_prefix("# "))
    {
        object.insert("title".into(), Value::String(heading.trim().to_string()));
    }
    let body_field = if object.contains_key("class") { "label" } else { "body" };
    if !body.is_empty() && !object.contains_key(body_field) {
        object.insert(body_field.into(), Value::String(body.to_string()));
    }
    accept(batch, origin, Value::Object(object));
}

fn split_front_matter(text: &str) -> Option<(&str, &str)> {
    let mut lines = text.split_inclusive('\n');
    let first = lines.next()?;
    if first.trim_end() != "---" {
        return None;
    }
    let start = first.len();
    let mut offset = start;
    for line in lines {
        if line.trim_end() == "---" {
            return Some((&text[start..offset], &text[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}
