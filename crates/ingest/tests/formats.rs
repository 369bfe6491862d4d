//! Each input format, read from real files, with its bad records named by line / row and field.

use std::path::PathBuf;

use ingest::{Location, read_paths};
use store::Record;

fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path
}

#[test]
fn jsonl_with_broken_lines_names_each_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "items.jsonl",
        concat!(
            r#"{"id":"kb-1","kind":"technical_point","title":"CT断线处理","body":"检查二次回路端子","faults":["f-ct"]}"#,
            "\n",
            "{not json\n",
            "\n",
            r#"{"id":"kb-2","kind":"technical_point","title":"缺正文"}"#,
            "\n",
            r#"{"id":"kb 3","kind":"answer_standard","title":"t","body":"b"}"#,
            "\n",
            r#"{"id":"kb-4","kind":"answer_standard","title":"应答","body":"您好","category":"praise"}"#,
            "\n",
        ),
    );
    let batch = read_paths(&[file]).expect("readable");
    let ids: Vec<_> = batch.records.iter().map(|(_, r)| r.id().to_string()).collect();
    assert_eq!(ids, ["kb-1", "kb-4"]);
    let lines: Vec<_> = batch.rejections.iter().map(|r| r.origin.location.clone()).collect();
    assert_eq!(lines, [Location::Line(2), Location::Line(4), Location::Line(5)]);
    assert_eq!(batch.rejections[0].field, None);
    assert_eq!(batch.rejections[1].field.as_deref(), Some("body"));
    assert_eq!(batch.rejections[2].field.as_deref(), Some("id"));
    assert!(batch.rejections[0].to_string().contains("items.jsonl:2"), "{}", batch.rejections[0]);
}

#[test]
fn invalid_utf8_line_is_rejected_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bytes.jsonl");
    let mut bytes = r#"{"id":"a","class":"Fault","label":"CT断线"}"#.as_bytes().to_vec();
    bytes.extend_from_slice(b"\n\xff\xfe\n");
    std::fs::write(&path, bytes).expect("write");
    let batch = read_paths(&[path]).expect("readable");
    assert_eq!(batch.records.len(), 1);
    assert_eq!(batch.rejections.len(), 1);
    assert!(batch.rejections[0].message.contains("UTF-8"));
}

#[test]
fn csv_rows_with_lists_links_and_versions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "faults.csv",
        "id,class,label,aliases,links.product,version\n\
         f-ct,Fault,CT断线,电流回路断线|CT开路,pm-931,2\n\
         f-pt,Fault,PT断线,,pm-931,two\n",
    );
    let batch = read_paths(&[file]).expect("readable");
    assert_eq!(batch.records.len(), 1);
    let Record::Entity(entity) = &batch.records[0].1 else { panic!("entity expected") };
    assert_eq!(entity.aliases, ["电流回路断线", "CT开路"]);
    assert_eq!(entity.links["product"], ["pm-931"]);
    assert_eq!(entity.version, 2);
    assert_eq!(batch.rejections[0].origin.location, Location::Row { sheet: None, row: 3 });
    assert_eq!(batch.rejections[0].field.as_deref(), Some("version"));
}

#[test]
fn markdown_front_matter_and_heading_title() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = write(
        dir.path(),
        "a.md",
        "---\nid: kb-md-1\nkind: technical_point\nproducts: [pm-931]\n---\n# 通道中断的处理\n\n检查光纤衰耗。\n",
    );
    let bad = write(dir.path(), "b.md", "# 没有前言\n正文\n");
    let batch = read_paths(&[good, bad]).expect("readable");
    let Record::Item(item) = &batch.records[0].1 else { panic!("item expected") };
    assert_eq!(item.title, "通道中断的处理");
    assert!(item.body.contains("检查光纤衰耗"));
    assert_eq!(batch.rejections.len(), 1);
    assert_eq!(batch.rejections[0].origin.location, Location::File);
}

