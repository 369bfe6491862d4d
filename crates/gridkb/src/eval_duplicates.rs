//! `gridkb eval --duplicates`: precision and recall of the duplicate and conflict warnings
//! (`Engine::check_item`) on a knowledge base holding the demo corpus, and their latency.
//!
//! Positives: the corpus's marked near-duplicates (tag `near-duplicate-of:<id>`; each side must
//! flag the other) and edited copies of sampled items (sentences reordered, words swapped for
//! synonyms, a number changed), which must flag their source. Negatives: every other item a
//! check flags — the corpus says no two other items share a text — including the hard ones it
//! holds (items on the same product and fault: check-and-handle next to phone guidance, cases
//! of one fault on one model), sampled items checked as themselves, and copies of an item whose
//! model code was replaced by another model's (the same template for another product).
//! Conflicts: a normative item's situation (kind, category, product, fault) given another text
//! must report it; the same draft in another category must not.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use search::{DraftText, Engine, NORMATIVE_KINDS};
use store::{Entity, EntityClass, Item, ItemKind, Record};

use crate::latency::Latencies;

/// Thresholds swept (the one in force is marked in the output).
const SWEEP: [f32; 11] = [0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80];
/// Every n-th authored item and every n-th solved case are sampled for edited copies and
/// background checks.
const AUTHORED_STRIDE: usize = 3;
const CASE_STRIDE: usize = 60;

/// Word pairs swapped in the synonym edit (both directions are real usage in the corpus).
const SYNONYMS: [(&str, &str); 10] = [
    ("装置", "设备"),
    ("检查", "检测"),
    ("客户", "用户"),
    ("更换", "替换"),
    ("告警", "报警"),
    ("处理", "处置"),
    ("确认", "核实"),
    ("现场", "到站"),
    ("故障", "异常"),
    ("联系", "联络"),
];

/// One check's outcome: the candidates' similarities, best first.
struct Outcome {
    scores: Vec<(String, f32)>,
}

impl Outcome {
    /// The ids a check with `threshold` would return (at most the top k).
    fn flagged(&self, threshold: f32) -> impl Iterator<Item = &str> {
        self.scores
            .iter()
            .filter(move |(_, s)| *s >= threshold)
            .take(search::limits::CHECK_TOP_K)
            .map(|(id, _)| id.as_str())
    }
}

/// A check and what it must (and may) flag.
struct Case {
    set: Set,
    /// The item the draft was made from.
    source: String,
    outcome: Outcome,
    /// Must be flagged (positives).
    expected: Vec<String>,
    /// May be flagged without counting as a false alarm (the marked partner of a source).
    tolerated: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Set {
    Marked,
    Reordered,
    Synonyms,
    Number,
    Background,
    OtherProduct,
}

impl Set {
    fn name(self) -> &'static str {
        match self {
            Set::Marked => "marked near-duplicates (both directions)",
            Set::Reordered => "edited copy: sentences reordered",
            Set::Synonyms => "edited copy: synonyms swapped",
            Set::Number => "edited copy: a number changed",
            Set::Background => "items checked as themselves",
            Set::OtherProduct => "same template, other product",
        }
    }
}

