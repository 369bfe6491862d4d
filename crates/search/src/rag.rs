//! Retrieval for LLM backends: the Dify External Knowledge API (whole items, filtered by
//! metadata conditions, scores normalised to 0..1) and RAG passages (the best paragraphs of the
//! top items, packed into a token budget, each with a citation).
//!
//! No HTTP here: the server's handlers parse the body and map [`Error`]s to their wire shapes.
//! The codes of [`Error::InvalidRequest`] raised here are `unknown_knowledge`,
//! `invalid_condition`, `invalid_retrieval_setting`, `invalid_budget`, and the search codes
//! (`empty_query`, `query_too_long`, `invalid_limit`, `invalid_filter`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use lexical::FilterField;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::{Item, ItemKind, Record};
use utoipa::ToSchema;

use crate::fusion::{Fusion, Retriever};
use crate::request::{SearchRequest, SearchResponse};
use crate::{Engine, Error, Invalid, Limits, Result, Stop};

/// `top_k` when a Dify request does not send one.
pub const DIFY_DEFAULT_TOP_K: usize = 5;
/// The score floor applied when a Dify request sends `score_threshold` 0.0 (Dify's "off", which
/// it has also sent whatever the user set, dify#25439) or none: records the fusion credited with
/// less than a tenth of the best possible score are noise for an LLM.
pub const DIFY_DEFAULT_SCORE_THRESHOLD: f32 = 0.1;
/// `knowledge_id`s that name the whole knowledge base; every item kind code also works, and
/// scopes retrieval to that kind.
pub const DIFY_KNOWLEDGE_IDS: [&str; 2] = ["default", "gridkb"];
// The bounds of a `metadata_condition` (how many conditions, names and values, how long a value)
// are `Limits::max_conditions`, `max_condition_values` and `max_condition_value_chars`.

/// Token budget of `/v1/retrieve` when a request does not say.
pub const DEFAULT_TOKEN_BUDGET: usize = 1_500;
/// Top items whose passages `/v1/retrieve` considers when a request does not say.
pub const DEFAULT_RETRIEVE_ITEMS: usize = 5;
/// A paragraph longer than this (estimated tokens) is split at sentence ends into windows of at
/// most this size; a single longer sentence stays whole.
pub const PASSAGE_MAX_TOKENS: usize = 160;
/// Paragraphs shorter than this (a heading, a one-line list item) are joined to the next one.
pub const PASSAGE_MIN_TOKENS: usize = 24;

/// Metadata names a condition may use (after [`canonical_name`]), as they appear in a record's
/// `metadata`.
pub const METADATA_NAMES: [&str; 22] = [
    "id",
    "doc_id",
    "title",
    "kind",
    "kind_label",
    "category",
    "category_label",
    "major_category",
    "products",
    "faults",
    "contracts",
    "cases",
    "customers",
    "cites",
    "tags",
    "status",
    "owner",
    "owner_level",
    "version",
    "valid_until",
    "superseded_by",
    "source",
];

/// Other spellings accepted for metadata names: Dify's built-in `document_name`, and the
/// singular filter names of `/v1/search`.
fn canonical_name(name: &str) -> Option<&'static str> {
    let name = name.trim();
    let alias = match name {
        "document_name" => "title",
        "major" => "major_category",
        "product" => "products",
        "fault" => "faults",
        "contract" => "contracts",
        "case" => "cases",
        "customer" => "customers",
        "tag" => "tags",
        other => other,
    };
    METADATA_NAMES.iter().copied().find(|n| *n == alias)
}

// ---------------------------------------------------------------------------------------------
// Token estimate, passages, packing

/// Estimated LLM tokens of `text`: every CJK (or other non-ASCII) character counts 1, every
/// ASCII punctuation mark 1, a run of ASCII letters and digits ⌈len / 4⌉, whitespace 0. Chinese
/// BPE vocabularies often merge two characters into one token, so for Chinese this errs on the
/// high side: a packed context stays within the budget of the model it is sent to. Independent of
/// the embedding model, so the same request packs the same way on every server.
pub fn estimate_tokens(text: &str) -> usize {
    let (mut tokens, mut run) = (0usize, 0usize);
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            run += 1;
            continue;
        }
        tokens += run.div_ceil(4);
        run = 0;
        if !c.is_whitespace() {
            tokens += 1;
        }
    }
    tokens + run.div_ceil(4)
}

/// Characters after which a sentence ends (closing quotes and brackets that follow stay with it).
fn ends_sentence(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '；' | '!' | '?' | ';' | '…')
}

fn closes(c: char) -> bool {
    matches!(c, '”' | '’' | '"' | '\'' | '）' | ')' | '」' | '』' | '】' | ']')
}

/// Splits text into sentences, keeping every character: the pieces concatenate to `text`.
/// A `.` ends a sentence only when whitespace or the end follows it (so `2.5` and `v1.2` stay).
pub fn split_sentences(text: &str) -> Vec<&str> {
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let boundary =
            ends_sentence(c) || c == '\n' || (c == '.' && chars.peek().is_none_or(|(_, next)| next.is_whitespace()));
        if !boundary {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, next)) = chars.peek() {
            if closes(next) {
                end = j + next.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        sentences.push(&text[start..end]);
        start = end;
    }
    if start < text.len() {
        sentences.push(&text[start..]);
    }
    sentences
}

/// Splits an item body into passages at paragraph and sentence boundaries, never inside a
/// sentence: paragraphs (blocks between blank lines) up to [`PASSAGE_MAX_TOKENS`] stay whole,
/// longer ones become windows of whole sentences, and short blocks (headings) are joined to the
/// block that follows. Passages are trimmed; none is empty.
pub fn split_passages(body: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for paragraph in body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if estimate_tokens(paragraph) <= PASSAGE_MAX_TOKENS {
            blocks.push(paragraph.to_string());
            continue;
        }
        let mut window = String::new();
        let mut window_tokens = 0;
        for sentence in split_sentences(paragraph) {
            let tokens = estimate_tokens(sentence);
            if !window.trim().is_empty() && window_tokens + tokens > PASSAGE_MAX_TOKENS {
                blocks.push(window.trim().to_string());
                window.clear();
                window_tokens = 0;
            }
            window.push_str(sentence);
            window_tokens += tokens;
        }
        if !window.trim().is_empty() {
            blocks.push(window.trim().to_string());
        }
    }
    // Join short blocks forward while the result stays within the window size.
    let mut passages: Vec<String> = Vec::new();
    let mut pending: Option<String> = None;
    for block in blocks {
        let joined = match pending.take() {
            Some(short) if estimate_tokens(&short) + estimate_tokens(&block) <= PASSAGE_MAX_TOKENS => {
                format!("{short}\n{block}")
            }
            Some(short) => {
                passages.push(short);
                block
            }
            None => block,
        };
        if estimate_tokens(&joined) < PASSAGE_MIN_TOKENS {
            pending = Some(joined);
        } else {
            passages.push(joined);
        }
    }
    passages.extend(pending);
    passages
}

