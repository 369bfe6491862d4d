//! The tantivy face of the analyzer.

use tantivy_tokenizer_api::{Token as TantivyToken, TokenStream, Tokenizer};

use crate::Analyzer;

/// The name under which callers register [`JiebaTokenizer`] with tantivy's tokenizer manager.
pub const TOKENIZER_NAME: &str = "gridkb_zh";

/// A tantivy tokenizer emitting [`Analyzer::index_tokens`]. Positions are ordinal (0, 1, 2 …,
/// one per token, sub-words and code forms included); offsets are byte offsets into the text
/// given to it, which the caller has already normalised.
#[derive(Debug, Clone)]
pub struct JiebaTokenizer {
    analyzer: Analyzer,
}

impl JiebaTokenizer {
    pub(crate) fn new(analyzer: Analyzer) -> Self {
        JiebaTokenizer { analyzer }
    }
}

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = JiebaTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> JiebaTokenStream {
        JiebaTokenStream {
            tokens: self.analyzer.index_tokens(text).into_iter(),
            next_position: 0,
            current: TantivyToken::default(),
        }
    }
}

/// The tokens of one text, see [`JiebaTokenizer`].
#[derive(Debug)]
pub struct JiebaTokenStream {
    tokens: std::vec::IntoIter<crate::Token>,
    next_position: usize,
    current: TantivyToken,
}

impl TokenStream for JiebaTokenStream {
    fn advance(&mut self) -> bool {
        let Some(token) = self.tokens.next() else {
            return false;
        };
        self.current = TantivyToken {
            offset_from: token.start,
            offset_to: token.end,
            position: self.next_position,
            text: token.text,
            position_length: 1,
        };
        self.next_position += 1;
        true
    }

    fn token(&self) -> &TantivyToken {
        &self.current
    }

    fn token_mut(&mut self) -> &mut TantivyToken {
        &mut self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_ordinal_and_offsets_match_index_tokens() {
        let analyzer = Analyzer::new();
        let text = "gkb-931a纵联差动保护通道中断";
        let expected = analyzer.index_tokens(text);
        let mut tokenizer = analyzer.tokenizer();
        let mut stream = tokenizer.token_stream(text);
        let mut seen = Vec::new();
        while let Some(token) = stream.next() {
            seen.push(token.clone());
        }
        assert_eq!(seen.len(), expected.len());
        for (i, (got, want)) in seen.iter().zip(&expected).enumerate() {
            assert_eq!(got.position, i);
            assert_eq!(got.position_length, 1);
            assert_eq!((got.offset_from, got.offset_to, got.text.as_str()), (want.start, want.end, want.text.as_str()));
        }
    }

    #[test]
    fn empty_text_yields_nothing() {
        let mut tokenizer = Analyzer::new().tokenizer();
        assert!(!tokenizer.token_stream("").advance());
    }
}
