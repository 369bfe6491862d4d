//! The tokenizer snippets are made with. Tantivy's snippet generator needs the text's tokens to
//! find where the query's terms occur; segmenting each shown body again with jieba (search mode)
//! cost more than the rest of showing a page. The query's terms are already known, so their
//! occurrences are found directly: ASCII letters compared without case (as the analyser folds
//! them), every occurrence a token, overlapping ones included (the highlighter merges them).
//! Terms of one character are left out: found inside longer words (`派` in `派单`) they would
//! highlight what jieba would not have segmented as that word.

use std::sync::Arc;

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Finds the occurrences of a fixed list of terms.
#[derive(Debug, Clone)]
pub(crate) struct TermFinder {
    /// Lower-case terms, none empty.
    terms: Arc<Vec<String>>,
}

impl TermFinder {
    pub(crate) fn new<'t>(terms: impl IntoIterator<Item = &'t String>) -> TermFinder {
        let mut terms: Vec<String> =
            terms.into_iter().filter(|t| t.chars().nth(1).is_some()).map(|t| t.to_ascii_lowercase()).collect();
        terms.sort();
        terms.dedup();
        TermFinder { terms: Arc::new(terms) }
    }
}

/// The occurrences found in one text, in order of position.
pub(crate) struct Occurrences {
    tokens: Vec<Token>,
    /// One past the current token (0 before the first `advance`).
    next: usize,
}

impl Tokenizer for TermFinder {
    type TokenStream<'a> = Occurrences;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Occurrences {
        // ASCII lower-casing keeps every byte offset.
        let folded = text.to_ascii_lowercase();
        let mut tokens: Vec<Token> = Vec::new();
        for term in self.terms.iter() {
            for (at, found) in folded.match_indices(term.as_str()) {
                tokens.push(Token {
                    offset_from: at,
                    offset_to: at + found.len(),
                    position: 0,
                    text: term.clone(),
                    position_length: 1,
                });
            }
        }
        tokens.sort_by(|a, b| a.offset_from.cmp(&b.offset_from).then(b.offset_to.cmp(&a.offset_to)));
        for (position, token) in tokens.iter_mut().enumerate() {
            token.position = position;
        }
        Occurrences { tokens, next: 0 }
    }
}

impl TokenStream for Occurrences {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next.saturating_sub(1).min(self.tokens.len().saturating_sub(1))]
    }

    fn token_mut(&mut self) -> &mut Token {
        let at = self.next.saturating_sub(1).min(self.tokens.len().saturating_sub(1));
        &mut self.tokens[at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_of_every_longer_term_is_a_token_in_order_without_case() {
        let terms = ["goose", "断链", "goose断链", "", "链"].map(String::from);
        let mut finder = TermFinder::new(&terms);
        let text = "GOOSE断链告警：检查goose断链";
        let mut stream = finder.token_stream(text);
        let mut found = Vec::new();
        while stream.advance() {
            let token = stream.token();
            found.push((&text[token.offset_from..token.offset_to], token.text.clone()));
        }
        assert_eq!(
            found,
            [
                ("GOOSE断链", "goose断链".to_string()),
                ("GOOSE", "goose".to_string()),
                ("断链", "断链".to_string()),
                ("goose断链", "goose断链".to_string()),
                ("goose", "goose".to_string()),
                ("断链", "断链".to_string()),
            ]
        );
    }
}
