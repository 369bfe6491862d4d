//! The service categories learned from a service centre's own labelled past tickets.
//!
//! A service centre files every ticket under a category, so its ticket history is a labelled
//! set in its customers' own words. [`CategoryModel`] is multinomial naive Bayes over the
//! characters and character pairs of each ticket (normalised, personal data masked, digits
//! folded to `0`), with add-α smoothing: it learns in milliseconds from a few thousand tickets,
//! needs no segmenter (so no dictionary gap hides a word) and says how sure it is. Ticket
//! matching adds its posterior to the cue words' and neighbours' shares (`ticket.rs`).
//!
//! The tickets are kept in the data directory ([`crate::DataLayout::TICKET_HISTORY_FILE`], one
//! `{"id", "text", "category"}` per line, the text masked before it is written) and learned again
//! at every open. [`read_labelled`] reads the files an editor brings (the same JSONL, or the
//! bundled ticket set's `queries.jsonl` with `_id`, `minor` and `split`).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};
use store::Category;

/// Minor categories the model tells apart.
const CLASSES: usize = Category::ALL.len();
/// Add-α smoothing of the gram counts. Chosen on the ticket dev split (10-fold): minor-category
/// accuracy of the model alone 0.958 / 0.950 / 0.832 with α 0.1 / 0.3 / 1.
const ALPHA: f64 = 0.1;

/// One past ticket and the category it was filed under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledTicket {
    pub id: String,
    pub text: String,
    pub category: Category,
}

/// One past ticket as a request sends it (`POST /v1/admin/categories`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PastTicket {
    /// The ticket's id in the centre's system (default: its position, `row-N`).
    #[serde(default)]
    pub id: Option<String>,
    /// The customer's words; personal data is masked before anything is kept.
    pub text: String,
    /// The minor category it was filed under (`fault_repair`, `consultation`, ...).
    #[schema(value_type = String)]
    pub category: Category,
}

impl PastTicket {
    /// The stored form: masked and normalised, with an id.
    pub fn labelled(self, row: usize) -> LabelledTicket {
        LabelledTicket {
            id: self.id.unwrap_or_else(|| format!("row-{row}")),
            text: prepare(&self.text),
            category: self.category,
        }
    }
}

/// What a learning run took in.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LearnReport {
    /// Tickets learned from.
    pub learned: usize,
    /// Of them, per minor category code.
    pub per_category: std::collections::BTreeMap<String, usize>,
}

/// What was read from a labelled file, with the lines left out and why.
#[derive(Debug, Default)]
pub struct LabelledRead {
    pub tickets: Vec<LabelledTicket>,
    /// Rows of another split than the one asked for.
    pub other_split: usize,
}

/// Naive Bayes over character grams; see the module docs.
#[derive(Debug)]
pub struct CategoryModel {
    /// Gram → occurrences in the tickets of each category.
    counts: HashMap<u64, [u32; CLASSES]>,
    /// Grams in the tickets of each category.
    totals: [u64; CLASSES],
    /// Tickets of each category.
    docs: [u32; CLASSES],
    /// Each ticket's category and grams, so that one can be left out when it is itself
    /// classified (leave-one-out evaluation on the tickets learned from).
    tickets: HashMap<String, (usize, Vec<u64>)>,
}

impl CategoryModel {
    /// Learns from `tickets` (their texts as given: mask and normalise them first). `None` when
    /// they name fewer than two categories: there is nothing to tell apart.
    pub fn learn(tickets: &[LabelledTicket]) -> Option<CategoryModel> {
        let mut model = CategoryModel {
            counts: HashMap::new(),
            totals: [0; CLASSES],
            docs: [0; CLASSES],
            tickets: HashMap::with_capacity(tickets.len()),
        };
        for ticket in tickets {
            let class = class_of(ticket.category);
            let grams = grams(&ticket.text);
            for &g in &grams {
                model.counts.entry(g).or_insert([0; CLASSES])[class] += 1;
            }
            model.totals[class] += grams.len() as u64;
            model.docs[class] += 1;
            model.tickets.insert(ticket.id.clone(), (class, grams));
        }
        (model.docs.iter().filter(|&&d| d > 0).count() >= 2).then_some(model)
    }