pub fn run(engine: &Engine) -> anyhow::Result<()> {
    let mut items: Vec<Item> = Vec::new();
    let mut entities: BTreeMap<String, Entity> = BTreeMap::new();
    engine.store().for_each(|stored| {
        match stored.record {
            Record::Item(item) => items.push(item),
            Record::Entity(entity) => {
                entities.insert(entity.id.clone(), entity);
            }
        }
        Ok(())
    })?;
    let by_id: BTreeMap<&str, &Item> = items.iter().map(|i| (i.id.as_str(), i)).collect();
    let partner: BTreeMap<&str, &str> = items
        .iter()
        .flat_map(|i| {
            i.tags
                .iter()
                .filter_map(|t| t.strip_prefix("near-duplicate-of:"))
                .flat_map(move |original| [(i.id.as_str(), original), (original, i.id.as_str())])
        })
        .collect();
    let marked: Vec<(&Item, &Item)> = items
        .iter()
        .filter_map(|dup| {
            let original = dup.tags.iter().find_map(|t| t.strip_prefix("near-duplicate-of:"))?;
            Some((dup, *by_id.get(original)?))
        })
        .collect();
    let sample: Vec<&Item> = items
        .iter()
        .filter(|i| i.kind != ItemKind::SolvedCase && i.body.chars().count() >= 40)
        .step_by(AUTHORED_STRIDE)
        .chain(
            items
                .iter()
                .filter(|i| i.kind == ItemKind::SolvedCase && !partner.contains_key(i.id.as_str()))
                .step_by(CASE_STRIDE),
        )
        .collect();
    eprintln!(
        "{} items, {} marked near-duplicate pairs, {} sampled items; dense: {}",
        items.len(),
        marked.len(),
        sample.len(),
        if engine.has_dense() { "on" } else { "off" }
    );

    let mut latencies: Vec<Duration> = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut check = |set: Set,
                     source: &Item,
                     draft: &DraftText,
                     expected: Vec<String>,
                     tolerated: Vec<String>|
     -> anyhow::Result<()> {
        // The check as the API runs it, timed; then the scores behind it for the sweep.
        let started = Instant::now();
        engine.check_item(draft)?;
        latencies.push(started.elapsed());
        let mut scores: Vec<(String, f32)> =
            engine.duplicate_scores(draft)?.into_iter().map(|c| (c.id, c.similarity)).collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        cases.push(Case { set, source: source.id.clone(), outcome: Outcome { scores }, expected, tolerated });
        Ok(())
    };

    for (dup, original) in &marked {
        check(Set::Marked, dup, &DraftText::from(*dup), vec![original.id.clone()], Vec::new())?;
        check(Set::Marked, original, &DraftText::from(*original), vec![dup.id.clone()], Vec::new())?;
    }
    let models: Vec<&Entity> = entities.values().filter(|e| e.class == EntityClass::ProductModel).collect();
    for item in &sample {
        let tolerated: Vec<String> = partner.get(item.id.as_str()).map(|p| p.to_string()).into_iter().collect();
        check(Set::Background, item, &DraftText::from(*item), Vec::new(), tolerated.clone())?;
        let copy = |title: String, body: String| DraftText { id: None, title, body, ..DraftText::from(*item) };
        let expected = vec![item.id.clone()];
        if let Some(body) = reorder_sentences(&item.body) {
            check(Set::Reordered, item, &copy(item.title.clone(), body), expected.clone(), tolerated.clone())?;
        }
        if let Some((title, body)) = swap_synonyms(&item.title, &item.body) {
            check(Set::Synonyms, item, &copy(title, body), expected.clone(), tolerated.clone())?;
        }
        if let Some(body) = change_number(&item.body) {
            check(Set::Number, item, &copy(item.title.clone(), body), expected.clone(), tolerated.clone())?;
        }
        if let Some(draft) = other_product(item, &entities, &models) {
            // An item of the other model may rightly say the same: it is not a false alarm.
            let mut tolerated = tolerated;
            tolerated.extend(
                items.iter().filter(|i| i.products.iter().any(|p| p == &draft.products[0])).map(|i| i.id.clone()),
            );
            check(Set::OtherProduct, item, &draft, Vec::new(), tolerated)?;
        }
    }

    let conflicts = conflict_cases(engine, &items)?;
    report(&cases, &Latencies::new(latencies), conflicts);
    Ok(())
}

/// Counts for one threshold.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    expected: usize,
    found: usize,
    false_alarms: usize,
    checks: usize,
}

fn count(cases: &[Case], threshold: f32) -> BTreeMap<Set, Counts> {
    let mut out: BTreeMap<Set, Counts> = BTreeMap::new();
    for case in cases {
        let counts = out.entry(case.set).or_default();
        counts.checks += 1;
        let flagged: BTreeSet<&str> = case.outcome.flagged(threshold).collect();
        counts.expected += case.expected.len();
        counts.found += case.expected.iter().filter(|e| flagged.contains(e.as_str())).count();
        counts.false_alarms += flagged
            .iter()
            .filter(|id| !case.expected.iter().any(|e| e == *id) && !case.tolerated.iter().any(|t| t == *id))
            .count();
    }
    out
}