/// Greedy packing: takes candidates in order, keeping each one that fits in what is left of
/// `budget` and skipping (never truncating) one that does not. Returns the kept candidates in
/// order and how many were skipped.
pub fn pack<T>(
    candidates: impl IntoIterator<Item = T>,
    budget: usize,
    tokens: impl Fn(&T) -> usize,
) -> (Vec<T>, usize) {
    let mut left = budget;
    let mut kept = Vec::new();
    let mut skipped = 0;
    for candidate in candidates {
        let cost = tokens(&candidate);
        if cost <= left {
            left -= cost;
            kept.push(candidate);
        } else {
            skipped += 1;
        }
    }
    (kept, skipped)
}

/// Share of `terms` found in `text` (both normalised), 0..1; 0 when there are no terms.
fn term_overlap(text: &str, terms: &[String]) -> f32 {
    if terms.is_empty() {
        return 0.0;
    }
    let normalised = analysis::normalize(text).to_lowercase();
    let found = terms.iter().filter(|t| normalised.contains(t.as_str())).count();
    found as f32 / terms.len() as f32
}

// ---------------------------------------------------------------------------------------------
// Scores

/// The fused score scaled to 0..1 by the best score the fusion could give with the retrievers
/// that took part: weighted fusion divides by the sum of their weights (each list is min–max
/// normalised, so an item first in every list scores 1); RRF divides by `n / (k + 1)`, the score
/// of an item first in all `n` lists.
pub fn normalised_score(score: f32, fusion: Fusion, retrievers: &[String]) -> f32 {
    let taking_part: Vec<Retriever> =
        Retriever::ALL.into_iter().filter(|r| retrievers.iter().any(|name| name == r.name())).collect();
    let best = match fusion {
        Fusion::Weighted { .. } | Fusion::Adaptive { .. } => {
            fusion.base_weights().into_iter().filter(|(r, _)| taking_part.contains(r)).map(|(_, w)| w).sum::<f32>()
        }
        Fusion::Rrf { k } => taking_part.len() as f32 / (k + 1.0),
    };
    if !(best.is_finite() && best > 0.0 && score.is_finite()) {
        return 0.0;
    }
    (score / best).clamp(0.0, 1.0)
}

// ---------------------------------------------------------------------------------------------
// Metadata

/// The metadata of an item as Dify sees it: always an object, never a null inside — absent
/// optional fields are left out, list fields are always present (possibly empty).
pub fn item_metadata(item: &Item) -> Map<String, Value> {
    let mut meta = Map::new();
    let mut put = |name: &str, value: Value| {
        meta.insert(name.to_string(), value);
    };
    let list = |values: &[String]| Value::Array(values.iter().cloned().map(Value::String).collect());
    put("id", Value::String(item.id.clone()));
    put("doc_id", Value::String(item.id.clone()));
    put("title", Value::String(item.title.clone()));
    put("kind", Value::String(item.kind.code().into()));
    put("kind_label", Value::String(item.kind.label_zh().into()));
    if let Some(category) = item.category {
        put("category", Value::String(category.code().into()));
        put("category_label", Value::String(category.label_zh().into()));
        put("major_category", Value::String(category.major().code().into()));
    }
    put("products", list(&item.products));
    put("faults", list(&item.faults));
    put("contracts", list(&item.contracts));
    put("cases", list(&item.cases));
    put("customers", list(&item.customers));
    put("cites", list(&item.cites));
    put("tags", list(&item.tags));
    put("status", Value::String(item.status.code().into()));
    if let Some(owner) = &item.owner {
        put("owner", Value::String(owner.clone()));
    }
    if let Some(level) = item.owner_level {
        put("owner_level", Value::String(level.code().into()));
    }
    put("version", Value::from(item.version));
    for (name, value) in
        [("valid_until", &item.valid_until), ("superseded_by", &item.superseded_by), ("source", &item.source)]
    {
        if let Some(value) = value {
            put(name, Value::String(value.clone()));
        }
    }
    meta
}

/// How the conditions combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogicalOperator {
    #[default]
    And,
    Or,
}

/// Dify's comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Contains,
    NotContains,
    StartWith,
    EndWith,
    Is,
    IsNot,
    In,
    NotIn,
    Empty,
    NotEmpty,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Before,
    After,
}

impl Operator {
    /// Every spelling accepted, with the operator it means.
    const SPELLINGS: [(&'static str, Operator); 27] = [
        ("contains", Operator::Contains),
        ("not contains", Operator::NotContains),
        ("start with", Operator::StartWith),
        ("starts with", Operator::StartWith),
        ("end with", Operator::EndWith),
        ("ends with", Operator::EndWith),
        ("is", Operator::Is),
        ("is not", Operator::IsNot),
        ("in", Operator::In),
        ("not in", Operator::NotIn),
        ("empty", Operator::Empty),
        ("null", Operator::Empty),
        ("not empty", Operator::NotEmpty),
        ("not null", Operator::NotEmpty),
        ("=", Operator::Eq),
        ("≠", Operator::Ne),
        ("!=", Operator::Ne),
        (">", Operator::Gt),
        ("<", Operator::Lt),
        ("≥", Operator::Ge),
        (">=", Operator::Ge),
        ("≤", Operator::Le),
        ("<=", Operator::Le),
        ("before", Operator::Before),
        ("after", Operator::After),
        ("==", Operator::Eq),
        ("<>", Operator::Ne),
    ];

    pub fn parse(text: &str) -> Option<Operator> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let text = words.join(" ").to_lowercase();
        Self::SPELLINGS.iter().find(|(spelling, _)| *spelling == text).map(|(_, op)| *op)
    }

    /// The positive operator this one negates, if it is a negation.
    fn negates(self) -> Option<Operator> {
        Some(match self {
            Operator::NotContains => Operator::Contains,
            Operator::IsNot => Operator::Is,
            Operator::NotIn => Operator::In,
            Operator::NotEmpty => Operator::Empty,
            Operator::Ne => Operator::Eq,
            _ => return None,
        })
    }
}

/// What a condition compares with, checked and converted when the condition is parsed.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// `empty`, `not empty`.
    Nothing,
    /// Text operators, `is`, `in`: the value, or any of the values of an array.
    Texts(Vec<String>),
    Number(f64),
    Date(Date),
}

/// A calendar date, comparable.
type Date = calendar::Date;

/// One condition: `name` (one metadata name, or several whose values are pooled), an operator
/// and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub names: Vec<&'static str>,
    pub operator: Operator,
    operand: Operand,
}

/// A parsed `metadata_condition`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetadataCondition {
    pub logical_operator: LogicalOperator,
    pub conditions: Vec<Condition>,
}