#[test]
fn directories_are_walked_in_order_and_unknown_files_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    write(dir.path(), "b.jsonl", r#"{"id":"b","class":"Fault","label":"乙"}"#);
    write(&dir.path().join("sub"), "a.jsonl", r#"{"id":"a","class":"Fault","label":"甲"}"#);
    write(dir.path(), "notes.txt", "ignored");
    write(dir.path(), ".hidden.jsonl", "not even json");
    let batch = read_paths(&[dir.path().to_path_buf()]).expect("readable");
    let ids: Vec<_> = batch.records.iter().map(|(_, r)| r.id()).collect();
    assert_eq!(ids, ["b", "a"]);
    assert_eq!(batch.skipped_files.len(), 1);
    assert!(batch.rejections.is_empty());
}

#[test]
fn labelled_ticket_sets_and_readmes_inside_a_corpus_are_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tickets = dir.path().join("tickets");
    std::fs::create_dir_all(tickets.join("qrels")).expect("mkdir");
    write(&tickets, "queries.jsonl", r#"{"_id":"t1","text":"931保护通道告警"}"#);
    write(dir.path(), "README.md", "# about this corpus");
    write(dir.path(), "items.jsonl", r#"{"id":"f1","class":"Fault","label":"通道中断"}"#);
    let batch = read_paths(&[dir.path().to_path_buf()]).expect("readable");
    let ids: Vec<_> = batch.records.iter().map(|(_, r)| r.id()).collect();
    assert_eq!(ids, ["f1"]);
    assert!(batch.rejections.is_empty(), "tickets are not read as records: {:?}", batch.rejections);
    assert!(batch.skipped_files.contains(&tickets), "{:?}", batch.skipped_files);
    assert!(batch.skipped_files.iter().any(|f| f.ends_with("README.md")));
}

#[test]
fn missing_path_and_unknown_explicit_file_are_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(read_paths(&[dir.path().join("nope.jsonl")]).is_err());
    let txt = write(dir.path(), "x.txt", "x");
    assert!(read_paths(&[txt]).is_err());
}

#[test]
fn xlsx_sheets_rows_and_numbers() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/items.xlsx");
    let batch = read_paths(&[fixture]).expect("readable");
    let ids: Vec<_> = batch.records.iter().map(|(_, r)| r.id()).collect();
    assert_eq!(ids, ["kb-x-1", "f-time"]);
    let Record::Item(item) = &batch.records[0].1 else { panic!("item expected") };
    assert_eq!(item.version, 2);
    assert_eq!(item.products, ["pm-a", "pm-b"]);
    assert_eq!(batch.rejections.len(), 1);
    assert_eq!(batch.rejections[0].origin.location, Location::Row { sheet: Some("items".into()), row: 3 });
    assert_eq!(batch.rejections[0].field.as_deref(), Some("kind"));
}

// ---- hostile files: each is refused whole, quickly, with the file and the limit named ----

