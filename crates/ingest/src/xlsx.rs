//! XLSX workbooks, read without trusting them: the zip's entries are measured (declared and
//! inflated sizes) before calamine opens it, and each sheet is streamed cell by cell with its
//! declared dimension, row, column and cell counts and cell lengths checked, instead of letting
//! calamine materialise a dense range (a 1.5 KB file declaring `A1:XFD1048576` would otherwise
//! ask for hundreds of GiB).

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;

use calamine::{Data, Reader, Xlsx};

use crate::formats::{accept_row, reject};
use crate::{Batch, Location, Origin, ReadLimits};

pub(crate) fn read_workbook(path: &Path, bytes: &[u8], limits: &ReadLimits, batch: &mut Batch) {
    let file_origin = || Origin { file: path.to_path_buf(), location: Location::File };
    if let Err(message) = check_zip(bytes, limits) {
        return reject(batch, file_origin(), message);
    }
    let mut workbook = match Xlsx::new(Cursor::new(bytes)) {
        Ok(w) => w,
        Err(e) => return reject(batch, file_origin(), format!("cannot open the workbook: {e}")),
    };
    for sheet in workbook.sheet_names() {
        match read_sheet(&mut workbook, &sheet, limits) {
            Ok(rows) => accept_sheet(path, &sheet, rows, batch),
            Err(message) => reject(batch, file_origin(), format!("sheet {sheet}: {message}")),
        }
    }
}

/// Checks the zip's central directory and then each entry's inflated size against the limits;
/// says which limit an entry breaks. Inflating into a sink costs a pass over at most the limits.
pub(crate) fn check_zip(bytes: &[u8], limits: &ReadLimits) -> Result<(), String> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not an XLSX workbook (a zip archive): {e}"))?;
    if zip.len() > limits.max_zip_entries {
        return Err(format!(
            "refused: the workbook has {} zip entries, more than limits.max_zip_entries ({})",
            zip.len(),
            limits.max_zip_entries
        ));
    }
    let too_big = |name: &str, size: u64, claimed: bool| {
        let how = if claimed { "claims" } else { "inflates to" };
        format!(
            "refused: zip entry {name} {how} {size} bytes or more, more than limits.max_zip_entry_bytes ({})",
            limits.max_zip_entry_bytes
        )
    };
    let too_much = |total: u64| {
        format!(
            "refused: the workbook's zip entries hold {total} bytes or more, more than limits.max_zip_total_bytes ({})",
            limits.max_zip_total_bytes
        )
    };
    let mut declared = 0u64;
    for index in 0..zip.len() {
        let entry = zip.by_index_raw(index).map_err(|e| format!("unreadable zip entry {index}: {e}"))?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{index}"));
        if entry.size() > limits.max_zip_entry_bytes {
            return Err(too_big(&name, entry.size(), true));
        }
        declared = declared.saturating_add(entry.size());
        if declared > limits.max_zip_total_bytes {
            return Err(too_much(declared));
        }
    }
    // Declared sizes can lie: inflate each entry, stopping one byte past what is allowed.
    let mut total = 0u64;
    for index in 0..zip.len() {
        let entry = zip.by_index(index).map_err(|e| format!("unreadable zip entry {index}: {e}"))?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{index}"));
        let allowed = limits.max_zip_entry_bytes.min(limits.max_zip_total_bytes - total);
        let inflated = std::io::copy(&mut entry.take(allowed + 1), &mut std::io::sink())
            .map_err(|e| format!("zip entry {name} cannot be inflated: {e}"))?;
        if inflated > limits.max_zip_entry_bytes {
            return Err(too_big(&name, inflated, false));
        }
        total += inflated;
        if total > limits.max_zip_total_bytes {
            return Err(too_much(total));
        }
    }
    Ok(())
}

/// The non-empty cells of a sheet as text, by 0-based row and column.
pub(crate) type Rows = BTreeMap<u32, Vec<(u32, String)>>;