    /// Tickets learned from.
    pub fn len(&self) -> usize {
        self.docs.iter().map(|&d| d as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tickets learned from, in all and per category.
    pub fn report(&self) -> LearnReport {
        let per_category = Category::ALL
            .iter()
            .zip(self.docs)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| (c.code().to_string(), n as usize))
            .collect();
        LearnReport { learned: self.len(), per_category }
    }

    /// The probability of each category for `text` (normalised and masked), best first; the
    /// categories no learned ticket has are left out. With `leave_out`, that learned ticket
    /// counts as if it had never been seen.
    pub fn posterior(&self, text: &str, leave_out: Option<&str>) -> Vec<(Category, f32)> {
        let left = leave_out.and_then(|id| self.tickets.get(id));
        let mut docs = self.docs;
        let mut totals = self.totals;
        let mut minus: HashMap<u64, u32> = HashMap::new();
        if let Some((class, grams)) = left {
            docs[*class] -= 1;
            totals[*class] -= grams.len() as u64;
            for &g in grams {
                *minus.entry(g).or_default() += 1;
            }
        }
        let all_docs: u32 = docs.iter().sum();
        let vocabulary = self.counts.len() as f64;
        let mut log_p = [f64::NEG_INFINITY; CLASSES];
        for class in 0..CLASSES {
            if docs[class] > 0 {
                log_p[class] = (f64::from(docs[class]) / f64::from(all_docs)).ln();
            }
        }
        for g in grams(text) {
            let Some(counts) = self.counts.get(&g) else { continue };
            let mut n = *counts;
            if let (Some((class, _)), Some(m)) = (left, minus.get(&g)) {
                n[*class] -= m;
            }
            // A gram only the left-out ticket has is one the model never saw.
            if n.iter().all(|&x| x == 0) {
                continue;
            }
            for class in 0..CLASSES {
                if docs[class] > 0 {
                    log_p[class] += ((f64::from(n[class]) + ALPHA) / (totals[class] as f64 + ALPHA * vocabulary)).ln();
                }
            }
        }
        let best = log_p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !best.is_finite() {
            return Vec::new();
        }
        let weights: Vec<f64> = log_p.iter().map(|&l| (l - best).exp()).collect();
        let sum: f64 = weights.iter().sum();
        let mut out: Vec<(Category, f32)> = Category::ALL
            .iter()
            .zip(&weights)
            .zip(&docs)
            .filter(|(_, d)| **d > 0)
            .map(|((c, w), _)| (*c, (w / sum) as f32))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.code().cmp(b.0.code())));
        out
    }
}

fn class_of(category: Category) -> usize {
    Category::ALL.iter().position(|c| *c == category).unwrap_or(0)
}

/// The characters and adjacent character pairs of `text`, digits folded to `0` and ASCII
/// letters lowercased; whitespace separates pairs and is not a gram.
fn grams(text: &str) -> Vec<u64> {
    const PAIR: u64 = 1 << 42;
    let mut out = Vec::with_capacity(text.len());
    let mut previous: Option<u64> = None;
    for c in text.chars() {
        if c.is_whitespace() {
            previous = None;
            continue;
        }
        let c = if c.is_ascii_digit() { '0' } else { c.to_ascii_lowercase() };
        let code = u64::from(u32::from(c));
        out.push(code);
        if let Some(p) = previous {
            out.push(PAIR | (p << 21) | code);
        }
        previous = Some(code);
    }
    out
}

/// The text as the model sees it and keeps it: normalised, personal data masked.
pub fn prepare(text: &str) -> String {
    analysis::mask(&analysis::normalize(text)).text
}

/// One row of a labelled file: the stored form, or the ticket set's.
#[derive(Deserialize)]
struct Row {
    #[serde(alias = "_id")]
    id: Option<String>,
    text: String,
    #[serde(alias = "minor")]
    category: String,
    #[serde(default)]
    split: Option<String>,
}

/// Reads labelled tickets from JSONL (`id` or `_id`, `text`, `category` or `minor`, and
/// `split`), keeping only the rows of `split` when one is given; each text is [`prepare`]d.
/// A row without an id gets `line-N`. The error names the line and what to fix.
pub fn read_labelled(path: &Path, split: Option<&str>) -> Result<LabelledRead, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut read = LabelledRead::default();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| format!("{}: line {n}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(&line).map_err(|e| {
            format!(
                "{}: line {n} is not a labelled ticket ({e}); each line needs `text` and `category`",
                path.display()
            )
        })?;
        if split.is_some_and(|s| row.split.as_deref() != Some(s)) {
            read.other_split += 1;
            continue;
        }
        let category = Category::from_code(&row.category).ok_or_else(|| {
            let codes: Vec<&str> = Category::ALL.iter().map(|c| c.code()).collect();
            format!(
                "{}: line {n}: unknown category `{}`; use one of {}",
                path.display(),
                row.category,
                codes.join(", ")
            )
        })?;
        if row.text.trim().is_empty() {
            return Err(format!("{}: line {n} has an empty `text`", path.display()));
        }
        let id = row.id.unwrap_or_else(|| format!("line-{n}"));
        read.tickets.push(LabelledTicket { id, text: prepare(&row.text), category });
    }
    Ok(read)
}

