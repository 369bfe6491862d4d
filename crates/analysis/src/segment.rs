//! Segmentation of normalised text into index tokens and query terms.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use jieba_rs::Jieba;

use crate::dictionary::{self, DictionaryError};
use crate::tokenizer::JiebaTokenizer;
use crate::{code, normalize, stopwords};

/// A term of the analysed text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Token {
    /// The term, lowercase.
    pub text: String,
    /// Byte offset of its first byte in the analysed (normalised) text.
    pub start: usize,
    /// Byte offset one past its last byte.
    pub end: usize,
}

/// Chinese segmentation with the power-domain vocabulary.
///
/// Cheap to clone and share across threads: the dictionary sits behind an `Arc`. [`Analyzer::new`]
/// reuses one process-wide dictionary. Clones share one vocabulary slot: [`Analyzer::set_user_words`]
/// (thesaurus hot reload) changes the vocabulary of the analyzer and of every clone of it — the
/// tantivy tokenizer included — for the texts they segment from then on.
///
/// For every token of [`Analyzer::index_tokens`], `text[start..end]` lies on character
/// boundaries and, lowercased, equals the token — except for the code forms that drop
/// joiners (`gkb931a` spans `GKB-931A`; `gb/t14285` spans `gb/t 14285`), which equal that
/// slice with `-` `_` `/` and spaces removed.
#[derive(Debug, Clone)]
pub struct Analyzer {
    jieba: Arc<RwLock<Arc<Jieba>>>,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl Analyzer {
    /// jieba's dictionary plus the built-in power-domain dictionary. The first call in a
    /// process loads them (~200 ms); later calls share that copy.
    pub fn new() -> Analyzer {
        Analyzer::from_jieba(Arc::clone(&dictionary::BUILT_IN))
    }

    fn from_jieba(jieba: Arc<Jieba>) -> Analyzer {
        Analyzer { jieba: Arc::new(RwLock::new(jieba)) }
    }

    /// The dictionary in use now.
    fn jieba(&self) -> Arc<Jieba> {
        Arc::clone(&self.jieba.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Replaces the user words of this analyzer and all its clones: from now on they segment
    /// with the built-in vocabulary plus `words` (normalised and filtered as in
    /// [`Analyzer::with_user_words`]). Texts segmented before keep their old tokens — an index
    /// built earlier matches the new words only through their dictionary sub-words until it is
    /// rebuilt. Takes about as long as cloning the dictionary (tens of milliseconds).
    pub fn set_user_words<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, words: I) {
        let fresh = Self::with_user_words(words).jieba();
        *self.jieba.write().unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
    }

    /// The built-in vocabulary plus `words` (thesaurus terms, product aliases). Words are
    /// normalised first; words containing ASCII, spaces or punctuation are skipped, because
    /// only runs of Chinese reach jieba — codes such as `GKB-931A` are kept whole anyway.
    pub fn with_user_words<I: IntoIterator<Item = S>, S: AsRef<str>>(words: I) -> Analyzer {
        let mut jieba = Jieba::clone(&dictionary::BUILT_IN);
        for word in words {
            dictionary::add_word(&mut jieba, word.as_ref(), dictionary::USER_WORD_FREQ, dictionary::USER_WORD_TAG);
        }
        Analyzer::from_jieba(Arc::new(jieba))
    }

    /// The built-in vocabulary plus a jieba-format dictionary given as a string (`word [freq
    /// [tag]]` per line, `#` comments), with the same normalisation as [`Analyzer::with_user_words`].
    pub fn with_user_dict(dict: &str) -> Result<Analyzer, DictionaryError> {
        let mut jieba = Jieba::clone(&dictionary::BUILT_IN);
        dictionary::add_dictionary(&mut jieba, dict)?;
        Ok(Analyzer::from_jieba(Arc::new(jieba)))
    }

    /// Tokens to index, from text already passed through [`normalize`].
    ///
    /// Chinese runs are cut by jieba in search mode with HMM (long words also yield their
    /// dictionary sub-words: 纵联差动保护 → 纵联, 差动, 保护, 纵联差动, 差动保护,
    /// 纵联差动保护); ASCII runs are
    /// code runs, kept whole and expanded as described in the `code` module (`GKB-931A` →
    /// `gkb-931a`, `gkb931a`, `gkb`, `931a`, `931`). Whitespace, punctuation and symbols are
    /// dropped. Tokens come in text order of their runs; offsets are byte offsets into
    /// `normalized`. Text that was not normalised is handled (tokens are still lowercase), but
    /// full-width and traditional forms then will not match their normalised twins.
    pub fn index_tokens(&self, normalized: &str) -> Vec<Token> {
        let jieba = self.jieba();
        let mut tokens = Vec::new();
        let mut cursor = 0;
        for run in code::CODE_RUN.find_iter(normalized) {
            segment_words(&jieba, normalized, cursor, run.start(), &mut tokens);
            code::expand(normalized, run.start(), run.end(), &mut tokens);
            cursor = run.end();
        }
        segment_words(&jieba, normalized, cursor, normalized.len(), &mut tokens);
        tokens
    }

    /// The terms of a raw query: normalised, segmented exactly as [`Analyzer::index_tokens`],
    /// deduplicated in order of first appearance, question and function words (怎么, 如何, 的
    /// …) dropped unless nothing else is left.
    pub fn query_terms(&self, text: &str) -> Vec<String> {
        let normalized = normalize(text);
        let mut seen = HashSet::new();
        let terms: Vec<String> =
            self.index_tokens(&normalized).into_iter().map(|t| t.text).filter(|t| seen.insert(t.clone())).collect();
        if terms.iter().all(|t| stopwords::is_stopword(t)) {
            return terms;
        }
        terms.into_iter().filter(|t| !stopwords::is_stopword(t)).collect()
    }

    /// A tantivy tokenizer producing [`Analyzer::index_tokens`] with ordinal positions.
    pub fn tokenizer(&self) -> JiebaTokenizer {
        JiebaTokenizer::new(self.clone())
    }
}

/// Cut the word runs (maximal runs of non-ASCII letters and digits) of `text[from..to]`,
/// which holds no ASCII letter or digit: those all belong to code runs.
fn segment_words(jieba: &Jieba, text: &str, from: usize, to: usize, out: &mut Vec<Token>) {
    let gap = &text[from..to];
    let mut run_start = None;
    for (i, c) in gap.char_indices().chain([(gap.len(), ' ')]) {
        let in_word = c.is_alphanumeric() && !c.is_ascii();
        match (in_word, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(start)) => {
                cut(jieba, &gap[start..i], from + start, out);
                run_start = None;
            }
            _ => {}
        }
    }
}

/// jieba's search mode, generalised: each word of the accurate cut (HMM on) is preceded by
/// its dictionary sub-words of *every* length, where `cut_for_search` stops at 3
/// characters. So 纵联差动保护 also yields 纵联差动 and 差动保护, and a query for either
/// matches it.
fn cut(jieba: &Jieba, run: &str, offset: usize, out: &mut Vec<Token>) {
    for word in jieba.cut(run, true) {
        let start = offset + word.byte_start;
        push_sub_words(jieba, word.word, start, out);
        out.push(Token { text: word.word.to_lowercase(), start, end: offset + word.byte_end });
    }
}

fn push_sub_words(jieba: &Jieba, word: &str, start: usize, out: &mut Vec<Token>) {
    // Byte offset of every character boundary, the end included.
    let bounds: Vec<usize> = word.char_indices().map(|(i, _)| i).chain([word.len()]).collect();
    let chars = bounds.len() - 1;
    // Dictionary words are short; an unusually long token (HMM on unknown text) is not
    // worth a quadratic scan.
    if !(3..=MAX_SUB_WORD_SOURCE_CHARS).contains(&chars) {
        return;
    }
    for len in 2..chars {
        for first in 0..=chars - len {
            let sub = &word[bounds[first]..bounds[first + len]];
            if jieba.has_word(sub) {
                out.push(Token {
                    text: sub.to_lowercase(),
                    start: start + bounds[first],
                    end: start + bounds[first + len],
                });
            }
        }
    }
}

/// Longest word (in characters) whose dictionary sub-words are emitted.
const MAX_SUB_WORD_SOURCE_CHARS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(tokens: &[Token]) -> Vec<&str> {
        tokens.iter().map(|t| t.text.as_str()).collect()
    }

