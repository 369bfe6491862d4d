//! Homophone slips: a word of the service's vocabulary typed with one character that sounds the
//! same (`故账` for `故障`, `冲电桩` for `充电桩`, `电标` for `电表`).
//!
//! Chinese customers type with pinyin input methods, and the commonest slip is picking the wrong
//! character for the right syllable. Such a word is unknown to every dictionary, so it links no
//! entity, cues no category and matches no index term. [`Speller::correct`] reads it as the
//! vocabulary word it sounds like when exactly one such word fits:
//!
//! - the window differs from the word in **one character**, and the two characters are read
//!   the same (tones ignored; only the usual reading of a polyphone);
//! - the window is **not itself a common word** (`光线`, `定制`, `一只` are words, not slips,
//!   and stay as written), and **no common word runs across its edges** (`电费账单` holds the word
//!   `账单`, not a slip of `电费涨`);
//! - **one candidate** only: a window two vocabulary words could come from is left alone;
//! - longer words first, left to right, and a vocabulary word already written right is never
//!   touched.
//!
//! A fix keeps the text's length in characters and bytes (one CJK character for another), so
//! offsets into the text stay valid.

use std::collections::{HashMap, HashSet};

use pinyin::ToPinyin;

use crate::dictionary::{self, BUILT_IN};
use crate::normalize;

/// Words longer than this are not read for slips (no vocabulary word of the domain is longer
/// than a handful of characters, and every window costs a lookup).
const MAX_WORD_CHARS: usize = 8;

/// Function characters: particles, pronouns, prepositions and adverbs, the commonest words of
/// one character. A two-character window that holds one (`老是报`, `客服电话`, `和同系列`,
/// `烧了`) is nearly always two words side by side, not a slip, whichever of the two it is.
const FUNCTION_CHARS: &[char] = &[
    '了', '的', '地', '得', '着', '过', '吗', '呢', '吧', '啊', '呀', '是', '在', '有', '不', '也', '都', '就', '还',
    '又', '很', '和', '与', '及', '到', '对', '下', '上', '被', '把', '给', '说', '要', '会', '能', '可', '这', '那',
    '我', '你', '他', '她', '它', '们', '个', '来', '去', '让', '没', '才', '刚', '老', '最',
];

/// A vocabulary word read in place of what was written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fix {
    /// The characters as typed (a slice of the corrected text's input).
    pub written: String,
    /// The vocabulary word they were read as.
    pub read: String,
}

/// A text with its homophone slips read as the words they stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spelled {
    /// The text with every fix applied; as long as the input.
    pub text: String,
    /// The fixes, in text order.
    pub fixes: Vec<Fix>,
}

/// The vocabulary slips are read against: the domain dictionary's words plus the words given.
#[derive(Debug, Clone, Default)]
pub struct Speller {
    /// Every vocabulary word.
    words: HashSet<String>,
    /// A word with one character position blanked → the words (and that position) it comes
    /// from.
    patterns: HashMap<String, Vec<(u32, u8)>>,
    /// Vocabulary words by index, as characters.
    list: Vec<Vec<char>>,
    /// The longest vocabulary word, in characters.
    longest: usize,
}