impl MetadataCondition {
    /// Parses Dify's `metadata_condition` object within `limits`; `null` means none, and so do
    /// `conditions` absent or `null` (Dify sends both) — `[]` parses to a condition without
    /// conditions, which lets everything through. The message of an error names the condition
    /// and the field at fault, and the bound it broke.
    pub fn parse(value: &Value, limits: &Limits) -> std::result::Result<Option<MetadataCondition>, String> {
        let object = match value {
            Value::Null => return Ok(None),
            Value::Object(object) => object,
            _ => {
                return Err("`metadata_condition` must be an object such as {\"logical_operator\": \"and\", \
                            \"conditions\": [...]}, or null for no filter"
                    .into());
            }
        };
        let logical_operator = match object.get("logical_operator") {
            None | Some(Value::Null) => LogicalOperator::And,
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("and") => LogicalOperator::And,
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("or") => LogicalOperator::Or,
            Some(_) => {
                return Err("`metadata_condition.logical_operator` must be \"and\" or \"or\"".into());
            }
        };
        let conditions = match object.get("conditions") {
            Some(Value::Array(conditions)) => conditions,
            None | Some(Value::Null) => return Ok(None),
            Some(_) => {
                return Err(
                    "`metadata_condition.conditions` must be an array of conditions, or null for no filter".into()
                );
            }
        };
        if conditions.len() > limits.max_conditions {
            return Err(format!(
                "`metadata_condition` has {} conditions; at most {} are allowed",
                conditions.len(),
                limits.max_conditions
            ));
        }
        let conditions = conditions
            .iter()
            .enumerate()
            .map(|(i, c)| Condition::parse(c, limits).map_err(|m| format!("`metadata_condition.conditions[{i}]`: {m}")))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Some(MetadataCondition { logical_operator, conditions }))
    }

    /// Whether a record's metadata satisfies the conditions; no conditions let everything through.
    pub fn matches(&self, meta: &Map<String, Value>) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        match self.logical_operator {
            LogicalOperator::And => self.conditions.iter().all(|c| c.matches(meta)),
            LogicalOperator::Or => self.conditions.iter().any(|c| c.matches(meta)),
        }
    }
}

fn check_length(what: &str, text: &str, max_chars: usize) -> std::result::Result<(), String> {
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(format!("{what} has {chars} characters; at most {max_chars} are allowed"));
    }
    Ok(())
}

/// A string or number as text; integral numbers without a fraction (`2`, not `2.0`).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        }),
        _ => None,
    }
}

fn scalar_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// `YYYY-MM-DD`, optionally followed by a time (`2025-06-30T08:00:00Z`, `2025-06-30 08:00`); or
/// a Unix timestamp in seconds (how Dify's own time metadata is stored).
fn scalar_date(value: &Value) -> Option<Date> {
    match value {
        Value::String(s) => parse_date(s.trim()),
        Value::Number(n) => {
            let seconds = n.as_f64().filter(|f| f.is_finite() && (-1e12..=1e12).contains(f))?;
            Some(Date::of_unix_seconds(seconds.floor() as i64))
        }
        _ => None,
    }
}

fn parse_date(text: &str) -> Option<Date> {
    let date = text.get(..10)?;
    let rest = &text[10..];
    if !(rest.is_empty() || rest.starts_with(['T', 't', ' '])) {
        return None;
    }
    Date::parse(date).ok()
}

