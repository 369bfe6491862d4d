//! Numbers that are personal only because of the word in front of them: 户号, 表号, 身份证 ….
//!
//! A 10-digit number alone is anything (an order number, a count); after `户号:` it is an
//! electricity account. Context words are matched leftmost-longest, so `用电户号` wins over
//! `户号` and `电能表号` over `表号`; traditional spellings are listed because `mask` must also
//! work on raw text.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;

use super::{Claims, PiiKind, checksum, digit_value, is_ascii_or_full_width_alphanumeric, mask_id};

const ACCOUNT_WORDS: &[&str] = &[
    "户号",
    "用电户号",
    "客户编号",
    "客户号",
    "用户编号",
    "用户号",
    "账号",
    "帐号",
    "账户",
    "帐户",
    "缴费号",
    "购电卡号",
    "戶號",
    "用電戶號",
    "客戶編號",
    "客戶號",
    "用戶編號",
    "用戶號",
    "賬號",
    "帳號",
    "賬戶",
    "帳戶",
    "繳費號",
    "購電卡號",
];

const METER_WORDS: &[&str] = &[
    "表号",
    "电表号",
    "电能表号",
    "电表编号",
    "电能表编号",
    "表计编号",
    "表计号",
    "资产编号",
    "资产号",
    "表资产号",
    "表号码",
    "表號",
    "電表號",
    "電能表號",
    "電表編號",
    "電能表編號",
    "表計編號",
    "表計號",
    "資產編號",
    "資產號",
];

const ID_CARD_WORDS: &[&str] = &[
    "身份证",
    "身份证号",
    "身份证号码",
    "证件号",
    "证件号码",
    "身份證",
    "身份證號",
    "身份證號碼",
    "證件號",
    "證件號碼",
];

struct ContextWords {
    matcher: AhoCorasick,
    kinds: Vec<PiiKind>,
}

static CONTEXT_WORDS: LazyLock<ContextWords> = LazyLock::new(|| {
    let groups = [(ACCOUNT_WORDS, PiiKind::Account), (METER_WORDS, PiiKind::Meter), (ID_CARD_WORDS, PiiKind::IdCard)];
    let mut words = Vec::new();
    let mut kinds = Vec::new();
    for (group, kind) in groups {
        for word in group {
            words.push(*word);
            kinds.push(kind);
        }
    }
    let matcher = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(words)
        .expect("built-in context words form a valid automaton");
    ContextWords { matcher, kinds }
});

/// What may stand between the context word and the number: `:`, `为`, `是`, `=`, spaces.
static SEPARATOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[ \t\u{3000}]*(?:为|是|為)?[ \t\u{3000}]*[:：=＝]?[ \t\u{3000}]*")
        .expect("built-in separator pattern is valid")
});

/// An identifier: letters and digits, hyphens or underscores inside, 4–40 characters.
static VALUE: LazyLock<Regex> = LazyLock::new(|| {
    let alnum = "0-9０-９A-Za-zＡ-Ｚａ-ｚ";
    Regex::new(&format!("^[{alnum}][{alnum}_\\-]{{2,38}}[{alnum}]")).expect("built-in value pattern is valid")
});

/// Between two values of one list: `户号:3100123456、3100123457`.
static LIST_SEPARATOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[ \t]*[、,，/;；][ \t]*").expect("built-in list separator pattern is valid"));

pub(super) fn find(text: &str, claims: &mut Claims) {
    for m in CONTEXT_WORDS.matcher.find_iter(text) {
        let kind = CONTEXT_WORDS.kinds[m.pattern().as_usize()];
        let mut at = m.end();
        at += SEPARATOR.find(&text[at..]).map_or(0, |s| s.end());
        while let Some(value) = VALUE.find(&text[at..]) {
            let (start, end) = (at, at + value.end());
            let ends_cleanly = !text[end..].chars().next().is_some_and(is_ascii_or_full_width_alphanumeric);
            if !ends_cleanly {
                break;
            }
            if let Some(replacement) = mask_value(kind, value.as_str()) {
                claims.claim(start, end, kind, replacement);
            }
            match LIST_SEPARATOR.find(&text[end..]) {
                Some(sep) => at = end + sep.end(),
                None => break,
            }
        }
    }
}

fn mask_value(kind: PiiKind, value: &str) -> Option<String> {
    let chars: Vec<char> = value.chars().collect();
    let digit_count = chars.iter().filter(|c| digit_value(**c).is_some()).count();
    match kind {
        // After 身份证 the number is masked even with a wrong check digit (a typo in a real ID
        // is still personal), but it must have an ID's shape.
        PiiKind::IdCard => {
            let is_id18 = chars.len() == 18 && digit_count >= 17 && {
                let last = chars[17];
                digit_value(last).is_some() || matches!(last, 'X' | 'x' | 'Ｘ' | 'ｘ')
            };
            let digits: Vec<u32> = chars.iter().filter_map(|c| digit_value(*c)).collect();
            let is_id15 = chars.len() == 15 && checksum::is_plausible_id15(&digits);
            (is_id18 || is_id15).then(|| mask_id(value))
        }
        // An identifier has digits; `账号admin` is a login name, not an account number.
        _ if digit_count >= 4 => {
            let keep_tail = chars.len().saturating_sub(6).min(4);
            let hidden = chars.len() - keep_tail;
            Some(std::iter::repeat_n('*', hidden).chain(chars[hidden..].iter().copied()).collect())
        }
        _ => None,
    }
}