fn report(cases: &[Case], latencies: &Latencies, conflicts: ConflictCounts) {
    let current = search::limits::DUPLICATE_THRESHOLD;
    println!("threshold sweep (precision = found / (found + false alarms) over every check):");
    println!(
        "{:>9}  {:>14}  {:>14}  {:>14}  {:>9}  {:>12}",
        "threshold", "recall marked", "recall edited", "false alarms", "precision", "F1 (all)"
    );
    for threshold in SWEEP {
        let counts = count(cases, threshold);
        let sum =
            |sets: &[Set], f: fn(&Counts) -> usize| -> usize { sets.iter().filter_map(|s| counts.get(s)).map(f).sum() };
        let edited = [Set::Reordered, Set::Synonyms, Set::Number];
        let all = [Set::Marked, Set::Reordered, Set::Synonyms, Set::Number, Set::Background, Set::OtherProduct];
        let (found, expected, alarms) =
            (sum(&all, |c| c.found), sum(&all, |c| c.expected), sum(&all, |c| c.false_alarms));
        let precision = ratio(found, found + alarms);
        let recall = ratio(found, expected);
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        println!(
            "{:>8.2}{} {:>14} {:>15} {:>15} {:>10.3} {:>13.3}",
            threshold,
            if (threshold - current).abs() < 1e-6 { "*" } else { " " },
            format!("{:.3}", ratio(sum(&[Set::Marked], |c| c.found), sum(&[Set::Marked], |c| c.expected))),
            format!("{:.3}", ratio(sum(&edited, |c| c.found), sum(&edited, |c| c.expected))),
            alarms,
            precision,
            f1,
        );
    }
    println!("\nat the threshold in force ({current:.2}), per set:");
    for (set, counts) in count(cases, current) {
        println!(
            "  {:<42} {:>5} checks, found {:>4} / {:<4} (recall {:.3}), {:>4} false alarms",
            set.name(),
            counts.checks,
            counts.found,
            counts.expected,
            ratio(counts.found, counts.expected),
            counts.false_alarms
        );
    }
    println!("\nmargins: lowest similarity of a positive, highest of a negative (any threshold):");
    let sets: BTreeSet<Set> = cases.iter().map(|c| c.set).collect();
    for set in sets {
        let of_set = cases.iter().filter(|c| c.set == set);
        let lowest_positive = of_set
            .clone()
            .flat_map(|c| {
                c.expected.iter().map(|e| c.outcome.scores.iter().find(|(id, _)| id == e).map_or(0.0, |(_, s)| *s))
            })
            .reduce(f32::min);
        let highest_negative = of_set.flat_map(negatives).map(|(_, _, s)| s).reduce(f32::max);
        let show = |x: Option<f32>| x.map_or_else(|| "-".to_string(), |x| format!("{x:.3}"));
        println!(
            "  {:<42} positive ≥ {:>6}, negative ≤ {:>6}",
            set.name(),
            show(lowest_positive),
            show(highest_negative)
        );
    }
    let mut worst: Vec<(Set, &str, &str, f32)> =
        cases.iter().flat_map(|c| negatives(c).map(move |(source, id, s)| (c.set, source, id, s))).collect();
    worst.sort_by(|a, b| b.3.total_cmp(&a.3));
    println!("the most similar negatives:");
    for (set, source, id, similarity) in worst.iter().take(8) {
        println!("  {similarity:.3}  {source} → {id}  ({})", set.name());
    }
    println!(
        "\nconflicts: {} / {} situations given another text reported (recall {:.3}); {} reported for the same \
         draft in another category (should be 0); {} reported among {} normative items checked as themselves",
        conflicts.found,
        conflicts.expected,
        ratio(conflicts.found, conflicts.expected),
        conflicts.other_category,
        conflicts.existing,
        conflicts.existing_checks,
    );
    println!("\ncheck_item latency over {} checks: {latencies}", latencies.len());
}