impl Condition {
    fn parse(value: &Value, limits: &Limits) -> std::result::Result<Condition, String> {
        let max_values = limits.max_condition_values;
        let Value::Object(object) = value else {
            return Err("a condition must be an object {\"name\", \"comparison_operator\", \"value\"}".into());
        };
        let raw_names: Vec<&str> = match object.get("name") {
            Some(Value::String(name)) => vec![name.as_str()],
            Some(Value::Array(names)) if !names.is_empty() && names.len() <= max_values => names
                .iter()
                .map(|n| n.as_str().ok_or_else(|| "`name` must be a string or an array of strings".to_string()))
                .collect::<std::result::Result<_, _>>()?,
            Some(Value::Array(names)) if names.is_empty() => return Err("`name` must not be an empty array".into()),
            Some(Value::Array(_)) => return Err(format!("`name` may list at most {max_values} names")),
            None | Some(Value::Null) => return Err("`name` is required".into()),
            Some(_) => return Err("`name` must be a string or an array of strings".into()),
        };
        let mut names = Vec::new();
        for raw in raw_names {
            check_length("`name`", raw, limits.max_condition_value_chars)?;
            let name = canonical_name(raw)
                .ok_or_else(|| format!("`name` is not a metadata name; use one of {}", METADATA_NAMES.join(", ")))?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let operator = match object.get("comparison_operator") {
            Some(Value::String(op)) => Operator::parse(op).ok_or_else(|| {
                "`comparison_operator` is not an operator; use one of contains, not contains, start with, end \
                 with, is, is not, in, not in, empty, not empty, =, ≠, >, <, ≥, ≤, before, after"
                    .to_string()
            })?,
            None | Some(Value::Null) => return Err("`comparison_operator` is required".into()),
            Some(_) => return Err("`comparison_operator` must be a string".into()),
        };
        let value = object.get("value").filter(|v| !v.is_null());
        let operand = Self::operand(operator, value, limits)?;
        Ok(Condition { names, operator, operand })
    }

    fn operand(operator: Operator, value: Option<&Value>, limits: &Limits) -> std::result::Result<Operand, String> {
        use Operator as O;
        if matches!(operator, O::Empty | O::NotEmpty) {
            return Ok(Operand::Nothing);
        }
        let Some(value) = value else {
            return Err("`value` is required for this `comparison_operator`".into());
        };
        match operator {
            O::Eq | O::Ne | O::Gt | O::Lt | O::Ge | O::Le => scalar_number(value)
                .map(Operand::Number)
                .ok_or_else(|| "`value` must be a number for this `comparison_operator`, such as 3".to_string()),
            O::Before | O::After => scalar_date(value)
                .map(Operand::Date)
                .ok_or_else(|| "`value` must be a date YYYY-MM-DD (or a Unix timestamp in seconds)".to_string()),
            _ => {
                let values: Vec<&Value> = match value {
                    Value::Array(values) if values.len() <= limits.max_condition_values => values.iter().collect(),
                    Value::Array(_) => {
                        return Err(format!("`value` may list at most {} values", limits.max_condition_values));
                    }
                    scalar => vec![scalar],
                };
                let texts = values
                    .into_iter()
                    .map(|v| {
                        let text = scalar_text(v)
                            .ok_or_else(|| "`value` must be a string, a number or an array of them".to_string())?;
                        check_length("`value`", &text, limits.max_condition_value_chars)?;
                        Ok(text)
                    })
                    .collect::<std::result::Result<Vec<_>, String>>()?;
                if matches!(operator, O::Contains | O::NotContains | O::StartWith | O::EndWith)
                    && texts.iter().any(String::is_empty)
                {
                    return Err("`value` must not be empty for this `comparison_operator`".into());
                }
                Ok(Operand::Texts(texts))
            }
        }
    }

    /// The pooled values of the condition's names: arrays are flattened, empty strings dropped.
    fn pool<'a>(&self, meta: &'a Map<String, Value>) -> Vec<&'a Value> {
        let mut pool = Vec::new();
        for name in &self.names {
            match meta.get(*name) {
                None | Some(Value::Null) => {}
                Some(Value::Array(values)) => pool.extend(values.iter().filter(|v| !is_blank(v))),
                Some(value) if is_blank(value) => {}
                Some(value) => pool.push(value),
            }
        }
        pool
    }

    pub fn matches(&self, meta: &Map<String, Value>) -> bool {
        if let Some(positive) = self.operator.negates() {
            return !self.holds(positive, meta);
        }
        self.holds(self.operator, meta)
    }

    /// Whether a positive operator holds: some pooled value satisfies it (`empty`: none exists).
    fn holds(&self, operator: Operator, meta: &Map<String, Value>) -> bool {
        use Operator as O;
        let pool = self.pool(meta);
        let texts = || pool.iter().filter_map(|v| scalar_text(v));
        match (&self.operand, operator) {
            (_, O::Empty) => pool.is_empty(),
            (Operand::Texts(needles), op) => texts().any(|field| {
                needles.iter().any(|needle| match op {
                    O::Contains => field.contains(needle.as_str()),
                    O::StartWith => field.starts_with(needle.as_str()),
                    O::EndWith => field.ends_with(needle.as_str()),
                    _ => field == *needle,
                })
            }),
            (Operand::Number(number), op) => pool.iter().filter_map(|v| scalar_number(v)).any(|field| match op {
                O::Eq => field == *number,
                O::Gt => field > *number,
                O::Lt => field < *number,
                O::Ge => field >= *number,
                O::Le => field <= *number,
                _ => false,
            }),
            (Operand::Date(date), op) => pool.iter().filter_map(|v| scalar_date(v)).any(|field| match op {
                O::Before => field < *date,
                O::After => field > *date,
                _ => false,
            }),
            (Operand::Nothing, _) => false,
        }
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Dify External Knowledge API

/// `POST /retrieval` as Dify sends it. Unknown fields are ignored (Dify may add some), and `null`
/// counts as absent.
// Read by `DifyRequest::from_json`, not by serde: its messages name Rust types and quote values.
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
pub struct DifyRequest {
    /// `default` (or `gridkb`) for the whole knowledge base, or an item kind code. Empty, with an
    /// empty `query`: Dify's check of the endpoint when it is registered, answered
    /// `{"records": []}`.
    #[schema(example = "default")]
    pub knowledge_id: String,
    /// The question. Dify's hit testing sends `\"` for `"`: it is read back as `"`.
    #[schema(max_length = 512, example = "931保护通道告警")]
    pub query: String,
    pub retrieval_setting: Option<DifyRetrievalSetting>,
    /// `{"logical_operator": "and" | "or", "conditions": [{"name", "comparison_operator",
    /// "value"}]}`. `null`, and `conditions` absent, `null` or `[]`, mean no filter.
    #[schema(value_type = Option<Object>)]
    pub metadata_condition: Option<Value>,
}

/// `top_k` and `score_threshold`, kept as JSON values so that any number (or nonsense) gets a
/// clear answer rather than a parser's.
#[derive(Debug, Clone, Default, PartialEq, ToSchema)]
pub struct DifyRetrievalSetting {
    /// Records to return at most: capped at the `max_limit` limit (100 unless configured); 5 when
    /// absent.
    #[schema(value_type = Option<u64>, minimum = 1)]
    pub top_k: Option<Value>,
    /// Lowest score returned, 0..1; 0.0 or absent means the server's floor (0.1).
    #[schema(value_type = Option<f64>, minimum = 0.0, maximum = 1.0)]
    pub score_threshold: Option<Value>,
}

/// A body that is not a Dify request: the message says which field to fix and how.
fn invalid_body(message: impl Into<String>) -> Error {
    Error::invalid(Invalid::Parameter, message)
}

/// What the route's body holds, in one sentence for the messages below.
const DIFY_BODY_SHAPE: &str = "send a JSON object with `knowledge_id` and `query` (both strings), and optionally \
     `retrieval_setting` and `metadata_condition`";

impl DifyRequest {
    /// Reads a request from its JSON body field by field, so that every refusal (code
    /// `invalid_parameter`, Dify's 3001) is a sentence for Dify's user: it names the field and
    /// what to send, never a parser's wording or type names, and never the value sent. `null`
    /// counts as absent; unknown fields are ignored.
    pub fn from_json(body: Value) -> Result<DifyRequest> {
        let Value::Object(mut body) = body else {
            return Err(invalid_body(format!("the request body is not a JSON object; {DIFY_BODY_SHAPE}")));
        };
        let mut text = |name: &str, what: &str| match body.remove(name) {
            Some(Value::String(text)) => Ok(text),
            None | Some(Value::Null) => Err(invalid_body(format!("`{name}` is missing; send it as a string: {what}"))),
            Some(_) => Err(invalid_body(format!("`{name}` must be a string: {what}"))),
        };
        let knowledge_id = text("knowledge_id", "the External Knowledge ID, \"default\" for the whole knowledge base")?;
        let query = text("query", "the question to search for")?;
        let retrieval_setting = match body.remove("retrieval_setting") {
            None | Some(Value::Null) => None,
            Some(Value::Object(mut setting)) => Some(DifyRetrievalSetting {
                top_k: setting.remove("top_k").filter(|v| !v.is_null()),
                score_threshold: setting.remove("score_threshold").filter(|v| !v.is_null()),
            }),
            Some(_) => {
                return Err(invalid_body(
                    "`retrieval_setting` must be an object such as {\"top_k\": 5, \"score_threshold\": 0.5}",
                ));
            }
        };
        let metadata_condition = body.remove("metadata_condition").filter(|v| !v.is_null());
        Ok(DifyRequest { knowledge_id, query, retrieval_setting, metadata_condition })
    }

    /// Whether this is Dify's check of the endpoint when it is registered (dify#39410): both
    /// `knowledge_id` and `query` empty or only whitespace. Dify sends `{"knowledge_id": "",
    /// "query": "", "retrieval_setting": {"top_k": 1, "score_threshold": 0.0}}` with the key and
    /// refuses the registration on a 404. An empty `query` with a `knowledge_id`, or an empty
    /// `knowledge_id` with a `query`, is not the check and is refused as usual.
    pub fn is_probe(&self) -> bool {
        self.knowledge_id.trim().is_empty() && self.query.trim().is_empty()
    }

    /// The answer to Dify's registration check ([`DifyRequest::is_probe`]): `{"records": []}`,
    /// once `retrieval_setting` and `metadata_condition` pass the checks every request passes.
    /// Nothing is searched.
    pub fn probe_answer(&self, limits: &Limits) -> Result<DifyResponse> {
        self.settings(limits)?;
        Ok(DifyResponse { records: Vec::new() })
    }

    /// The query as its user wrote it: Dify's hit testing escapes every `"` as `\"`, which is
    /// read back as `"`. (Dify also cuts the query at 250 characters, well within the limit.)
    pub fn query_text(&self) -> String {
        self.query.replace("\\\"", "\"")
    }

    /// `(top_k, score_threshold, condition)` in force; see [`DifyRetrievalSetting::resolve`] and
    /// [`MetadataCondition::parse`]. A condition without conditions is none.
    fn settings(&self, limits: &Limits) -> Result<(usize, f32, Option<MetadataCondition>)> {
        let (top_k, threshold) = self.retrieval_setting.clone().unwrap_or_default().resolve(limits.max_limit)?;
        let condition = match &self.metadata_condition {
            Some(value) => {
                MetadataCondition::parse(value, limits).map_err(|m| Error::invalid(Invalid::Condition, m))?
            }
            None => None,
        }
        .filter(|c| !c.conditions.is_empty());
        Ok((top_k, threshold, condition))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DifyRecord {
    /// Title and body of the item, personal data masked.
    pub content: String,
    /// The fused score normalised to 0..1.
    pub score: f32,
    pub title: String,
    /// Always an object, never null, no null inside.
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DifyResponse {
    pub records: Vec<DifyRecord>,
}

fn invalid_setting(message: &str) -> Error {
    Error::invalid(Invalid::RetrievalSetting, message)
}

const TOP_K: &str = "`retrieval_setting.top_k` must be a whole number of at least 1, such as 5";
const SCORE_THRESHOLD: &str = "`retrieval_setting.score_threshold` must be a number from 0 to 1, such as 0.5";

impl DifyRetrievalSetting {
    /// `(top_k, score_threshold)` in force: `top_k` capped at `max`, the threshold raised to the
    /// default floor when it is 0 or absent.
    fn resolve(&self, max: usize) -> Result<(usize, f32)> {
        let top_k = match &self.top_k {
            None => DIFY_DEFAULT_TOP_K,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if f.is_finite() && f.fract() == 0.0 && f >= 1.0 => {
                    if f >= max as f64 {
                        max
                    } else {
                        f as usize
                    }
                }
                _ => return Err(invalid_setting(TOP_K)),
            },
            Some(_) => return Err(invalid_setting(TOP_K)),
        };
        let threshold = match &self.score_threshold {
            None => 0.0,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if (0.0..=1.0).contains(&f) => f as f32,
                _ => return Err(invalid_setting(SCORE_THRESHOLD)),
            },
            Some(_) => return Err(invalid_setting(SCORE_THRESHOLD)),
        };
        let threshold = if threshold <= 0.0 { DIFY_DEFAULT_SCORE_THRESHOLD } else { threshold };
        Ok((top_k.min(max).max(1), threshold))
    }
}

/// What a `knowledge_id` scopes retrieval to: everything (`None`) or one kind.
fn knowledge_scope(knowledge_id: &str) -> Result<Option<ItemKind>> {
    let id = knowledge_id.trim();
    if DIFY_KNOWLEDGE_IDS.contains(&id) {
        return Ok(None);
    }
    ItemKind::from_code(id).map(Some).ok_or_else(|| {
        let kinds: Vec<&str> = ItemKind::ALL.iter().map(|k| k.code()).collect();
        let problem = if id.is_empty() { "is empty" } else { "names no knowledge base" };
        Error::invalid(
            Invalid::UnknownKnowledge,
            format!(
                "`knowledge_id` {problem}; set the External Knowledge ID to \"default\" (or \"gridkb\") for the \
                 whole knowledge base, or to one kind: {}",
                kinds.join(", ")
            ),
        )
    })
}

/// The free-text metadata masked on the way out, as titles and bodies are: records stored before
/// ingest masked `source` and `owner` would otherwise return them raw.
fn masked_metadata(mut metadata: Map<String, Value>) -> Map<String, Value> {
    for name in ["title", "owner", "source", "tags"] {
        match metadata.get_mut(name) {
            Some(Value::String(text)) => *text = analysis::mask(text).text,
            Some(Value::Array(values)) => {
                for value in values {
                    if let Value::String(text) = value {
                        *text = analysis::mask(text).text;
                    }
                }
            }
            _ => {}
        }
    }
    metadata
}

/// One item of a search page with its stored record.
struct Found {
    rank: usize,
    score: f32,
    item: Item,
}

impl Engine {
    /// Runs `request`, then loads the hits' items from the store (hits whose record vanished
    /// in between are dropped) and normalises their scores.
    fn search_items(&self, request: &SearchRequest, stop: &Stop) -> Result<(SearchResponse, Vec<Found>)> {
        let mut response = self.search_until(request, stop)?;
        let hits = std::mem::take(&mut response.hits);
        let stored = self.store().get_many(hits.iter().map(|h| h.id.as_str()))?;
        let found = hits
            .into_iter()
            .zip(stored)
            .filter_map(|(hit, stored)| match stored?.record {
                Record::Item(item) => Some(Found {
                    rank: hit.rank,
                    score: normalised_score(hit.score, response.fusion, &response.retrievers),
                    item,
                }),
                Record::Entity(_) => None,
            })
            .collect();
        Ok((response, found))
    }

    /// The Dify External Knowledge API: whole items, best first, filtered by the metadata
    /// conditions, scores normalised to 0..1 and held to the threshold.
    pub fn dify_retrieve(&self, request: &DifyRequest) -> Result<DifyResponse> {
        self.dify_retrieve_until(request, &self.default_stop())
    }

    /// [`Engine::dify_retrieve`] that stops early when `stop` says so (see [`Engine::search_until`]).
    pub fn dify_retrieve_until(&self, request: &DifyRequest, stop: &Stop) -> Result<DifyResponse> {
        if request.is_probe() {
            return request.probe_answer(self.limits());
        }
        let scope = knowledge_scope(&request.knowledge_id)?;
        let (top_k, threshold, condition) = request.settings(self.limits())?;
        let query = request.query_text();
        if query.trim().is_empty() {
            return Err(Error::invalid(Invalid::EmptyQuery, "`query` is empty; send the question to search for"));
        }
        let (chars, most) = (query.chars().count(), self.limits().max_query_chars);
        if chars > most {
            return Err(Error::invalid(
                Invalid::QueryTooLong,
                format!("`query` has {chars} characters; at most {most} are allowed: send a shorter question"),
            ));
        }
        let mut filters = BTreeMap::new();
        if let Some(kind) = scope {
            filters.insert(FilterField::Kind, vec![kind.code().to_string()]);
        }
        // With conditions, over-fetch as deep as the limits allow, then filter.
        let fetch = if condition.is_some() { self.limits().max_limit } else { top_k };
        let search = SearchRequest { q: query, limit: Some(fetch), filters, ..Default::default() };
        let found = match self.search_items(&search, stop) {
            Ok((response, found)) if !response.terms.is_empty() => found,
            // Only a kind scope would be left to search by: a browse is no answer to a query.
            Ok(_) => Vec::new(),
            // Words were sent, but none is searchable (punctuation, masked personal data): no match.
            Err(Error::InvalidRequest { code: Invalid::EmptyQuery, .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let records = found
            .into_iter()
            .filter(|f| f.score >= threshold)
            .map(|f| (item_metadata(&f.item), f))
            .filter(|(meta, _)| condition.as_ref().is_none_or(|c| c.matches(meta)))
            .take(top_k)
            .map(|(metadata, f)| DifyRecord {
                content: analysis::mask(&format!("{}\n{}", f.item.title, f.item.body)).text,
                score: f.score,
                title: analysis::mask(&f.item.title).text,
                metadata: masked_metadata(metadata),
            })
            .collect();
        Ok(DifyResponse { records })
    }
}

// ---------------------------------------------------------------------------------------------
// RAG passages

/// `POST /v1/retrieve`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrieveRequest {
    #[serde(default)]
    #[schema(max_length = 512, example = "931保护通道告警怎么处理")]
    pub query: String,
    /// Estimated tokens of passage text to return at most (see [`estimate_tokens`]).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 8000)]
    pub token_budget: Option<usize>,
    /// Top items whose passages are considered: 1 to the `max_limit` limit (100 unless configured);
    /// 5 when absent.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// As for `/v1/search`.
    #[serde(default)]
    #[schema(value_type = crate::request::Filters)]
    pub filters: BTreeMap<FilterField, Vec<String>>,
}

/// Where a passage comes from.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Citation {
    pub id: String,
    pub title: String,
    pub kind: String,
    pub version: u32,
    /// 0-based position of the passage among the item's passages.
    pub passage_index: usize,
    /// How many passages the item has.
    pub passage_count: usize,
    /// The item's rank in the search.
    pub rank: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// Answer standards: the passage is the whole text, to be read out word for word.
    pub verbatim: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Passage {
    /// Masked text, whole sentences only.
    pub text: String,
    /// Estimated tokens of `text`.
    pub tokens: usize,
    /// The item's normalised score × (0.5 + 0.5 × share of the query terms in the passage).
    pub score: f32,
    pub citation: Citation,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RetrieveResponse {
    /// This response's id in the request log: name it in `POST /v1/feedback` (also the
    /// `X-Request-Id` header). Set by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The query as used: personal data masked.
    pub query: String,
    pub terms: Vec<String>,
    pub passages: Vec<Passage>,
    /// Estimated tokens of all passages; never above `token_budget`.
    pub tokens: usize,
    pub token_budget: usize,
    /// Candidate passages left out because they did not fit.
    pub skipped: usize,
    pub retrievers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
    pub partial: bool,
    pub took_ms: f64,
}

impl Engine {
    /// Passages of the top items for a RAG prompt: each item's body split at paragraph and
    /// sentence boundaries (answer standards kept whole), the passages sharing query terms
    /// ranked by item score and term overlap, packed greedily into the token budget.
    pub fn retrieve(&self, request: &RetrieveRequest) -> Result<RetrieveResponse> {
        self.retrieve_until(request, &self.default_stop())
    }

    /// [`Engine::retrieve`] that stops early when `stop` says so (see [`Engine::search_until`]).
    pub fn retrieve_until(&self, request: &RetrieveRequest, stop: &Stop) -> Result<RetrieveResponse> {
        let started = Instant::now();
        let budget = request.token_budget.unwrap_or(DEFAULT_TOKEN_BUDGET);
        let most = self.limits().max_token_budget;
        if budget == 0 || budget > most {
            return Err(Error::invalid(Invalid::Budget, format!("token_budget must be between 1 and {most}")));
        }
        let search = SearchRequest {
            q: request.query.clone(),
            limit: Some(request.limit.unwrap_or(DEFAULT_RETRIEVE_ITEMS)),
            filters: request.filters.clone(),
            ..Default::default()
        };
        let (response, found) = self.search_items(&search, stop)?;
        let mut candidates = Vec::new();
        for f in found {
            let verbatim = f.item.kind == ItemKind::AnswerStandard;
            let units = if verbatim { vec![f.item.body.trim().to_string()] } else { split_passages(&f.item.body) };
            let overlaps: Vec<f32> = units.iter().map(|u| term_overlap(u, &response.terms)).collect();
            // Passages sharing query terms; an item found for other reasons (graph, meaning)
            // offers its first passage.
            let mut chosen: BTreeSet<usize> = (0..units.len()).filter(|&i| overlaps[i] > 0.0).collect();
            if chosen.is_empty() && !units.is_empty() {
                chosen.insert(0);
            }
            let count = units.len();
            for (index, unit) in units.into_iter().enumerate().filter(|(i, _)| chosen.contains(i)) {
                let text = analysis::mask(&unit).text;
                candidates.push(Passage {
                    tokens: estimate_tokens(&text),
                    text,
                    score: f.score * (0.5 + 0.5 * overlaps[index]),
                    citation: Citation {
                        id: f.item.id.clone(),
                        title: analysis::mask(&f.item.title).text,
                        kind: f.item.kind.code().to_string(),
                        version: f.item.version,
                        passage_index: index,
                        passage_count: count,
                        rank: f.rank,
                        category: f.item.category.map(|c| c.code().to_string()),
                        source: f.item.source.as_deref().map(|source| analysis::mask(source).text),
                        valid_until: f.item.valid_until.clone(),
                        verbatim,
                    },
                });
            }
        }
        candidates.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.citation.rank.cmp(&b.citation.rank))
                .then(a.citation.passage_index.cmp(&b.citation.passage_index))
        });
        let (passages, skipped) = pack(candidates, budget, |p| p.tokens);
        Ok(RetrieveResponse {
            request_id: None,
            query: response.query,
            terms: response.terms,
            tokens: passages.iter().map(|p| p.tokens).sum(),
            passages,
            token_budget: budget,
            skipped,
            retrievers: response.retrievers,
            degraded: response.degraded,
            partial: response.partial,
            took_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn item() -> Item {
        serde_json::from_value(json!({
            "id": "kb-x", "kind": "technical_point", "title": "通道告警", "body": "正文",
            "products": ["pm-gkb-931a", "pl-line-prot"], "tags": ["规程", "继电保护"],
            "category": "fault_repair", "version": 3, "valid_until": "2026-06-30", "owner": "华东某省电力公司"
        }))
        .expect("item")
    }

    fn condition(name: Value, op: &str, value: Value) -> std::result::Result<Option<MetadataCondition>, String> {
        MetadataCondition::parse(
            &json!({"conditions": [{"name": name, "comparison_operator": op, "value": value}]}),
            &Limits::default(),
        )
    }

    fn check(name: Value, op: &str, value: Value) -> bool {
        let meta = item_metadata(&item());
        condition(name, op, value).expect("valid").expect("some").matches(&meta)
    }

    #[test]
    fn metadata_is_an_object_without_nulls() {
        let meta = item_metadata(&item());
        assert!(meta.values().all(|v| !v.is_null()));
        assert_eq!(meta["major_category"], "fault_repair");
        assert_eq!(meta["cases"], json!([]));
        assert!(!meta.contains_key("source"));
    }

    #[test]
    fn every_operator() {
        let name = || json!("products");
        assert!(check(name(), "contains", json!("931")));
        assert!(!check(name(), "not contains", json!("931")));
        assert!(check(name(), "not contains", json!("gev")));
        assert!(check(name(), "start with", json!("pl-")));
        assert!(check(name(), "end with", json!("-prot")));
        assert!(!check(name(), "end with", json!("-ev")));
        assert!(check(name(), "is", json!("pl-line-prot")));
        assert!(!check(name(), "is not", json!("pl-line-prot")));
        assert!(check(json!("kind"), "is not", json!("answer_standard")));
        assert!(check(json!("kind"), "in", json!(["answer_standard", "technical_point"])));
        assert!(check(json!("kind"), "not in", json!(["answer_standard", "solved_case"])));
        assert!(check(json!("cases"), "empty", Value::Null));
        assert!(check(json!("source"), "empty", Value::Null));
        assert!(check(json!("tags"), "not empty", Value::Null));
        assert!(check(json!("version"), "=", json!(3)));
        assert!(check(json!("version"), "=", json!("3")));
        assert!(check(json!("version"), "≠", json!(2)));
        assert!(check(json!("version"), "!=", json!(2.5)));
        assert!(check(json!("version"), ">", json!(2)));
        assert!(!check(json!("version"), "<", json!(3)));
        assert!(check(json!("version"), "≥", json!(3)));
        assert!(check(json!("version"), ">=", json!(3)));
        assert!(check(json!("version"), "≤", json!(3)));
        assert!(check(json!("version"), "<=", json!(4)));
        assert!(check(json!("valid_until"), "before", json!("2026-07-01")));
        assert!(!check(json!("valid_until"), "before", json!("2026-06-30")));
        assert!(check(json!("valid_until"), "after", json!("2026-06-29T23:59:59Z")));
        // 2026-07-01T00:00:00Z as a Unix timestamp.
        assert!(check(json!("valid_until"), "before", json!(1_782_864_000)));
        assert!(check(json!("version"), "is", json!(3)));
        assert!(check(json!("document_name"), "contains", json!("告警")));
        assert!(check(json!("tag"), "is", json!("规程")));
    }

    #[test]
    fn array_names_pool_their_values() {
        // Positive operators: some named field satisfies it; negated ones: none does.
        assert!(check(json!(["faults", "tags"]), "contains", json!("继电")));
        assert!(!check(json!(["faults", "tags"]), "not contains", json!("继电")));
        assert!(check(json!(["faults", "cases"]), "empty", Value::Null));
        assert!(!check(json!(["faults", "tags"]), "empty", Value::Null));
    }

    #[test]
    fn and_or() {
        let meta = item_metadata(&item());
        let parse = |op: &str| {
            MetadataCondition::parse(
                &json!({"logical_operator": op, "conditions": [
                    {"name": "kind", "comparison_operator": "is", "value": "technical_point"},
                    {"name": "kind", "comparison_operator": "is", "value": "solved_case"}
                ]}),
                &Limits::default(),
            )
            .expect("valid")
            .expect("some")
        };
        assert!(!parse("and").matches(&meta));
        assert!(parse("or").matches(&meta));
        assert!(parse("AND").logical_operator == LogicalOperator::And);
        // What Dify sends for "no filter": null, conditions null or absent, conditions [].
        for none in
            [Value::Null, json!({"logical_operator": "or", "conditions": null}), json!({"logical_operator": "and"})]
        {
            assert!(MetadataCondition::parse(&none, &Limits::default()).expect("no filter").is_none(), "{none}");
        }
        let empty = MetadataCondition::parse(&json!({"conditions": []}), &Limits::default()).expect("valid");
        assert!(empty.expect("some").matches(&meta), "no conditions let everything through");
    }

    #[test]
    fn metadata_free_text_is_masked_on_the_way_out() {
        let mut meta = Map::new();
        meta.insert("source".into(), json!("客户13812345678来电"));
        meta.insert("tags".into(), json!(["联系人沈超"]));
        meta.insert("id".into(), json!("kb-1"));
        let text = Value::Object(masked_metadata(meta)).to_string();
        assert!(!text.contains("13812345678") && !text.contains("沈超") && text.contains("kb-1"), "{text}");
    }

    #[test]
    fn malformed_conditions_are_refused_with_reasons() {
        let error = |name: Value, op: &str, value: Value| condition(name, op, value).expect_err("refused");
        assert!(error(json!("kind"), "like", json!("x")).contains("comparison_operator"));
        assert!(error(json!("colour"), "is", json!("x")).contains("is not a metadata name"));
        // Messages name the field, never the value sent.
        assert!(!error(json!("13812345678"), "is", json!("x")).contains("13812345678"));
        assert!(!error(json!("kind"), "13812345678", json!("x")).contains("13812345678"));
        assert!(!error(json!("version"), ">", json!("zhangsan@example.com")).contains("zhangsan"));
        assert!(error(json!([]), "is", json!("x")).contains("empty"));
        assert!(error(json!([1]), "is", json!("x")).contains("name"));
        assert!(error(json!("kind"), "is", Value::Null).contains("required"));
        assert!(error(json!("version"), ">", json!("three")).contains("number"));
        assert!(error(json!("valid_until"), "before", json!("2026-02-30")).contains("date"));
        assert!(error(json!("kind"), "in", json!([{"a": 1}])).contains("string"));
        assert!(error(json!("kind"), "contains", json!("")).contains("empty"));
        assert!(
            MetadataCondition::parse(&json!({"logical_operator": "xor", "conditions": []}), &Limits::default())
                .is_err()
        );
        assert!(MetadataCondition::parse(&json!({"conditions": "x"}), &Limits::default()).is_err());
        assert!(MetadataCondition::parse(&json!([1]), &Limits::default()).is_err());
        assert!(MetadataCondition::parse(&json!({"conditions": [5]}), &Limits::default()).is_err());
    }

    #[test]
    fn condition_bounds_are_the_configured_limits() {
        let limits =
            Limits { max_conditions: 2, max_condition_values: 3, max_condition_value_chars: 5, ..Limits::default() };
        let one = json!({"name": "kind", "comparison_operator": "is", "value": "faq"});
        let parse =
            |conditions: Value, limits: &Limits| MetadataCondition::parse(&json!({"conditions": conditions}), limits);
        assert!(parse(json!([one, one]), &limits).is_ok());
        let three = json!([one, one, one]);
        assert!(parse(three.clone(), &Limits::default()).is_ok(), "within the default bound");
        let error = parse(three, &limits).expect_err("past the configured bound");
        assert!(error.contains("at most 2 are allowed"), "{error}");
        let values = json!([{"name": "tags", "comparison_operator": "in", "value": ["a", "b", "c", "d"]}]);
        assert!(parse(values.clone(), &Limits::default()).is_ok());
        assert!(parse(values, &limits).expect_err("four values").contains("at most 3 values"));
        let names = json!([{"name": ["tags", "kind", "title", "products"], "comparison_operator": "empty"}]);
        assert!(parse(names.clone(), &Limits::default()).is_ok());
        assert!(parse(names, &limits).expect_err("four names").contains("at most 3 names"));
        let long = json!([{"name": "title", "comparison_operator": "contains", "value": "通道告警处理"}]);
        assert!(parse(long.clone(), &Limits::default()).is_ok());
        assert!(parse(long, &limits).expect_err("six characters").contains("at most 5 are allowed"));
    }

    #[test]
    fn dates_and_scores() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(20_635).to_string(), "2026-07-01");
        assert_eq!(parse_date("2024-02-29").map(|d| d.to_string()).as_deref(), Some("2024-02-29"));
        assert_eq!(parse_date("2024-02-29T08:00:00Z"), parse_date("2024-02-29"));
        assert_eq!(parse_date("2024-+1-05"), None);
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("2023-1-01"), None);
        assert_eq!(parse_date("是是是是是"), None);
        let weighted = Fusion::Weighted { lexical: 1.0, dense: 0.5, graph: 0.5 };
        let both = ["lexical".to_string(), "graph".to_string()];
        assert!((normalised_score(1.5, weighted, &both) - 1.0).abs() < 1e-6);
        assert!((normalised_score(0.75, weighted, &both) - 0.5).abs() < 1e-6);
        assert!((normalised_score(2.0 / 61.0, Fusion::Rrf { k: 60.0 }, &both) - 1.0).abs() < 1e-6);
        assert_eq!(normalised_score(1.0, weighted, &[]), 0.0);
    }

    #[test]
    fn retrieval_settings() {
        let setting = |v: Value| -> DifyRetrievalSetting {
            let request =
                DifyRequest::from_json(json!({"knowledge_id": "default", "query": "q", "retrieval_setting": v}));
            request.expect("shape").retrieval_setting.unwrap_or_default()
        };
        assert_eq!(setting(json!({})).resolve(100).expect("ok"), (DIFY_DEFAULT_TOP_K, DIFY_DEFAULT_SCORE_THRESHOLD));
        assert_eq!(setting(json!({"top_k": 4, "score_threshold": 0.5})).resolve(100).expect("ok"), (4, 0.5));
        assert_eq!(setting(json!({"top_k": 1e30})).resolve(100).expect("capped").0, 100);
        assert_eq!(setting(json!({"top_k": 4.0})).resolve(100).expect("integral").0, 4);
        for bad in [json!({"top_k": 0}), json!({"top_k": -1}), json!({"top_k": 2.5}), json!({"top_k": "4"})] {
            assert!(setting(bad).resolve(100).is_err());
        }
        for bad in [json!({"score_threshold": 1.5}), json!({"score_threshold": -0.1}), json!({"score_threshold": "x"})]
        {
            assert!(setting(bad).resolve(100).is_err());
        }
        assert!(knowledge_scope("default").expect("ok").is_none());
        assert_eq!(knowledge_scope("answer_standard").expect("ok"), Some(ItemKind::AnswerStandard));
        assert!(knowledge_scope("nope").is_err());
    }

    #[test]
    fn dify_bodies_are_read_field_by_field() {
        let read = |v: Value| DifyRequest::from_json(v);
        let request = read(json!({
            "knowledge_id": "default", "query": "通道告警", "retrieval_setting": {"top_k": 3, "score_threshold": null},
            "metadata_condition": null, "extra": [1]
        }))
        .expect("valid");
        assert_eq!(request.knowledge_id, "default");
        assert_eq!(
            request.retrieval_setting,
            Some(DifyRetrievalSetting { top_k: Some(json!(3)), score_threshold: None })
        );
        assert_eq!(request.metadata_condition, None);
        let refused = |v: Value| match read(v) {
            Err(Error::InvalidRequest { code: Invalid::Parameter, message }) => message,
            other => panic!("{other:?}"),
        };
        assert!(refused(json!([1, 2])).contains("JSON object"));
        assert!(refused(json!({"query": "q"})).starts_with("`knowledge_id` is missing"));
        assert!(refused(json!({"knowledge_id": null, "query": "q"})).starts_with("`knowledge_id` is missing"));
        assert!(
            refused(json!({"knowledge_id": 13812345678u64, "query": "q"}))
                .starts_with("`knowledge_id` must be a string")
        );
        assert!(refused(json!({"knowledge_id": "default"})).starts_with("`query` is missing"));
        assert!(refused(json!({"knowledge_id": "default", "query": ["a"]})).starts_with("`query` must be a string"));
        let setting = refused(json!({"knowledge_id": "default", "query": "q", "retrieval_setting": "fast"}));
        assert!(setting.starts_with("`retrieval_setting` must be an object"), "{setting}");
    }

    #[test]
    fn the_registration_probe_and_escaped_quotes() {
        let request = |knowledge_id: &str, query: &str| DifyRequest {
            knowledge_id: knowledge_id.into(),
            query: query.into(),
            ..Default::default()
        };
        assert!(request("", "").is_probe());
        assert!(request(" ", "\t\n").is_probe());
        assert!(!request("default", "").is_probe());
        assert!(!request("", "通道告警").is_probe());
        let limits = Limits::default();
        assert_eq!(request("", "").probe_answer(&limits).expect("empty"), DifyResponse { records: Vec::new() });
        // The probe's settings are checked as any request's.
        let mut bad = request("", "");
        bad.retrieval_setting = Some(DifyRetrievalSetting { top_k: Some(json!(0)), score_threshold: None });
        assert!(matches!(
            bad.probe_answer(&limits),
            Err(Error::InvalidRequest { code: Invalid::RetrievalSetting, .. })
        ));
        assert_eq!(request("default", r#"\"通道\"告警"#).query_text(), r#""通道"告警"#);
        assert_eq!(request("default", "通道告警").query_text(), "通道告警");
    }

    #[test]
    fn token_estimate() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("保护装置"), 4);
        assert_eq!(estimate_tokens("GKB-931A 告警。"), 1 + 1 + 1 + 2 + 1);
        assert_eq!(estimate_tokens("abcdefgh"), 2);
    }

    #[test]
    fn sentences_and_passages() {
        let text = "先查看通道状态。再测量光功率！“两侧告警？”版本v1.2有效. 末句";
        let sentences = split_sentences(text);
        assert_eq!(sentences.concat(), text);
        assert_eq!(sentences, ["先查看通道状态。", "再测量光功率！", "“两侧告警？”", "版本v1.2有效.", " 末句"]);

        let long = "装置报通道告警时先查看通道状态和误码计数。".repeat(20);
        let body = format!("## 处理步骤\n\n{long}\n\n短段。");
        let passages = split_passages(&body);
        assert!(passages.len() > 2, "{passages:?}");
        assert!(passages[0].starts_with("## 处理步骤\n"), "a heading joins what follows: {passages:?}");
        for p in &passages {
            assert!(estimate_tokens(p) <= PASSAGE_MAX_TOKENS, "{p}");
            assert!(p.ends_with('。'), "never cut mid-sentence: {p}");
        }
        let one_sentence = "很".repeat(PASSAGE_MAX_TOKENS * 2);
        assert_eq!(split_passages(&one_sentence), [one_sentence], "a long sentence stays whole");
        assert!(split_passages("  \n\n ").is_empty());
    }

    #[test]
    fn packing_skips_what_does_not_fit() {
        let (kept, skipped) = pack([5, 10, 3, 2], 10, |t| *t);
        assert_eq!((kept, skipped), (vec![5, 3, 2], 1));
    }

    proptest! {
        #[test]
        fn packer_never_exceeds_the_budget(sizes in proptest::collection::vec(0usize..500, 0..60), budget in 0usize..3000) {
            let (kept, skipped) = pack(sizes.iter().copied().enumerate(), budget, |(_, t)| *t);
            let used: usize = kept.iter().map(|(_, t)| t).sum();
            prop_assert!(used <= budget);
            prop_assert_eq!(kept.len() + skipped, sizes.len());
            // Kept in order; every skipped candidate did not fit even in what is finally left.
            prop_assert!(kept.windows(2).all(|w| w[0].0 < w[1].0));
            let left = budget - used;
            for (i, size) in sizes.iter().enumerate() {
                if !kept.iter().any(|(j, _)| *j == i) {
                    prop_assert!(*size > left);
                }
            }
        }

        #[test]
        fn passages_keep_every_sentence(text in "[通道告警。！？a-z0-9 .\n]{0,400}") {
            let passages = split_passages(&text);
            let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            prop_assert_eq!(squash(&passages.concat()), squash(&text));
            prop_assert!(passages.iter().all(|p| !p.trim().is_empty()));
        }

        #[test]
        fn conditions_never_panic(op in "[a-z=<>≠≥≤! ]{0,12}", value in proptest::option::of("[0-9a-z:T-]{0,24}")) {
            let meta = item_metadata(&item());
            if let Ok(Some(condition)) = condition(json!("valid_until"), &op, json!(value)) {
                let _ = condition.matches(&meta);
            }
        }
    }
}