impl Speller {
    /// The domain dictionary's words plus `words` (thesaurus terms, aliases, cue words), each
    /// normalised, and the common words they are made of; words that are not 2 to 8 Chinese
    /// characters are skipped.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(words: I) -> Speller {
        let domain = dictionary::domain_words().map(str::to_owned);
        let words: Vec<String> = domain.chain(words.into_iter().map(|w| normalize(w.as_ref()))).collect();
        // The common words the vocabulary is made of count too (保护 and 装置 of 保护装置, 充电 of
        // 直流充电): customers write them alone.
        let parts: Vec<String> = words
            .iter()
            .filter(|w| w.chars().count() > 2)
            .flat_map(|w| BUILT_IN.cut_for_search(w, false))
            .map(|token| token.word)
            .filter(|part| part.chars().count() >= 2 && is_common_word(part))
            .map(str::to_owned)
            .collect();
        let mut speller = Speller::default();
        for word in words.into_iter().chain(parts) {
            let chars: Vec<char> = word.chars().collect();
            if !(2..=MAX_WORD_CHARS).contains(&chars.len()) || !chars.iter().all(|&c| is_han(c)) {
                continue;
            }
            if !speller.words.insert(word) {
                continue;
            }
            let index = speller.list.len() as u32;
            for position in 0..chars.len() {
                speller.patterns.entry(pattern(&chars, position)).or_default().push((index, position as u8));
            }
            speller.longest = speller.longest.max(chars.len());
            speller.list.push(chars);
        }
        speller
    }

    /// How many words the vocabulary holds.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// `text` with each homophone slip of a vocabulary word read as that word (see the module
    /// documentation for when a window counts as a slip).
    pub fn correct(&self, text: &str) -> Spelled {
        let mut chars: Vec<char> = text.chars().collect();
        let mut fixes = Vec::new();
        let mut i = 0;
        'scan: while i < chars.len() {
            if !is_han(chars[i]) {
                i += 1;
                continue;
            }
            // Only as far as the longest word: a long run of Chinese is not read again from each
            // of its characters to its end.
            let run = chars[i..].iter().take(self.longest).take_while(|&&c| is_han(c)).count();
            for len in (2..=run).rev() {
                let window = &chars[i..i + len];
                let written: String = window.iter().collect();
                if self.words.contains(&written) {
                    i += len;
                    continue 'scan;
                }
                if is_common_word(&written) {
                    continue;
                }
                if let Some((word, slip)) = self.only_homophone(window)
                    && !cuts_a_word(&chars, (i, i + len), i + slip)
                {
                    let read: String = word.iter().collect();
                    chars[i..i + len].copy_from_slice(word);
                    fixes.push(Fix { written, read });
                    i += len;
                    continue 'scan;
                }
            }
            i += 1;
        }
        if fixes.is_empty() {
            return Spelled { text: text.to_string(), fixes };
        }
        Spelled { text: chars.into_iter().collect(), fixes }
    }

    /// The one vocabulary word `window` is a single-character homophone slip of, if exactly one,
    /// with the position of the slip.
    fn only_homophone(&self, window: &[char]) -> Option<(&[char], usize)> {
        let mut found: Option<(&[char], usize)> = None;
        for position in 0..window.len() {
            let Some(entries) = self.patterns.get(&pattern(window, position)) else { continue };
            for &(index, at) in entries {
                let word = &self.list[index as usize];
                let (typed, meant) = (window[position], word[usize::from(at)]);
                if usize::from(at) != position || typed == meant || !sound_alike(typed, meant) {
                    continue;
                }
                match found {
                    Some((other, _)) if other != word.as_slice() => return None,
                    _ => found = Some((word, position)),
                }
            }
        }
        found.filter(|_| window.len() > 2 || !window.iter().any(|c| FUNCTION_CHARS.contains(c)))
    }
}

/// `chars` with the character at `position` blanked.
fn pattern(chars: &[char], position: usize) -> String {
    chars.iter().enumerate().map(|(i, &c)| if i == position { '\u{0}' } else { c }).collect()
}

/// Whether two characters are read the same, tones ignored. Only the usual reading of each
/// counts: a polyphone's rare readings (`厂` as `an`, `价` as `jie`) made everyday words look
/// like slips.
fn sound_alike(a: char, b: char) -> bool {
    matches!((a.to_pinyin(), b.to_pinyin()), (Some(a), Some(b)) if a.plain() == b.plain())
}

/// jieba's dictionary holds words seen only a few times (`表显`, `保户`, `站里`); below this
/// frequency a word does not count as written on purpose, nor as cut by a window.
const COMMON_WORD_FREQ: usize = 20;

/// Whether jieba knows `word` as a word seen at least [`COMMON_WORD_FREQ`] times. For a word
/// the dictionary holds, `suggest_freq` is at least its frequency.
fn is_common_word(word: &str) -> bool {
    BUILT_IN.has_word(word) && BUILT_IN.suggest_freq(word) >= COMMON_WORD_FREQ
}

/// Whether a common word that holds the slip at `chars[slip]` runs across the start or the end
/// of `chars[start..end]` (`账单` across the end of `电费账` in `电费账单`): the character is
/// then part of a word written right. A word across the other edge (`家电` in `我家电标`) does
/// not count.
fn cuts_a_word(chars: &[char], (start, end): (usize, usize), slip: usize) -> bool {
    let crosses = |boundary: usize| {
        (boundary.saturating_sub(3)..boundary).any(|from| {
            (boundary + 1..=(boundary + 3).min(chars.len())).any(|to| {
                (from..to).contains(&slip) && to - from <= 4 && {
                    let word: String = chars[from..to].iter().collect();
                    is_common_word(&word)
                }
            })
        })
    };
    (start > 0 && crosses(start)) || (end < chars.len() && crosses(end))
}

