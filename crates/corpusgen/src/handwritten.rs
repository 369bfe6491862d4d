//! Hand-written tickets (`corpus/handwritten/tickets.jsonl`): tickets written by people in
//! customers' own words for the cases the generated ones miss (how-to questions, vague
//! descriptions, several topics in one ticket, households next to substation engineers). They
//! are dev-split only, carry their gold items inline (`gold`: item id → 2 solves it, 1 relevant)
//! and are appended, checked, after the generated tickets; the file is optional.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use store::Category;

use crate::Error;
use crate::authored::Authored;

/// Where the hand-written tickets live, beside the authored core.
pub const FILE: &str = "handwritten/tickets.jsonl";

/// One hand-written ticket: the fields of a generated one, plus its gold.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Handwritten {
    #[serde(rename = "_id")]
    pub id: String,
    pub text: String,
    pub split: String,
    pub major: String,
    pub minor: String,
    pub products: Vec<String>,
    pub faults: Vec<String>,
    pub customer_id: Option<String>,
    pub device_serial: Option<String>,
    pub channel: String,
    pub writer: String,
    pub pii: Vec<String>,
    pub traditional: bool,
    pub typos: usize,
    pub scenario: String,
    #[serde(skip_serializing)]
    pub gold: BTreeMap<String, u8>,
}

/// The hand-written tickets of the corpus whose authored core is `authored` (none when the
/// file is absent), each checked: a `t-h` id used once, the dev split, known categories, products,
/// faults and gold items, grades 1 or 2 and one item that solves it.
pub fn load(authored: &Path, core: &Authored) -> Result<Vec<Handwritten>, Error> {
    let Some(root) = authored.parent() else { return Ok(Vec::new()) };
    let path = root.join(FILE);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut tickets = Vec::new();
    let mut ids = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", path.display(), n + 1);
        let ticket: Handwritten = serde_json::from_str(line).map_err(|e| Error::Input(format!("{}: {e}", at())))?;
        check(&ticket, core).map_err(|message| Error::Input(format!("{}: ticket {}: {message}", at(), ticket.id)))?;
        if !ids.insert(ticket.id.clone()) {
            return Err(Error::Input(format!("{}: ticket id {} twice", at(), ticket.id)));
        }
        tickets.push(ticket);
    }
    Ok(tickets)
}

fn check(t: &Handwritten, core: &Authored) -> Result<(), String> {
    if !t.id.starts_with("t-h") {
        return Err("a hand-written ticket's id starts with `t-h`".into());
    }
    if t.text.trim().is_empty() {
        return Err("empty text".into());
    }
    if t.split != "dev" {
        return Err("hand-written tickets are for tuning: split `dev`".into());
    }
    let minor = Category::from_code(&t.minor).ok_or_else(|| format!("unknown minor category `{}`", t.minor))?;
    if minor.major().code() != t.major {
        return Err(format!("major `{}` is not the major category of `{}`", t.major, t.minor));
    }
    let known_product = |p: &String| core.lines.contains_key(p) || core.models.contains_key(p);
    if let Some(p) = t.products.iter().find(|p| !known_product(p)) {
        return Err(format!("unknown product `{p}`"));
    }
    if let Some(f) = t.faults.iter().find(|f| !core.faults.contains_key(*f)) {
        return Err(format!("unknown fault `{f}`"));
    }
    if let Some((item, _)) = t.gold.iter().find(|(item, _)| !core.items.contains_key(*item)) {
        return Err(format!("gold item `{item}` is not an authored item"));
    }
    if let Some((item, grade)) = t.gold.iter().find(|(_, g)| !matches!(g, 1 | 2)) {
        return Err(format!("gold item `{item}` has grade {grade}, not 1 or 2"));
    }
    if !t.gold.values().any(|g| *g == 2) {
        return Err("no gold item solves it (grade 2)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Handwritten {
        Handwritten {
            id: "t-h0001".into(),
            text: "录波器硬盘满了".into(),
            split: "dev".into(),
            major: "fault_repair".into(),
            minor: "fault_repair".into(),
            products: vec![],
            faults: vec![],
            customer_id: None,
            device_serial: None,
            channel: "电话".into(),
            writer: "engineer".into(),
            pii: vec![],
            traditional: false,
            typos: 0,
            scenario: "hw-test".into(),
            gold: BTreeMap::from([("kb-as-fault-repair-01".to_string(), 2)]),
        }
    }

    fn core() -> Authored {
        let mut core = Authored::default();
        let item: store::Item = serde_json::from_str(
            r#"{"id": "kb-as-fault-repair-01", "kind": "answer_standard", "title": "t", "body": "b", "category": "fault_repair"}"#,
        )
        .expect("item");
        core.items.insert(item.id.clone(), item);
        core
    }

    #[test]
    fn a_good_ticket_passes_and_its_gold_is_not_written_out() {
        let t = ticket();
        assert_eq!(check(&t, &core()), Ok(()));
        let written = serde_json::to_string(&t).expect("serialises");
        assert!(!written.contains("gold") && written.starts_with(r#"{"_id":"t-h0001","text""#), "{written}");
    }

    #[test]
    fn bad_tickets_are_refused_with_the_reason() {
        let core = core();
        type Spoil = fn(&mut Handwritten);
        let cases: [(Spoil, &str); 6] = [
            (|t| t.split = "test".into(), "split `dev`"),
            (|t| t.id = "t-00001".into(), "starts with `t-h`"),
            (|t| t.major = "complaint".into(), "is not the major category"),
            (|t| t.faults = vec!["f-nothing".into()], "unknown fault"),
            (|t| t.gold = BTreeMap::from([("kb-nothing".to_string(), 2)]), "not an authored item"),
            (|t| t.gold = BTreeMap::from([("kb-as-fault-repair-01".to_string(), 1)]), "solves it"),
        ];
        for (spoil, expected) in cases {
            let mut t = ticket();
            spoil(&mut t);
            let message = check(&t, &core).expect_err(expected);
            assert!(message.contains(expected), "{message}");
        }
    }
}
