//! The store against a simple in-memory model of what it should hold.

use std::collections::BTreeMap;

use proptest::prelude::*;
use store::{Entity, EntityClass, Outcome, Record, Store};

fn entity(id: &str, version: u32, label: &str) -> Record {
    Record::Entity(Entity {
        id: id.into(),
        class: EntityClass::Fault,
        label: label.into(),
        aliases: vec![],
        links: BTreeMap::new(),
        attrs: BTreeMap::new(),
        version,
    })
}

#[test]
fn versions_replace_repeat_is_noop_conflict_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("records.redb")).expect("open");
    let out = store.upsert(&[entity("f-1", 1, "CT断线")], "test").expect("write");
    assert_eq!(out, vec![Outcome::Inserted]);
    assert_eq!(store.upsert(&[entity("f-1", 1, "CT断线")], "test").expect("write"), vec![Outcome::Unchanged]);
    assert!(matches!(store.upsert(&[entity("f-1", 1, "PT断线")], "test").expect("write")[0], Outcome::Refused { .. }));
    assert_eq!(
        store.upsert(&[entity("f-1", 2, "CT二次断线")], "test").expect("write"),
        vec![Outcome::Replaced { previous_version: 1 }]
    );
    assert!(matches!(store.upsert(&[entity("f-1", 1, "CT断线")], "test").expect("write")[0], Outcome::Refused { .. }));
    assert_eq!(store.last_seq().expect("seq"), 2);
    assert_eq!(store.history("f-1").expect("history").len(), 2);
    let current = store.get("f-1").expect("get").expect("present");
    assert_eq!(current.record, entity("f-1", 2, "CT二次断线"));
    assert_eq!(current.seq, 2);
}

#[test]
fn reopen_keeps_everything_and_log_feeds_projections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("records.redb");
    {
        let store = Store::open(&path).expect("open");
        store.upsert(&[entity("a", 1, "甲"), entity("b", 1, "乙")], "test").expect("write");
        assert_eq!(store.delete(&["a", "zz"], "test").expect("delete"), vec![Outcome::Deleted, Outcome::NotFound]);
    }
    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.last_seq().expect("seq"), 3);
    assert_eq!(store.len().expect("len"), 1);
    let changes = store.changes_since(1, 100).expect("log");
    assert_eq!(changes.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(changes[1].id, "a");
    assert_eq!(store.changes_since(0, 1).expect("log").len(), 1);
}

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u32, u8),
    Delete(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, 1u32..4, 0u8..3).prop_map(|(id, v, label)| Op::Put(id, v, label)),
        (0u8..6).prop_map(Op::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Any sequence of writes leaves the store equal to a map that applies the version rules.
    #[test]
    fn store_matches_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("r.redb")).expect("open");
        let mut model: BTreeMap<String, (u32, String)> = BTreeMap::new();
        let mut seq = 0u64;
        for op in ops {
            match op {
                Op::Put(id, version, label) => {
                    let (id, label) = (format!("e{id}"), format!("label{label}"));
                    let out = store.upsert(&[entity(&id, version, &label)], "p").expect("write");
                    let newer = model.get(&id).is_none_or(|(v, _)| *v < version);
                    if newer {
                        model.insert(id, (version, label));
                        seq += 1;
                        let written = matches!(out[0], Outcome::Inserted | Outcome::Replaced { .. });
                        prop_assert!(written, "expected a write, got {:?}", out[0]);
                    }
                }
                Op::Delete(id) => {
                    let id = format!("e{id}");
                    store.delete(&[&id], "p").expect("delete");
                    if model.remove(&id).is_some() { seq += 1; }
                }
            }
        }
        prop_assert_eq!(store.last_seq().expect("seq"), seq);
        let mut stored = BTreeMap::new();
        store.for_each(|r| {
            if let Record::Entity(e) = r.record { stored.insert(e.id, (e.version, e.label)); }
            Ok(())
        }).expect("scan");
        prop_assert_eq!(stored, model);
    }
}
