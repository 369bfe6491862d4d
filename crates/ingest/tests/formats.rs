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