/// A check's candidates that are neither expected nor tolerated: (source, id, similarity).
fn negatives(case: &Case) -> impl Iterator<Item = (&str, &str, f32)> {
    case.outcome
        .scores
        .iter()
        .filter(|(id, _)| !case.expected.contains(id) && !case.tolerated.contains(id))
        .map(|(id, s)| (case.source.as_str(), id.as_str(), *s))
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[derive(Debug, Default)]
struct ConflictCounts {
    expected: usize,
    found: usize,
    other_category: usize,
    existing: usize,
    existing_checks: usize,
}

/// Each published normative item with products, faults and a category, given the title and body
/// of another item of its kind: a second standard for its situation.
fn conflict_cases(engine: &Engine, items: &[Item]) -> anyhow::Result<ConflictCounts> {
    let normative: Vec<&Item> = items
        .iter()
        .filter(|i| {
            NORMATIVE_KINDS.contains(&i.kind)
                && i.status == store::Status::Published
                && !i.products.is_empty()
                && !i.faults.is_empty()
                && i.category.is_some()
        })
        .collect();
    let mut counts = ConflictCounts::default();
    for (n, item) in normative.iter().enumerate() {
        let existing = engine.check_item(&DraftText::from(*item))?;
        counts.existing_checks += 1;
        counts.existing += existing.conflicts.len();
        // Another item of the same kind about something else lends its text.
        let Some(other) = normative
            .iter()
            .cycle()
            .skip(n + 1)
            .take(normative.len())
            .find(|o| o.kind == item.kind && o.faults.iter().all(|f| !item.faults.contains(f)))
        else {
            continue;
        };
        let draft =
            DraftText { id: None, title: other.title.clone(), body: other.body.clone(), ..DraftText::from(*item) };
        counts.expected += 1;
        if engine.check_item(&draft)?.conflicts.iter().any(|c| c.id == item.id) {
            counts.found += 1;
        }
        let elsewhere = store::Category::ALL.iter().copied().find(|c| Some(*c) != item.category);
        let draft = DraftText { category: elsewhere, ..draft };
        if engine.check_item(&draft)?.conflicts.iter().any(|c| c.id == item.id) {
            counts.other_category += 1;
        }
    }
    Ok(counts)
}

/// The body's sentences in another order (reversed), when it has at least three.
fn reorder_sentences(body: &str) -> Option<String> {
    let mut sentences: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in body.chars() {
        current.push(c);
        if matches!(c, '。' | '；' | '！' | '？' | '\n') {
            sentences.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        sentences.push(current);
    }
    let sentences: Vec<String> = sentences.into_iter().filter(|s| !s.trim().is_empty()).collect();
    if sentences.len() < 3 {
        return None;
    }
    Some(sentences.into_iter().rev().collect())
}

/// Title and body with up to three of the synonym pairs swapped (every occurrence), when any applies.
fn swap_synonyms(title: &str, body: &str) -> Option<(String, String)> {
    let mut swapped = 0;
    let (mut title, mut body) = (title.to_string(), body.to_string());
    for (a, b) in SYNONYMS {
        if swapped == 3 {
            break;
        }
        let (from, to) = if body.contains(a) {
            (a, b)
        } else if body.contains(b) {
            (b, a)
        } else {
            continue;
        };
        title = title.replace(from, to);
        body = body.replace(from, to);
        swapped += 1;
    }
    (swapped > 0).then_some((title, body))
}

/// The body with its first number changed (a digit run, incremented), when it has one.
fn change_number(body: &str) -> Option<String> {
    let start = body.find(|c: char| c.is_ascii_digit())?;
    let len = body[start..].find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len() - start);
    let number: u64 = body[start..start + len].parse().ok()?;
    Some(format!("{}{}{}", &body[..start], number + 7, &body[start + len..]))
}

/// The item rewritten for another model of its line (its code replaced in title and body, its
/// product links replaced), when it names a model whose code its text contains.
fn other_product(item: &Item, entities: &BTreeMap<String, Entity>, models: &[&Entity]) -> Option<DraftText> {
    let code = |e: &Entity| e.attrs.get("code").and_then(|v| v.as_str()).map(str::to_string);
    let model = item
        .products
        .iter()
        .filter_map(|p| entities.get(p))
        .find(|e| e.class == EntityClass::ProductModel && code(e).is_some_and(|c| item.body.contains(&c)))?;
    let from = code(model)?;
    let line = model.links.get("line").and_then(|l| l.first());
    let other = models
        .iter()
        .find(|m| m.id != model.id && m.links.get("line").and_then(|l| l.first()) == line && code(m).is_some())
        .or_else(|| models.iter().find(|m| m.id != model.id && code(m).is_some()))?;
    let to = code(other)?;
    let mut products = vec![other.id.clone()];
    products.extend(other.links.get("line").into_iter().flatten().cloned());
    Some(DraftText {
        id: None,
        title: item.title.replace(&from, &to),
        body: item.body.replace(&from, &to),
        products,
        ..DraftText::from(item)
    })
}
