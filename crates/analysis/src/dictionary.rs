//! The jieba dictionaries: jieba's built-in one, the crate's power-domain one, and user words.
//!
//! `domain_dict.txt` (jieba format, `word freq tag`) holds the vocabulary of the customer
//! service centre: relay protection (差动保护, 重合闸, 压板, 定值), substation automation
//! (合并单元, 遥信, 纵向加密), primary equipment (断路器, 电流互感器), metering and collection
//! (电能表, 集中器, 户号), new energy (充电桩, 逆变器, 储能变流器, 过温降额) and service words
//! (工单, 质保期). Without it jieba splits 合并单元 or 纵联差动 into everyday words.
//!
//! Words containing ASCII (`CT断线`, `GOOSE断链`) are not in any dictionary: ASCII never
//! reaches jieba (see [`crate::code`]), so they are matched as `ct` + `断线` on both sides.

use std::sync::{Arc, LazyLock};

use jieba_rs::Jieba;

use crate::normalize;

const DOMAIN_DICT: &str = include_str!("domain_dict.txt");

/// Frequency given to user words that do not state one: high enough that a term wins over
/// the everyday words it is made of, as the domain dictionary's own entries do.
pub(crate) const USER_WORD_FREQ: usize = 3000;

/// Part-of-speech tag of user words (jieba's "other proper noun").
pub(crate) const USER_WORD_TAG: &str = "nz";

/// A user or domain dictionary line that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DictionaryError {
    /// A line whose frequency is not a non-negative integer.
    #[error("dictionary line {line}: frequency `{value}` is not a non-negative integer")]
    InvalidFrequency {
        /// 1-based line number.
        line: usize,
        /// The offending field.
        value: String,
    },
}

/// jieba's dictionary plus the domain dictionary, loaded once per process (~200 ms) and shared.
pub(crate) static BUILT_IN: LazyLock<Arc<Jieba>> = LazyLock::new(|| {
    let mut jieba = Jieba::new();
    add_dictionary(&mut jieba, DOMAIN_DICT).expect("the built-in domain dictionary is well-formed");
    Arc::new(jieba)
});

/// The words of the built-in power-domain dictionary.
pub(crate) fn domain_words() -> impl Iterator<Item = &'static str> {
    DOMAIN_DICT.lines().filter_map(|line| line.split_whitespace().next()).filter(|w| !w.starts_with('#'))
}

/// Add every entry of a jieba-format dictionary (`word [freq [tag]]` per line; blank lines and
/// lines starting with `#` ignored).
pub(crate) fn add_dictionary(jieba: &mut Jieba, dict: &str) -> Result<(), DictionaryError> {
    for (index, line) in dict.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(word) = fields.next().filter(|w| !w.starts_with('#')) else {
            continue;
        };
        let freq = match fields.next() {
            Some(value) => value
                .parse::<usize>()
                .map_err(|_| DictionaryError::InvalidFrequency { line: index + 1, value: value.to_owned() })?,
            None => USER_WORD_FREQ,
        };
        let tag = fields.next().unwrap_or(USER_WORD_TAG);
        add_word(jieba, word, freq, tag);
    }
    Ok(())
}

/// Add one word in its normalised form, so it matches normalised text. Words that cannot
/// reach jieba whole — containing ASCII, whitespace or punctuation — are skipped: the code
/// rules or the surrounding words handle them.
pub(crate) fn add_word(jieba: &mut Jieba, word: &str, freq: usize, tag: &str) {
    let word = normalize(word);
    if is_segmentable(&word) {
        jieba.add_word(&word, Some(freq), Some(tag));
    }
}

/// Whether jieba can ever see `word` whole: only runs of non-ASCII letters reach it.
pub(crate) fn is_segmentable(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| c.is_alphanumeric() && !c.is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_dictionary_is_well_formed_and_large_enough() {
        let mut entries = 0;
        for line in DOMAIN_DICT.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 3, "`word freq tag`: {line:?}");
            assert!(is_segmentable(fields[0]), "cannot reach jieba: {line:?}");
            assert_eq!(normalize(fields[0]), fields[0], "not normalised: {line:?}");
            assert!(fields[1].parse::<usize>().is_ok(), "frequency: {line:?}");
            entries += 1;
        }
        assert!(entries >= 300, "only {entries} domain terms");
    }

    #[test]
    fn domain_terms_are_known_to_jieba() {
        for word in ["合并单元", "纵联差动", "闭锁重合闸", "储能变流器", "网络安全监测"] {
            assert!(BUILT_IN.has_word(word), "{word}");
        }
    }

    #[test]
    fn bad_frequency_is_reported_with_its_line() {
        let mut jieba = Jieba::empty();
        let err = add_dictionary(&mut jieba, "合并单元 10 n\n\n智能终端 many n").unwrap_err();
        assert_eq!(err, DictionaryError::InvalidFrequency { line: 3, value: "many".into() });
    }

    #[test]
    fn user_words_are_normalised_and_ascii_words_skipped() {
        let mut jieba = Jieba::empty();
        add_dictionary(&mut jieba, "# comment\n合併單元\nGKB-931A 10\nct断线").unwrap();
        assert!(jieba.has_word("合并单元"));
        assert!(!jieba.has_word("gkb-931a"));
        assert!(!jieba.has_word("ct断线"));
    }
}
