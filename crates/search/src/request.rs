//! Search requests and responses, and the checks a request must pass before it runs.

use std::collections::BTreeMap;

use lexical::FilterField;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::fusion::{Fusion, Retriever, Standing};
use crate::{Error, Invalid, Limits, Result};

/// A search as agents and bots send it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The user's words (at most the `max_query_chars` limit, 512 characters unless configured);
    /// masked and normalised before use.
    #[serde(default)]
    #[schema(max_length = 512, example = "931保护通道告警")]
    pub q: String,
    /// Hits to return: 1 to the `max_limit` limit (100 unless configured); the `default_limit`
    /// limit (10) when absent.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// Hits to skip; `offset + limit` may not exceed the `max_window` limit (1000 unless
    /// configured).
    #[serde(default)]
    pub offset: usize,
    /// Exact filters: each field's values are OR-ed, fields are AND-ed. Only published items
    /// are returned unless a `status` filter asks for others.
    #[serde(default)]
    #[schema(value_type = Filters)]
    pub filters: BTreeMap<FilterField, Vec<String>>,
    /// Retrievers to use (default: every one available). `["lexical"]` gives plain BM25.
    #[serde(default)]
    pub retrievers: Option<Vec<Retriever>>,
    /// How the retrievers' lists are fused (default: the server's, chosen by evaluation).
    #[serde(default)]
    pub fusion: Option<Fusion>,
}

/// Why a hit was returned: where it stood in each retriever's list and how that was fused.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Explanation {
    /// Query terms found in the item's title or body.
    pub matched_terms: Vec<String>,
    /// BM25 rank and score (title terms weigh more than body terms), if lexical found it.
    pub lexical: Option<Standing>,
    /// Rank and cosine similarity of the item to the query, if dense retrieval found it.
    pub semantic: Option<Standing>,
    /// Rank and score in graph expansion, if the graph reached it.
    pub graph: Option<Standing>,
    /// The graph path from an entity named in the query to the item, e.g.
    /// `["GKB-931A", "line", "线路保护", "fault", "通道中断"]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub graph_path: Vec<String>,
    /// What agents' feedback added to the fused score, when it moved this item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<crate::feedback::FeedbackEffect>,
    /// The fused score the final rank comes from (feedback included).
    pub fused_score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Hit {
    pub id: String,
    /// 1-based position in the full result list.
    pub rank: usize,
    pub score: f32,
    pub title: String,
    pub kind: String,
    pub category: Option<String>,
    pub status: String,
    pub products: Vec<String>,
    pub faults: Vec<String>,
    pub tags: Vec<String>,
    /// HTML-escaped fragment, matches wrapped in `<em>`.
    pub snippet: String,
    pub explanation: Explanation,
}

/// An entity of the knowledge graph found in the query text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LinkedEntity {
    pub id: String,
    pub class: String,
    pub label: String,
    /// The words of the query that named it.
    pub matched: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SearchResponse {
    /// This response's id in the request log: name it in `POST /v1/feedback` (also the
    /// `X-Request-Id` header). Set by the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The query as it was used: personal data masked.
    pub query: String,
    /// The terms the query was analysed into.
    pub terms: Vec<String>,
    pub total: usize,
    pub offset: usize,
    pub hits: Vec<Hit>,
    /// The deadline passed: hits are complete but snippets were skipped.
    pub partial: bool,
    /// Retrievers that took part in this ranking.
    pub retrievers: Vec<String>,
    /// Set when a retriever that was asked for could not take part, saying why (no model,
    /// embeddings still being computed, over its time budget). Results are still valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
    /// How the lists were fused: an adaptive fusion (the default) is shown as the weighted sum
    /// with the weights it chose for this query.
    pub fusion: Fusion,
    /// Entities of the knowledge graph named in the query (products, models, faults, ...).
    pub linked: Vec<LinkedEntity>,
    pub took_ms: f64,
}

