//! An editor's labelled questions for `gridkb tune` and `gridkb eval --set`: a question in the
//! customers' words and the ids of the items that answer it, optionally a category to report it
//! under. Three shapes, by the file's extension:
//!
//! - **JSONL**: one object per line, `{"question": "...", "expected": ["kp-1", "kp-2"],
//!   "category": "..."}`; `expected` may also be one string of ids.
//! - **CSV** or **XLSX** (the first worksheet with cells), a header row then one question per
//!   row: a `question` (or `问题`) column, an `expected` (or `expected_ids`, `期望条目`,
//!   `答案条目`) column, an optional `category` (or `类别`, `分类`) column.
//!
//! In a string, ids are separated by commas, semicolons, `、` or spaces (ASCII or full-width).
//! Every error names the line or row and what to fix.

use std::path::Path;

use anyhow::{Context, bail};
use ingest::{Format, ReadLimits};
use search::tuning::LabelledQuestion;

const QUESTION: &[&str] = &["question", "问题"];
const EXPECTED: &[&str] = &["expected", "expected_ids", "期望条目", "答案条目"];
const CATEGORY: &[&str] = &["category", "类别", "分类"];

/// Reads a labelled set from `path` (see the module docs).
pub fn read(path: &Path) -> anyhow::Result<Vec<LabelledQuestion>> {
    let format = Format::of(path).with_context(|| {
        format!("{}: a labelled set is a .jsonl, .csv or .xlsx file (question, expected item ids)", path.display())
    })?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(format, &bytes).with_context(|| path.display().to_string())
}

/// [`read`] on bytes of a known format.
pub fn parse(format: Format, bytes: &[u8]) -> anyhow::Result<Vec<LabelledQuestion>> {
    let questions = match format {
        Format::Jsonl => parse_jsonl(bytes)?,
        Format::Csv | Format::Xlsx => {
            let rows = ingest::read_table(format, bytes, &ReadLimits::default()).map_err(anyhow::Error::msg)?;
            let mut questions = Vec::with_capacity(rows.len());
            for row in rows {
                let n = row.row;
                let Some(question) = row.get(QUESTION).map(str::trim).filter(|q| !q.is_empty()) else {
                    bail!("row {n}: no question (a `question` or `问题` column)");
                };
                let expected = split_ids(row.get(EXPECTED).unwrap_or_default());
                if expected.is_empty() {
                    bail!("row {n}: no expected item id (an `expected` or `期望条目` column, ids separated by commas)");
                }
                let category = row.get(CATEGORY).map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
                questions.push(LabelledQuestion { question: question.to_owned(), expected, category });
            }
            questions
        }
        Format::Markdown => bail!("a labelled set is a .jsonl, .csv or .xlsx file, not Markdown"),
    };
    if questions.is_empty() {
        bail!("no labelled questions in it");
    }
    Ok(questions)
}

fn parse_jsonl(bytes: &[u8]) -> anyhow::Result<Vec<LabelledQuestion>> {
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .context("the file is not UTF-8 text")?;
    let mut questions = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value =
            serde_json::from_str(line).map_err(|_| anyhow::anyhow!("line {n}: not a JSON object"))?;
        let Some(object) = value.as_object() else { bail!("line {n}: not a JSON object") };
        if let Some(unknown) =
            object.keys().find(|k| !["question", "expected", "category", "id", "_id"].contains(&k.as_str()))
        {
            bail!("line {n}: unknown field `{unknown}` (known: question, expected, category)");
        }
        let Some(question) = object.get("question").and_then(|q| q.as_str()).map(str::trim).filter(|q| !q.is_empty())
        else {
            bail!("line {n}: `question` must be a non-empty string");
        };
        let expected = match object.get("expected") {
            Some(serde_json::Value::String(ids)) => split_ids(ids),
            Some(serde_json::Value::Array(ids)) => {
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    let Some(id) = id.as_str() else { bail!("line {n}: `expected` must list item ids as strings") };
                    out.extend(split_ids(id));
                }
                out
            }
            _ => bail!("line {n}: `expected` must be a list of item ids or one string of them"),
        };
        if expected.is_empty() {
            bail!("line {n}: `expected` names no item id");
        }
        let category = match object.get("category") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(c)) => Some(c.trim().to_owned()).filter(|c| !c.is_empty()),
            Some(_) => bail!("line {n}: `category` must be a string"),
        };
        questions.push(LabelledQuestion { question: question.to_owned(), expected, category });
    }
    Ok(questions)
}

/// Item ids from one cell: separated by commas, semicolons, `、` or whitespace, each trimmed,
/// repeats dropped.
pub fn split_ids(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in text.split(|c: char| matches!(c, ',' | '，' | ';' | '；' | '、') || c.is_whitespace()) {
        let id = id.trim();
        if !id.is_empty() && !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_split_on_every_separator_an_editor_types() {
        assert_eq!(split_ids("kp-1, kp-2，kp-3；kp-4、kp-5 kp-1"), ["kp-1", "kp-2", "kp-3", "kp-4", "kp-5"]);
        assert!(split_ids(" ,， ").is_empty());
    }

    #[test]
    fn jsonl_csv_and_their_mistakes() {
        let jsonl = "{\"question\": \"差动保护动作\", \"expected\": [\"kp-1\", \"kp-2\"], \"category\": \"故障\"}\n\n\
                     {\"question\": \"充电桩离线\", \"expected\": \"kp-3、kp-4\"}\n";
        let set = parse(Format::Jsonl, jsonl.as_bytes()).expect("jsonl");
        assert_eq!(set.len(), 2);
        assert_eq!(set[0].expected, ["kp-1", "kp-2"]);
        assert_eq!(set[0].category.as_deref(), Some("故障"));
        assert_eq!(set[1].expected, ["kp-3", "kp-4"]);
        let csv = "问题,期望条目,类别\n差动保护动作,\"kp-1,kp-2\",故障\n";
        let set = parse(Format::Csv, csv.as_bytes()).expect("csv with Chinese headers");
        assert_eq!(set[0].question, "差动保护动作");
        assert_eq!(set[0].expected, ["kp-1", "kp-2"]);
        for (format, text, wanted) in [
            (Format::Jsonl, "{\"question\": \"a\"}\n", "line 1: `expected`"),
            (Format::Jsonl, "{\"question\": \"a\", \"expected\": []}\n", "names no item id"),
            (Format::Jsonl, "\n{\"question\": \"\", \"expected\": [\"x\"]}\n", "line 2: `question`"),
            (Format::Jsonl, "[1]\n", "line 1: not a JSON object"),
            (Format::Jsonl, "{\"question\": \"a\", \"expected\": [\"x\"], \"answer\": 1}\n", "unknown field `answer`"),
            (Format::Csv, "question,expected\n差动保护动作,\n", "row 2: no expected"),
            (Format::Csv, "query,expected\nx,kp-1\n", "row 2: no question"),
            (Format::Csv, "question,expected\n", "no labelled questions"),
        ] {
            let error = format!("{:#}", parse(format, text.as_bytes()).expect_err(wanted));
            assert!(error.contains(wanted), "{wanted}: {error}");
        }
    }
}