/// The stored form: one JSON object per line.
pub fn to_jsonl(tickets: &[LabelledTicket]) -> Vec<u8> {
    let mut out = Vec::new();
    for ticket in tickets {
        // A struct of strings and an enum serialises.
        if let Ok(line) = serde_json::to_vec(ticket) {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str, text: &str, category: Category) -> LabelledTicket {
        LabelledTicket { id: id.into(), text: text.into(), category }
    }

    fn history() -> Vec<LabelledTicket> {
        vec![
            t("a", "装置黑屏了，运行灯不亮", Category::FaultRepair),
            t("b", "保护装置告警，黑屏", Category::FaultRepair),
            t("c", "逆变器报故障停机了", Category::FaultRepair),
            t("d", "请问这个型号支持什么规约", Category::Consultation),
            t("e", "请问质保期是多久", Category::Consultation),
            t("f", "你们的工程师态度太差了，投诉", Category::ServiceComplaint),
        ]
    }

    #[test]
    fn learns_the_categories_of_past_tickets() {
        let model = CategoryModel::learn(&history()).expect("three categories");
        assert_eq!(model.len(), 6);
        let best = |text: &str| model.posterior(text, None)[0].0;
        assert_eq!(best("屏幕黑屏，灯不亮了"), Category::FaultRepair);
        assert_eq!(best("请问支持哪些规约"), Category::Consultation);
        assert_eq!(best("工程师态度差，我要投诉"), Category::ServiceComplaint);
        let p = model.posterior("请问", None);
        assert!((p.iter().map(|(_, s)| s).sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
        // Categories no ticket has get no probability at all.
        assert!(p.iter().all(|(c, _)| *c != Category::Praise));
    }

    #[test]
    fn a_ticket_left_out_does_not_vote_for_itself() {
        // The only complaint: on its own it is found, left out the model has no complaint left.
        let model = CategoryModel::learn(&history()).unwrap();
        let text = "你们的工程师态度太差了，投诉";
        assert_eq!(model.posterior(text, None)[0].0, Category::ServiceComplaint);
        let left = model.posterior(text, Some("f"));
        assert!(left.iter().all(|(c, _)| *c != Category::ServiceComplaint), "{left:?}");
        // Leaving out one of several of a category only weakens it, and an unknown id is nothing.
        let fault = "装置黑屏了，运行灯不亮";
        let with = model.posterior(fault, None)[0];
        let without = model.posterior(fault, Some("a"))[0];
        assert_eq!(with.0, Category::FaultRepair);
        assert_eq!(without.0, Category::FaultRepair);
        assert!(without.1 < with.1, "{with:?} {without:?}");
        assert_eq!(model.posterior(fault, Some("nobody")), model.posterior(fault, None));
    }

    #[test]
    fn one_category_is_nothing_to_learn_and_any_text_is_safe() {
        assert!(CategoryModel::learn(&history()[..3]).is_none());
        assert!(CategoryModel::learn(&[]).is_none());
        let model = CategoryModel::learn(&history()).unwrap();
        for text in ["", " ", "🙂🙂", "\u{0}", "0123456789", "ＡＢＣ"] {
            let p = model.posterior(text, None);
            assert!(p.iter().all(|(_, s)| s.is_finite()), "{text:?}: {p:?}");
        }
    }

    #[test]
    fn digits_are_folded_and_whitespace_breaks_pairs() {
        assert_eq!(grams("12"), grams("90"));
        assert_eq!(grams("a b").len(), 2);
        assert_eq!(grams("ab").len(), 3);
    }

    #[test]
    fn labelled_files_are_read_with_their_split_and_refused_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"_id":"t-1","text":"电话13812345678，装置黑屏","minor":"fault_repair","split":"dev"}"#,
                "\n",
                r#"{"_id":"t-2","text":"请问","minor":"consultation","split":"test"}"#,
                "\n\n",
                r#"{"text":"请问规约","category":"consultation"}"#,
                "\n"
            ),
        )
        .unwrap();
        let read = read_labelled(&path, Some("dev")).unwrap();
        assert_eq!(read.tickets.len(), 1);
        assert_eq!(read.other_split, 2);
        // Personal data is masked before anything is kept.
        assert!(!read.tickets[0].text.contains("12345678"), "{}", read.tickets[0].text);
        let all = read_labelled(&path, None).unwrap();
        assert_eq!(all.tickets.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["t-1", "t-2", "line-4"]);
        let stored = dir.path().join("s.jsonl");
        std::fs::write(&stored, to_jsonl(&all.tickets)).unwrap();
        assert_eq!(read_labelled(&stored, None).unwrap().tickets, all.tickets);

        std::fs::write(&path, "{\"text\":\"x\",\"category\":\"bogus\"}\n").unwrap();
        let e = read_labelled(&path, None).unwrap_err();
        assert!(e.contains("line 1") && e.contains("bogus") && e.contains("fault_repair"), "{e}");
        std::fs::write(&path, "{\"text\":\"x\"}\n").unwrap();
        assert!(read_labelled(&path, None).unwrap_err().contains("line 1"));
    }
}