    #[test]
    fn analyzer_and_tokenizer_are_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
        assert_send_sync::<Analyzer>();
        assert_send_sync::<JiebaTokenizer>();
    }

    #[test]
    fn codes_and_words_are_split_apart() {
        let analyzer = Analyzer::new();
        let text = normalize("931保护装置告警CT断线");
        let tokens = analyzer.index_tokens(&text);
        let texts = texts(&tokens);
        for expected in ["931", "保护", "装置", "保护装置", "告警", "ct", "断线"] {
            assert!(texts.contains(&expected), "{expected} missing from {texts:?}");
        }
    }

    #[test]
    fn user_words_change_segmentation() {
        let word = "锟斤拷告警";
        let before = Analyzer::new().index_tokens(word);
        assert!(!texts(&before).contains(&word));
        let after = Analyzer::with_user_words([word]).index_tokens(word);
        assert!(texts(&after).contains(&word), "{after:?}");
    }

    #[test]
    fn set_user_words_changes_every_clone() {
        let word = "锟斤拷告警";
        let analyzer = Analyzer::new();
        let mut tokenizer = analyzer.tokenizer();
        let clone = analyzer.clone();
        analyzer.set_user_words([word]);
        assert!(texts(&clone.index_tokens(word)).contains(&word));
        let mut stream = tantivy_tokenizer_api::Tokenizer::token_stream(&mut tokenizer, word);
        let mut seen = Vec::new();
        while tantivy_tokenizer_api::TokenStream::advance(&mut stream) {
            seen.push(tantivy_tokenizer_api::TokenStream::token(&stream).text.clone());
        }
        assert!(seen.iter().any(|t| t == word), "{seen:?}");
        // Replaced, not added to: the old words go.
        analyzer.set_user_words(["别的词语"]);
        assert!(!texts(&clone.index_tokens(word)).contains(&word));
        // Another analyzer is not affected.
        assert!(!texts(&Analyzer::new().index_tokens(word)).contains(&word));
    }

    #[test]
    fn user_dict_errors_are_reported() {
        assert!(Analyzer::with_user_dict("电能表 x").is_err());
        let analyzer = Analyzer::with_user_dict("锟斤拷告警 5000 n").unwrap();
        assert!(texts(&analyzer.index_tokens("锟斤拷告警")).contains(&"锟斤拷告警"));
    }

    #[test]
    fn query_terms_drop_question_words_but_never_everything() {
        let analyzer = Analyzer::new();
        let terms = analyzer.query_terms("通道告警怎么处理？");
        assert!(!terms.iter().any(|t| t == "怎么"), "{terms:?}");
        assert!(terms.iter().any(|t| t == "处理"), "{terms:?}");
        assert!(analyzer.query_terms("怎么办").contains(&"怎么办".to_owned()));
        assert!(analyzer.query_terms("？！ ").is_empty());
    }

    #[test]
    fn query_terms_are_deduplicated_in_order() {
        let terms = Analyzer::new().query_terms("告警 告警 GKB-931A gkb931a");
        assert_eq!(terms.iter().filter(|t| *t == "告警").count(), 1);
        assert_eq!(terms.first().map(String::as_str), Some("告警"));
        assert_eq!(terms.iter().filter(|t| *t == "gkb931a").count(), 1);
    }
}