/// A CJK unified ideograph (the characters pinyin covers).
fn is_han(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speller() -> Speller {
        Speller::new(["故障", "充电桩", "电表", "告警", "保护", "智能表"])
    }

    fn read(text: &str) -> (String, Vec<(String, String)>) {
        let spelled = speller().correct(text);
        (spelled.text, spelled.fixes.into_iter().map(|f| (f.written, f.read)).collect())
    }

    #[test]
    fn a_homophone_slip_reads_as_the_word_it_sounds_like() {
        let (text, fixes) = read("站里的冲电桩经常报故账");
        assert_eq!(text, "站里的充电桩经常报故障");
        assert_eq!(fixes, [("冲电桩".into(), "充电桩".into()), ("故账".into(), "故障".into())]);
        assert_eq!(read("只能表显示乱码").0, "智能表显示乱码");
        assert_eq!(read("高警灯亮了").0, "告警灯亮了");
    }

    #[test]
    fn the_text_keeps_its_length() {
        let text = "ＧＫＥ－３３报电标显式乱码, 故账";
        let spelled = speller().correct(text);
        assert_eq!(spelled.text.len(), text.len());
        assert_eq!(spelled.text.chars().count(), text.chars().count());
    }

    #[test]
    fn words_and_right_spellings_stay_as_written() {
        // 光线 and 一只 are words of their own; 充电桩 and 保护 are written right.
        let speller = Speller::new(["光纤", "一直", "充电桩", "保护"]);
        for text in ["光线太暗看不清", "一只鸟落在箱子上", "充电桩的保护动作了", "今天天气很好"]
        {
            let spelled = speller.correct(text);
            assert_eq!(spelled.text, text);
            assert!(spelled.fixes.is_empty(), "{:?}", spelled.fixes);
        }
    }

    #[test]
    fn a_slip_two_words_could_come_from_is_left_alone() {
        // 事线 could be a slip of 时线 (shi) or of 事先 (xian).
        let speller = Speller::new(["时线", "事先"]);
        assert!(speller.correct("事线").fixes.is_empty());
        let speller = Speller::new(["时线"]);
        assert_eq!(speller.correct("事线").text, "时线");
    }

    #[test]
    fn the_words_a_term_is_made_of_are_read_alone() {
        // 保护 and 装置 are parts of the domain term 保护装置 (no word is given here).
        let speller = Speller::new(Vec::<String>::new());
        assert_eq!(speller.correct("装制上保户动作了").text, "装置上保护动作了");
    }

    #[test]
    fn a_word_written_right_across_the_slip_keeps_it() {
        let speller = Speller::new(["电费涨", "电表"]);
        // 账单 holds the 账 that would be the slip of 电费涨.
        assert!(speller.correct("这个月电费账单不对").fixes.is_empty());
        // 家电 holds 电, not the slip 标.
        assert_eq!(speller.correct("我家电标抄不到").text, "我家电表抄不到");
        // A particle is no evidence: 烧了 stays, though 少了 is a vocabulary word.
        assert!(Speller::new(["少了"]).correct("模块烧了").fixes.is_empty());
    }

    #[test]
    fn characters_that_do_not_sound_alike_are_not_slips() {
        assert!(speller().correct("故事很长").fixes.is_empty());
        assert!(speller().correct("电视坏了").fixes.is_empty());
    }

    #[test]
    fn no_input_panics_or_changes_length() {
        for text in ["", "a", "故", "故账故账故账", "１２３ＡＢＣ", "\u{3400}\u{4dbf}\u{9fff}", "🙂故账🙂"]
        {
            let spelled = speller().correct(text);
            assert_eq!(spelled.text.chars().count(), text.chars().count(), "{text}");
        }
        // A ticket-sized run of Chinese with no break: the slip at its end is still read.
        let long = format!("{}故账", "设备运行".repeat(1000));
        assert!(speller().correct(&long).text.ends_with("设备运行故障"));
    }
}
