//! The bounds on what one input file may make the readers do: how big a file, a line, a record,
//! a zip entry, a sheet and a cell may be. A file past a bound is refused with a rejection that
//! names the file and the bound (by its configuration name, as in `search::Limits`), before the
//! reader allocates for it.

use serde::{Deserialize, Serialize};

/// Largest input file of any format, in bytes.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Longest JSONL line, in bytes.
pub const MAX_JSONL_LINE_BYTES: usize = 1024 * 1024;
/// Largest CSV record (one row, all its fields), in bytes.
pub const MAX_CSV_RECORD_BYTES: usize = 1024 * 1024;
/// Largest Markdown file (one record), in bytes.
pub const MAX_MARKDOWN_BYTES: u64 = 1024 * 1024;
/// Largest XLSX file as stored (compressed), in bytes.
pub const MAX_XLSX_BYTES: u64 = 64 * 1024 * 1024;
/// Most entries in an XLSX zip.
pub const MAX_ZIP_ENTRIES: usize = 10_000;
/// Largest uncompressed zip entry of an XLSX (a sheet, the shared strings), in bytes.
pub const MAX_ZIP_ENTRY_BYTES: u64 = 64 * 1024 * 1024;
/// Largest sum of an XLSX's uncompressed zip entries, in bytes.
pub const MAX_ZIP_TOTAL_BYTES: u64 = 256 * 1024 * 1024;
/// Most rows of one sheet (declared or present).
pub const MAX_SHEET_ROWS: u64 = 200_000;
/// Most columns of one sheet (declared or present).
pub const MAX_SHEET_COLUMNS: u64 = 1_000;
/// Most cells present in one sheet.
pub const MAX_SHEET_CELLS: u64 = 2_000_000;
/// Longest cell text, in characters (Excel's own limit).
pub const MAX_CELL_CHARS: usize = 32_767;

/// The bounds in force while reading input files; `search::Limits` carries them with the
/// service's other limits and their configuration overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadLimits {
    pub max_file_bytes: u64,
    pub max_jsonl_line_bytes: usize,
    pub max_csv_record_bytes: usize,
    pub max_markdown_bytes: u64,
    pub max_xlsx_bytes: u64,
    pub max_zip_entries: usize,
    pub max_zip_entry_bytes: u64,
    pub max_zip_total_bytes: u64,
    pub max_sheet_rows: u64,
    pub max_sheet_columns: u64,
    pub max_sheet_cells: u64,
    pub max_cell_chars: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_file_bytes: MAX_FILE_BYTES,
            max_jsonl_line_bytes: MAX_JSONL_LINE_BYTES,
            max_csv_record_bytes: MAX_CSV_RECORD_BYTES,
            max_markdown_bytes: MAX_MARKDOWN_BYTES,
            max_xlsx_bytes: MAX_XLSX_BYTES,
            max_zip_entries: MAX_ZIP_ENTRIES,
            max_zip_entry_bytes: MAX_ZIP_ENTRY_BYTES,
            max_zip_total_bytes: MAX_ZIP_TOTAL_BYTES,
            max_sheet_rows: MAX_SHEET_ROWS,
            max_sheet_columns: MAX_SHEET_COLUMNS,
            max_sheet_cells: MAX_SHEET_CELLS,
            max_cell_chars: MAX_CELL_CHARS,
        }
    }
}

impl ReadLimits {
    /// Every bound by its configuration name, for validation.
    pub fn named(&self) -> [(&'static str, u64); 12] {
        [
            ("max_file_bytes", self.max_file_bytes),
            ("max_jsonl_line_bytes", self.max_jsonl_line_bytes as u64),
            ("max_csv_record_bytes", self.max_csv_record_bytes as u64),
            ("max_markdown_bytes", self.max_markdown_bytes),
            ("max_xlsx_bytes", self.max_xlsx_bytes),
            ("max_zip_entries", self.max_zip_entries as u64),
            ("max_zip_entry_bytes", self.max_zip_entry_bytes),
            ("max_zip_total_bytes", self.max_zip_total_bytes),
            ("max_sheet_rows", self.max_sheet_rows),
            ("max_sheet_columns", self.max_sheet_columns),
            ("max_sheet_cells", self.max_sheet_cells),
            ("max_cell_chars", self.max_cell_chars as u64),
        ]
    }
}