/// A minimal XLSX holding one sheet whose `sheetData` (and `<dimension>`, when given) is as given.
fn xlsx_with_sheet(dimension: Option<&str>, sheet_data: &str) -> Vec<u8> {
    let dimension = dimension.map(|d| format!(r#"<dimension ref="{d}"/>"#)).unwrap_or_default();
    let sheet = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{dimension}<sheetData>{sheet_data}</sheetData></worksheet>"#
    );
    xlsx_with_entries(&[("xl/worksheets/sheet1.xml", sheet.as_bytes())])
}

/// The package parts calamine needs around a sheet, plus `extra` entries (name, content).
fn xlsx_with_entries(extra: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let parts: [(&str, &str); 4] = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="items" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    for (name, content) in parts.iter().map(|(n, c)| (*n, c.as_bytes())).chain(extra.iter().copied()) {
        zip.start_file(name, options).expect("zip entry");
        zip.write_all(content).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

fn inline_cell(at: &str, text: &str) -> String {
    format!(r#"<c r="{at}" t="inlineStr"><is><t>{text}</t></is></c>"#)
}

/// A small sheet with a header and one good item row.
fn good_rows() -> String {
    format!(
        r#"<row r="1">{}{}{}{}</row><row r="2">{}{}{}{}</row>"#,
        inline_cell("A1", "id"),
        inline_cell("B1", "kind"),
        inline_cell("C1", "title"),
        inline_cell("D1", "body"),
        inline_cell("A2", "kb-h-1"),
        inline_cell("B2", "technical_point"),
        inline_cell("C2", "CT断线"),
        inline_cell("D2", "检查二次回路"),
    )
}

/// Reads `bytes` as the file `name` with default limits, asserting it took under a second.
fn read_hostile(dir: &std::path::Path, name: &str, bytes: &[u8]) -> ingest::Batch {
    read_hostile_within(dir, name, bytes, &ingest::ReadLimits::default())
}

fn read_hostile_within(dir: &std::path::Path, name: &str, bytes: &[u8], limits: &ingest::ReadLimits) -> ingest::Batch {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write hostile file");
    let started = std::time::Instant::now();
    let batch = ingest::read_paths_within(&[path], limits).expect("a hostile file is a rejection, not an error");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "took {:?}", started.elapsed());
    batch
}

fn only_rejection(batch: &ingest::Batch) -> String {
    assert!(batch.records.is_empty(), "nothing is read from a refused file: {:?}", batch.records);
    assert_eq!(batch.rejections.len(), 1, "{:?}", batch.rejections);
    batch.rejections[0].to_string()
}

#[test]
fn a_good_generated_workbook_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let batch = read_hostile(dir.path(), "good.xlsx", &xlsx_with_sheet(Some("A1:D2"), &good_rows()));
    assert!(batch.rejections.is_empty(), "{:?}", batch.rejections);
    let ids: Vec<_> = batch.records.iter().map(|(_, r)| r.id()).collect();
    assert_eq!(ids, ["kb-h-1"]);
    assert_eq!(batch.records[0].0.location, Location::Row { sheet: Some("items".into()), row: 2 });
}

#[test]
fn xlsx_declaring_the_whole_sheet_is_refused_before_allocating() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = xlsx_with_sheet(Some("A1:XFD1048576"), &good_rows());
    assert!(bytes.len() < 4096, "the hostile file is tiny: {} bytes", bytes.len());
    let message = only_rejection(&read_hostile(dir.path(), "declared.xlsx", &bytes));
    assert!(message.contains("declared.xlsx"), "{message}");
    assert!(message.contains("A1:XFD1048576") && message.contains("limits.max_sheet_rows"), "{message}");
}

#[test]
fn xlsx_with_cells_at_opposite_corners_is_refused() {
    // No declared range: two real cells would make calamine's dense range 2^34 cells.
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = format!(
        r#"<row r="1">{}</row><row r="1048576">{}</row>"#,
        inline_cell("A1", "id"),
        inline_cell("XFD1048576", "x")
    );
    let message = only_rejection(&read_hostile(dir.path(), "corners.xlsx", &xlsx_with_sheet(None, &rows)));
    assert!(message.contains("corners.xlsx") && message.contains("XFD1048576"), "{message}");
    assert!(message.contains("limits.max_sheet_columns"), "{message}");
    // Far rows in the first column are refused by the row bound.
    let rows = format!(
        r#"<row r="1">{}</row><row r="1048576">{}</row>"#,
        inline_cell("A1", "id"),
        inline_cell("A1048576", "x")
    );
    let message = only_rejection(&read_hostile(dir.path(), "far.xlsx", &xlsx_with_sheet(None, &rows)));
    assert!(message.contains("limits.max_sheet_rows"), "{message}");
}

#[test]
fn xlsx_zip_entry_inflating_past_the_bound_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = vec![b' '; (ingest::limits::MAX_ZIP_ENTRY_BYTES + 1024) as usize];
    let bytes =
        xlsx_with_entries(&[("xl/worksheets/sheet1.xml", xlsx_with_sheet_xml().as_bytes()), ("xl/padding.xml", &big)]);
    assert!(bytes.len() < 1024 * 1024, "a zip bomb is small: {} bytes", bytes.len());
    let message = only_rejection(&read_hostile(dir.path(), "bomb.xlsx", &bytes));
    assert!(message.contains("bomb.xlsx") && message.contains("xl/padding.xml"), "{message}");
    assert!(message.contains("limits.max_zip_entry_bytes"), "{message}");
}

fn xlsx_with_sheet_xml() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{}</sheetData></worksheet>"#,
        good_rows()
    )
}

