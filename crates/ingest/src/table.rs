//! A plain table from a CSV file or an XLSX workbook's first worksheet: a header row, then rows
//! of cells named by it. For files that are not knowledge records but sit beside them — an
//! editor's labelled questions for `gridkb tune` — read under the same limits as records.

use std::io::Cursor;

use calamine::{Reader, Xlsx};

use crate::{Format, ReadLimits};

/// One row below the header: its 1-based row number in the file or sheet, and its non-empty
/// cells as `(header, text)` in column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRow {
    pub row: usize,
    pub cells: Vec<(String, String)>,
}

impl TableRow {
    /// The first cell under any of `names` (compared trimmed, ASCII case ignored).
    pub fn get(&self, names: &[&str]) -> Option<&str> {
        self.cells.iter().find(|(h, _)| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n))).map(|(_, t)| t.as_str())
    }
}

/// Reads `bytes` as a table. Only CSV and XLSX are tables; anything unreadable or past the
/// limits is an error that says where.
pub fn read_table(format: Format, bytes: &[u8], limits: &ReadLimits) -> Result<Vec<TableRow>, String> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(format!("refused: the file is larger than limits.max_file_bytes ({})", limits.max_file_bytes));
    }
    match format {
        Format::Csv => csv_table(bytes, limits),
        Format::Xlsx => xlsx_table(bytes, limits),
        Format::Jsonl | Format::Markdown => Err("only CSV and XLSX files are read as tables".into()),
    }
}

fn csv_table(bytes: &[u8], limits: &ReadLimits) -> Result<Vec<TableRow>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("row 1: cannot read the header row: {e}"))?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let row = index + 2;
        let record = record.map_err(|e| format!("row {row}: unreadable: {e}"))?;
        if record.as_byte_record().as_slice().len() > limits.max_csv_record_bytes {
            return Err(format!(
                "row {row}: longer than limits.max_csv_record_bytes ({})",
                limits.max_csv_record_bytes
            ));
        }
        let cells: Vec<(String, String)> = header
            .iter()
            .zip(record.iter())
            .filter(|(_, text)| !text.trim().is_empty())
            .map(|(h, text)| (h.clone(), text.to_string()))
            .collect();
        if !cells.is_empty() {
            rows.push(TableRow { row, cells });
        }
    }
    Ok(rows)
}

fn xlsx_table(bytes: &[u8], limits: &ReadLimits) -> Result<Vec<TableRow>, String> {
    crate::xlsx::check_zip(bytes, limits)?;
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(|e| format!("cannot open the workbook: {e}"))?;
    for sheet in workbook.sheet_names() {
        let cells =
            crate::xlsx::read_sheet(&mut workbook, &sheet, limits).map_err(|m| format!("sheet {sheet}: {m}"))?;
        let mut cells = cells.into_iter();
        let Some((_, header)) = cells.next() else { continue };
        let header: std::collections::BTreeMap<u32, String> =
            header.into_iter().map(|(c, t)| (c, t.trim().to_string())).collect();
        let rows = cells
            .map(|(row, mut cells)| {
                cells.sort_by_key(|(c, _)| *c);
                let cells = cells
                    .into_iter()
                    .filter_map(|(c, text)| header.get(&c).map(|h| (h.clone(), text)))
                    .collect::<Vec<_>>();
                TableRow { row: row as usize + 1, cells }
            })
            .filter(|r| !r.cells.is_empty())
            .collect();
        return Ok(rows);
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_table_names_its_cells_by_the_header() {
        let csv = "\u{feff}question,expected,category\n差动保护动作,\"kp-1,kp-2\",故障\n,,\n充电桩离线,kp-3,\n";
        let rows = read_table(Format::Csv, csv.as_bytes(), &ReadLimits::default()).expect("table");
        assert_eq!(rows.len(), 2, "the empty row is skipped");
        assert_eq!(rows[0].row, 2);
        assert_eq!(rows[0].get(&["Question"]), Some("差动保护动作"));
        assert_eq!(rows[0].get(&["expected"]), Some("kp-1,kp-2"));
        assert_eq!(rows[1].row, 4);
        assert_eq!(rows[1].get(&["category"]), None, "an empty cell is absent");
    }

    #[test]
    fn tables_are_read_within_limits() {
        let limits = ReadLimits { max_file_bytes: 10, ..ReadLimits::default() };
        let error = read_table(Format::Csv, b"question,expected\nlong enough,x\n", &limits).expect_err("too big");
        assert!(error.contains("max_file_bytes"), "{error}");
        assert!(read_table(Format::Jsonl, b"{}", &ReadLimits::default()).is_err());
        let error = read_table(Format::Xlsx, b"not a zip", &ReadLimits::default()).expect_err("not a workbook");
        assert!(!error.is_empty());
    }
}