/// Streams a sheet's cells within the limits.
pub(crate) fn read_sheet(workbook: &mut Xlsx<Cursor<&[u8]>>, sheet: &str, limits: &ReadLimits) -> Result<Rows, String> {
    let mut cells = match workbook.worksheet_cells_reader(sheet) {
        Ok(cells) => cells,
        // Chart sheets and the like hold no records.
        Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(Rows::new()),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let declared = cells.dimensions();
    let declared_rows = u64::from(declared.end.0.saturating_sub(declared.start.0)) + 1;
    let declared_columns = u64::from(declared.end.1.saturating_sub(declared.start.1)) + 1;
    let range = || {
        format!(
            "{}{}:{}{}",
            column_name(declared.start.1),
            declared.start.0 + 1,
            column_name(declared.end.1),
            declared.end.0 + 1
        )
    };
    if declared_rows > limits.max_sheet_rows {
        return Err(format!(
            "refused: its declared range {} has {declared_rows} rows, more than limits.max_sheet_rows ({})",
            range(),
            limits.max_sheet_rows
        ));
    }
    if declared_columns > limits.max_sheet_columns {
        return Err(format!(
            "refused: its declared range {} has {declared_columns} columns, more than limits.max_sheet_columns ({})",
            range(),
            limits.max_sheet_columns
        ));
    }
    let mut rows = Rows::new();
    let mut count = 0u64;
    let mut first_row: Option<u32> = None;
    while let Some(cell) = cells.next_cell().map_err(|e| format!("unreadable cell: {e}"))? {
        count += 1;
        if count > limits.max_sheet_cells {
            return Err(format!("refused: it has more than limits.max_sheet_cells ({}) cells", limits.max_sheet_cells));
        }
        let (row, column) = cell.get_position();
        let at = || format!("{}{}", column_name(column), u64::from(row) + 1);
        if u64::from(column) >= limits.max_sheet_columns {
            return Err(format!(
                "refused: cell {} is past limits.max_sheet_columns ({})",
                at(),
                limits.max_sheet_columns
            ));
        }
        let text = cell_text(&Data::from(cell.get_value().clone()));
        if text.trim().is_empty() {
            continue;
        }
        let first = *first_row.get_or_insert(row);
        if u64::from(row.saturating_sub(first)) >= limits.max_sheet_rows {
            return Err(format!("refused: cell {} is past limits.max_sheet_rows ({})", at(), limits.max_sheet_rows));
        }
        if text.chars().count() > limits.max_cell_chars {
            return Err(format!(
                "refused: cell {} holds more than limits.max_cell_chars ({}) characters",
                at(),
                limits.max_cell_chars
            ));
        }
        rows.entry(row).or_default().push((column, text));
    }
    Ok(rows)
}

/// The first non-empty row is the header; every later row with a value is one record.
fn accept_sheet(path: &Path, sheet: &str, rows: Rows, batch: &mut Batch) {
    let mut rows = rows.into_iter();
    let Some((_, header)) = rows.next() else { return };
    let header: BTreeMap<u32, String> = header.into_iter().map(|(c, t)| (c, t.trim().to_string())).collect();
    for (row, mut cells) in rows {
        cells.sort_by_key(|(c, _)| *c);
        let origin = Origin {
            file: path.to_path_buf(),
            location: Location::Row { sheet: Some(sheet.to_string()), row: row as usize + 1 },
        };
        let named = cells.into_iter().map(|(c, text)| (header.get(&c).map_or("", String::as_str), text));
        accept_row(batch, origin, named);
    }
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// `0` → `A`, `25` → `Z`, `26` → `AA`.
fn column_name(mut column: u32) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (column % 26) as u8);
        if column < 26 {
            break;
        }
        column = column / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::column_name;

    #[test]
    fn column_names_as_excel_writes_them() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(16_383), "XFD");
    }
}
