//! The view of a text that the detectors read: every way of writing a digit, a separator or a
//! full-width character folded to one ASCII form, invisible characters dropped, and a map back to
//! the original text so that a span found in the view masks the right bytes of the original.
//!
//! Folding here is what makes masking hold on raw text as well as on normalised text: a
//! zero-width space, an NBSP, an ideographic space, a dash of any width or full-width and
//! mathematical digits inside a phone number do not let it through.

/// The folded text and, for each of its bytes, where that character starts in the original.
#[derive(Debug)]
pub(super) struct Folded {
    pub(super) text: String,
    /// `origin[i]` is the original byte offset of the character that folded byte `i` belongs
    /// to; `origin[text.len()]` is the original length.
    origin: Vec<usize>,
}

impl Folded {
    pub(super) fn new(original: &str) -> Folded {
        let numeral_runs = numeral_runs(original);
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len() + 1);
        for (at, c) in original.char_indices() {
            let folded = match fold_char(c) {
                Fold::Drop => continue,
                Fold::Keep(folded) => folded,
            };
            let folded = match chinese_numeral(folded) {
                Some(d) if numeral_runs.iter().any(|r| r.contains(&at)) => d,
                _ => folded,
            };
            let before = text.len();
            text.push(folded);
            origin.extend(std::iter::repeat_n(at, text.len() - before));
        }
        origin.push(original.len());
        Folded { text, origin }
    }

    /// The original byte range of the folded range `start..end`.
    pub(super) fn original(&self, start: usize, end: usize) -> (usize, usize) {
        (self.origin[start], self.origin[end])
    }
}

enum Fold {
    Keep(char),
    Drop,
}

/// Starts of the ten-digit blocks of decimal digits in other scripts and styles (Arabic-Indic,
/// Devanagari, Bengali, Thai, ...), each running `start..start + 10`.
const DIGIT_BLOCKS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0E50, 0x0ED0,
    0x0F20, 0x1040, 0x17E0, 0x1810, 0xFF10,
];

fn fold_char(c: char) -> Fold {
    let code = c as u32;
    if let Some(start) = DIGIT_BLOCKS.iter().find(|start| (**start..*start + 10).contains(&code)) {
        return Fold::Keep(digit(code - start));
    }
    match c {
        '0'..='9' | '\n' | '\r' => Fold::Keep(c),
        // Soft hyphen, Mongolian vowel separator, zero-width space / joiners, bidi marks and
        // embeddings, word joiner and invisible operators, BOM.
        '\u{AD}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}'
        | '\u{FEFF}' => Fold::Drop,
        // Mathematical bold, double-struck, sans-serif, sans-serif bold and monospace digits.
        '\u{1D7CE}'..='\u{1D7FF}' => Fold::Keep(digit((code - 0x1D7CE) % 10)),
        // Dashes of every width, the minus sign, small and full-width hyphen-minus.
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{2E3A}' | '\u{2E3B}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => {
            Fold::Keep('-')
        }
        // Middle dots and the full-width full stop.
        '\u{B7}' | '\u{30FB}' | '\u{FF0E}' | '\u{FF65}' => Fold::Keep('.'),
        '\u{FF01}'..='\u{FF5E}' => Fold::Keep(char::from_u32(code - 0xFEE0).unwrap_or(c)),
        c if c.is_whitespace() => Fold::Keep(' '),
        c if c.is_control() => Fold::Drop,
        c => Fold::Keep(c),
    }
}

fn digit(value: u32) -> char {
    char::from_digit(value, 10).unwrap_or('0')
}

/// A Chinese numeral as people read out numbers digit by digit (幺 for 1, 两 for 2, 拐 for 7,
/// 勾 for 9, 洞 for 0 in radio speech).
fn chinese_numeral(c: char) -> Option<char> {
    Some(match c {
        '零' | '〇' | '洞' => '0',
        '一' | '幺' | '壹' => '1',
        '二' | '两' | '贰' => '2',
        '三' | '叁' => '3',
        '四' | '肆' => '4',
        '五' | '伍' => '5',
        '六' | '陆' => '6',
        '七' | '拐' | '柒' => '7',
        '八' | '捌' => '8',
        '九' | '勾' | '玖' => '9',
        _ => return None,
    })
}

/// Byte ranges of the original text where Chinese numerals spell a number digit by digit: groups
/// of numerals and digits, joined by short separators when both sides have two or more, holding
/// at least seven digits and a numeral. Elsewhere a numeral is a word (`一二次设备`, `三相`, a
/// given name), and is left as it is.
fn numeral_runs(original: &str) -> Vec<std::ops::Range<usize>> {
    const MIN_DIGITS: usize = 7;
    // Groups: start, end, digits, has a numeral; and whether only separators follow the group.
    let mut groups: Vec<(usize, usize, usize, bool)> = Vec::new();
    let mut open = false;
    let mut gap = 0; // separator characters since the last group
    let mut joinable = Vec::new(); // for each group: it may join the one before
    for (at, c) in original.char_indices() {
        let folded = match fold_char(c) {
            Fold::Drop => continue,
            Fold::Keep(f) => f,
        };
        let numeral = chinese_numeral(folded).is_some();
        if numeral || folded.is_ascii_digit() {
            if open && let Some(last) = groups.last_mut() {
                last.1 = at + c.len_utf8();
                last.2 += 1;
                last.3 |= numeral;
            } else {
                joinable.push(!groups.is_empty() && gap > 0 && gap <= 3);
                groups.push((at, at + c.len_utf8(), 1, numeral));
                open = true;
            }
            gap = 0;
        } else if matches!(folded, ' ' | '-' | '.') {
            open = false;
            gap += 1;
        } else {
            open = false;
            gap = 4; // anything else ends a run
        }
    }
    let mut runs = Vec::new();
    let mut current: Option<(usize, usize, usize, bool)> = None;
    for (i, group) in groups.iter().enumerate() {
        let joins = joinable[i] && group.2 >= 2 && current.is_some_and(|c| groups[i - 1].2 >= 2 && c.1 <= group.0);
        current = match current {
            Some(c) if joins => Some((c.0, group.1, c.2 + group.2, c.3 || group.3)),
            Some(c) => {
                runs.extend((c.2 >= MIN_DIGITS && c.3).then_some(c.0..c.1));
                Some(*group)
            }
            None => Some(*group),
        };
    }
    if let Some(c) = current {
        runs.extend((c.2 >= MIN_DIGITS && c.3).then_some(c.0..c.1));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_digits_separators_and_invisible_characters() {
        let folded = Folded::new("１３８\u{200B}\u{A0}𝟏𝟐３４—５６７８");
        assert_eq!(folded.text, "138 1234-5678");
        let folded = Folded::new("幺三八一二三四五六七八 三相四线");
        assert_eq!(folded.text, "13812345678 三相四线");
        assert_eq!(Folded::new("一二次设备，张一").text, "一二次设备,张一");
    }

    #[test]
    fn maps_back_to_the_original() {
        let original = "电话\u{200B}１３８";
        let folded = Folded::new(original);
        let start = folded.text.find('1').expect("digit");
        let (s, e) = folded.original(start, folded.text.len());
        assert_eq!(&original[s..e], "１３８");
    }
}
