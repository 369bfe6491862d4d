//! Text analysis for gridkb: normalisation, masking of personal data, and Chinese segmentation
//! for the lexical index.
//!
//! # Architecture invariant
//!
//! This is **the only crate that imports jieba**. Everything here is a pure text → text
//! function, with **no I/O besides loading dictionaries given as strings**, and **the same
//! analysis is applied at index time and at query time**: [`Analyzer::index_tokens`] (and the
//! tantivy [`JiebaTokenizer`] built on it) and [`Analyzer::query_terms`] share one segmentation,
//! so every query term can match an index term.
//!
//! # Pipeline
//!
//! Callers run, in this order: [`mask`] (personal data never reaches storage or an index),
//! [`normalize`] (full-width → half-width, traditional → simplified, lowercase, whitespace), then
//! the [`Analyzer`]. `mask` is also safe on raw text, and [`Analyzer::query_terms`] normalises
//! by itself because query text always arrives raw.
//!
//! # Segmentation in one paragraph
//!
//! The text is split into *code runs* (ASCII letters and digits joined by `-` `_` `/` `.`, such
//! as `gkb-931a`, `110kv`, `sf6`, `192.168.1.10`, `gb/t 14285-2023`) and *word runs* (CJK and
//! other non-ASCII letters). Only word runs go to jieba (search mode, HMM on, built-in dictionary
//! plus a power-domain dictionary); code runs are kept whole and also expanded into the forms a
//! user may type (see [`Analyzer::index_tokens`]).

mod code;
mod dictionary;
mod mask;
mod normalize;
mod segment;
mod spelling;
mod stopwords;
mod tokenizer;

pub use dictionary::DictionaryError;
pub use mask::{Masked, PiiKind, mask, without_masked};
pub use normalize::normalize;
pub use segment::{Analyzer, Token};
pub use spelling::{Fix, Spelled, Speller};
pub use tokenizer::{JiebaTokenStream, JiebaTokenizer, TOKENIZER_NAME};
