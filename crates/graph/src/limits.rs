//! Every bound of the graph crate, as a named constant. Callers with a configuration pass their
//! own values where a function takes one; these are the defaults.

use std::time::Duration;

/// Longest path (in edges) graph expansion follows from a linked entity to an item.
pub const MAX_EXPANSION_HOPS: usize = 3;
/// Most neighbours expansion follows from one node along one edge type.
pub const MAX_EXPANSION_FANOUT: usize = 32;
/// Most nodes one expansion step continues from, per linked entity (the strongest paths).
pub const MAX_EXPANSION_FRONTIER: usize = 24;
/// Most linked entities one expansion starts from.
pub const MAX_EXPANSION_SEEDS: usize = 16;
/// Most candidate items one expansion returns.
pub const MAX_EXPANSION_CANDIDATES: usize = 100;
/// Most paths kept per candidate (the strongest ones), for the explanation.
pub const MAX_PATHS_PER_CANDIDATE: usize = 3;
/// Most entities linked to one span of text (an alias shared by several entities).
pub const MAX_ENTITIES_PER_SPAN: usize = 32;
/// An ambiguous span naming more entities than this (and not narrowed by the other linked
/// entities) is too vague to expand from.
pub const MAX_AMBIGUOUS_SEEDS: usize = 4;
/// Longest text the linker reads, in bytes; the rest is ignored.
pub const MAX_LINK_TEXT_BYTES: usize = 8 * 1024;
/// Shortest alias the linker matches, in characters of normalised text.
pub const MIN_ALIAS_CHARS: usize = 2;
/// Longest all-letter alias (`ct`, `it`, `goose`) that links only where it reads as the
/// abbreviation — beside Chinese, not among Latin words — because words this short are also
/// English words and names in code. Longer ones (`comtrade`, `spdnet`) are unmistakable.
pub const MAX_BARE_LATIN_CHARS: usize = 5;
/// Most synonym terms (other aliases and labels of the linked things) added to one query.
pub const MAX_SYNONYM_TERMS: usize = 24;
/// Longest thesaurus word written to the jieba user dictionary, in characters.
pub const MAX_USER_WORD_CHARS: usize = 10;
/// A warranty ending within this many days is "expiring" (质保到期预警).
pub const WARRANTY_EXPIRING_DAYS: i64 = 90;
/// Most cases listed in a device's service history.
pub const MAX_SERVICE_HISTORY: usize = 50;
/// Most subjects of one region (organisation units, customers) read to find the region's
/// organisation units; a region shared by more customers than this may miss its unit.
pub const MAX_REGION_SUBJECTS: usize = 4096;
/// Most rows a domain listing (expiring warranties, stale items) returns, by default: the callers
/// pass their own (the server's `max_listing` limit).
pub const MAX_LISTING: usize = 1000;
/// Longest QR payload read, in bytes.
pub const MAX_QR_PAYLOAD_BYTES: usize = 2048;
/// Longest serial number accepted, in bytes.
pub const MAX_SERIAL_BYTES: usize = 64;
/// Default SPARQL deadline.
pub const SPARQL_TIMEOUT: Duration = Duration::from_secs(5);
/// Default most results (solutions or triples) one SPARQL query may return.
pub const SPARQL_RESULT_CAP: usize = 10_000;
/// Longest SPARQL query text, in bytes.
pub const MAX_SPARQL_QUERY_BYTES: usize = 64 * 1024;
/// Deepest nesting of `{`, `(` and `[` a SPARQL query may have. The SPARQL parser is recursive:
/// thousands of levels overflow the stack and abort the whole process, so the depth is checked
/// before the query reaches it.
pub const MAX_SPARQL_DEPTH: usize = 32;