#[test]
fn xlsx_zip_entry_claiming_a_huge_size_is_refused_from_the_central_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = xlsx_with_sheet(None, &good_rows());
    // Make every central-directory record claim 4 GiB uncompressed (zip64 sizes are in an
    // extra field when `large_file` is set: patch both the 32-bit field and the extra).
    let mut patched = 0;
    let mut at = 0;
    while let Some(offset) = bytes[at..].windows(4).position(|w| w == [0x50, 0x4b, 0x01, 0x02]) {
        let header = at + offset;
        let name_len = u16::from_le_bytes([bytes[header + 28], bytes[header + 29]]) as usize;
        let extra_len = u16::from_le_bytes([bytes[header + 30], bytes[header + 31]]) as usize;
        let size32 = u32::from_le_bytes(bytes[header + 24..header + 28].try_into().expect("4 bytes"));
        if size32 == u32::MAX {
            // zip64 extra field: id 0x0001, length, then the uncompressed size first.
            let extra = header + 46 + name_len;
            let mut e = extra;
            while e + 4 <= extra + extra_len {
                let id = u16::from_le_bytes([bytes[e], bytes[e + 1]]);
                let len = u16::from_le_bytes([bytes[e + 2], bytes[e + 3]]) as usize;
                if id == 1 {
                    bytes[e + 4..e + 12].copy_from_slice(&(1u64 << 40).to_le_bytes());
                }
                e += 4 + len;
            }
        } else {
            bytes[header + 24..header + 28].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        }
        patched += 1;
        at = header + 4;
    }
    assert!(patched >= 5, "patched {patched} central-directory records");
    let message = only_rejection(&read_hostile(dir.path(), "claims.xlsx", &bytes));
    assert!(message.contains("claims.xlsx") && message.contains("claims"), "{message}");
    assert!(message.contains("limits.max_zip_entry_bytes"), "{message}");
}

#[test]
fn sheet_cell_count_and_cell_length_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let small = ingest::ReadLimits { max_sheet_cells: 5, ..ingest::ReadLimits::default() };
    let bytes = xlsx_with_sheet(None, &good_rows());
    let message = only_rejection(&read_hostile_within(dir.path(), "cells.xlsx", &bytes, &small));
    assert!(message.contains("limits.max_sheet_cells"), "{message}");
    // Every header and `kb-h-1` fit in 6 characters; `technical_point` in B2 does not.
    let short = ingest::ReadLimits { max_cell_chars: 6, ..ingest::ReadLimits::default() };
    let message = only_rejection(&read_hostile_within(dir.path(), "long.xlsx", &bytes, &short));
    assert!(message.contains("limits.max_cell_chars") && message.contains("cell B2"), "{message}");
}

#[test]
fn oversized_lines_records_and_files_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = ingest::ReadLimits {
        max_jsonl_line_bytes: 200,
        max_csv_record_bytes: 100,
        max_markdown_bytes: 100,
        ..ingest::ReadLimits::default()
    };
    let long = "长".repeat(100);
    let jsonl = format!(
        "{}\n{}\n",
        r#"{"id":"a","class":"Fault","label":"短"}"#,
        format_args!(r#"{{"id":"b","class":"Fault","label":"{long}"}}"#)
    );
    let batch = read_hostile_within(dir.path(), "lines.jsonl", jsonl.as_bytes(), &limits);
    assert_eq!(batch.records.len(), 1, "the short line is kept");
    assert_eq!(batch.rejections[0].origin.location, Location::Line(2));
    assert!(batch.rejections[0].to_string().contains("limits.max_jsonl_line_bytes"), "{}", batch.rejections[0]);
    let csv = format!("id,class,label\nf-a,Fault,短\nf-b,Fault,{long}\n");
    let batch = read_hostile_within(dir.path(), "rows.csv", csv.as_bytes(), &limits);
    assert_eq!(batch.records.len(), 1);
    assert_eq!(batch.rejections[0].origin.location, Location::Row { sheet: None, row: 3 });
    assert!(batch.rejections[0].to_string().contains("limits.max_csv_record_bytes"), "{}", batch.rejections[0]);
    let md = format!("---\nid: kb-md\nkind: technical_point\n---\n# 标题\n{long}\n");
    let message = only_rejection(&read_hostile_within(dir.path(), "big.md", md.as_bytes(), &limits));
    assert!(message.contains("big.md") && message.contains("limits.max_markdown_bytes"), "{message}");
    let tiny = ingest::ReadLimits { max_file_bytes: 10, ..ingest::ReadLimits::default() };
    let message = only_rejection(&read_hostile_within(dir.path(), "whole.jsonl", jsonl.as_bytes(), &tiny));
    assert!(message.contains("whole.jsonl") && message.contains("limits.max_file_bytes"), "{message}");
}

#[test]
fn spreadsheet_formats_other_than_xlsx_are_not_guessed_at() {
    let dir = tempfile::tempdir().expect("tempdir");
    let xls = write(dir.path(), "old.xls", "not really");
    let err = read_paths(&[xls]).expect_err("an explicit .xls is an unknown format");
    assert!(err.to_string().contains(".xlsx"), "{err}");
}