/// The filters a search accepts (the OpenAPI schema of [`SearchRequest::filters`]): each field
/// lists 1 to the `max_filter_values` limit (32 unless configured) exact codes, OR-ed; fields are
/// AND-ed; any other name is refused. The server's OpenAPI test checks these names against
/// [`FilterField`].
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "a schema for the OpenAPI document only; requests use the map")]
pub(crate) struct Filters {
    /// Knowledge item kind, e.g. `technical_point`, `solved_case`, `answer_standard`.
    kind: Option<Vec<String>>,
    /// Minor service category, e.g. `fault_repair`, `consultation`, `praise`.
    category: Option<Vec<String>>,
    /// Major service category: `complaint`, `fault_repair`, `service_request`, `other`.
    major: Option<Vec<String>>,
    /// Item status (`draft`, `review`, `published`, `retired`); only `published` items are
    /// returned unless this asks for others.
    status: Option<Vec<String>>,
    /// Owning organisation unit.
    owner: Option<Vec<String>>,
    /// Level of the owning unit: `province`, `city`, `county`, `hq`.
    owner_level: Option<Vec<String>>,
    /// Product line, model or component id, e.g. `pm-gkb-931a`.
    product: Option<Vec<String>>,
    /// Fault (or cause / solution) id, e.g. `f-ct-break`.
    fault: Option<Vec<String>>,
    /// Free tag, e.g. `停电敏感`.
    tag: Option<Vec<String>>,
}

impl SearchRequest {
    /// Checks the request against the limits; returns the effective limit.
    pub fn validate(&self, limits: &Limits) -> Result<usize> {
        let chars = self.q.chars().count();
        if chars > limits.max_query_chars {
            return Err(Error::invalid(
                Invalid::QueryTooLong,
                format!("query has {chars} characters; at most {} are allowed", limits.max_query_chars),
            ));
        }
        if self.q.trim().is_empty() && self.filters.is_empty() {
            return Err(Error::invalid(Invalid::EmptyQuery, "give a query text `q`, or at least one filter"));
        }
        let limit = self.limit.unwrap_or(limits.default_limit);
        if limit == 0 || limit > limits.max_limit {
            return Err(Error::invalid(Invalid::Limit, format!("limit must be between 1 and {}", limits.max_limit)));
        }
        if self.offset.saturating_add(limit) > limits.max_window {
            return Err(Error::invalid(
                Invalid::Offset,
                format!(
                    "offset + limit must not exceed {}; narrow the query instead of paging deeper",
                    limits.max_window
                ),
            ));
        }
        if let Some(fusion) = &self.fusion {
            fusion.validate().map_err(|m| Error::invalid(Invalid::Parameter, m))?;
        }
        if self.retrievers.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::invalid(
                Invalid::Parameter,
                "retrievers must name at least one of lexical, dense, graph",
            ));
        }
        for (field, values) in &self.filters {
            if values.is_empty() || values.len() > limits.max_filter_values {
                return Err(Error::invalid(
                    Invalid::Filter,
                    format!(
                        "filter `{}` must list 1 to {} values",
                        serde_json::to_value(field)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        limits.max_filter_values
                    ),
                ));
            }
            if values.iter().any(|v| v.is_empty() || v.len() > 128) {
                return Err(Error::invalid(Invalid::Filter, "filter values must be 1 to 128 bytes"));
            }
        }
        Ok(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_enforced_with_codes() {
        let limits = Limits::default();
        let code = |r: SearchRequest| match r.validate(&limits) {
            Err(Error::InvalidRequest { code, .. }) => code.code(),
            other => panic!("expected a refusal, got {other:?}"),
        };
        let q = |q: &str| SearchRequest { q: q.into(), ..Default::default() };
        assert_eq!(code(q("")), "empty_query");
        assert_eq!(code(q(&"断".repeat(513))), "query_too_long");
        assert_eq!(q(&"断".repeat(512)).validate(&limits).expect("512 chars allowed"), 10);
        assert_eq!(code(SearchRequest { limit: Some(0), ..q("x") }), "invalid_limit");
        assert_eq!(code(SearchRequest { limit: Some(101), ..q("x") }), "invalid_limit");
        assert_eq!(code(SearchRequest { offset: 991, ..q("x") }), "invalid_offset");
        let mut filtered = q("");
        filtered.filters.insert(FilterField::Kind, vec!["solved_case".into()]);
        assert_eq!(filtered.validate(&limits).expect("filter-only browse"), 10);
        filtered.filters.insert(FilterField::Fault, vec![]);
        assert_eq!(code(filtered), "invalid_filter");
    }
}
