//! Numbers that are personal only because of the word in front of them: 户号, 表号, 身份证 ….
//!
//! A 10-digit number alone is anything (an order number, a count); after `户号:` it is an
//! electricity account. Context words are matched leftmost-longest, so `用电户号` wins over
//! `户号` and `电能表号` over `表号`; traditional spellings are listed because `mask` must also
//! work on raw text. Runs on the folded view (`fold.rs`): full-width colons, parentheses and
//! commas are ASCII there.
//!
//! Some labels say the opposite: the value after `工单号`, `合同编号`, `ICCID`, `出厂编号` is not
//! personal, and is kept from the less specific detectors (a 16-digit work-order number can pass
//! the Luhn check by chance) unless it has the exact shape of a mobile or identity number.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;

use super::{Claims, PiiKind, checksum, digit_value, is_ascii_alphanumeric, mask_id};

const ACCOUNT_WORDS: &[&str] = &[
    "户号",
    "户号码",
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

/// Labels of values that are not personal (work orders, contracts, SIM cards, serial numbers).
const NEUTRAL_WORDS: &[&str] = &[
    "工单号",
    "工单编号",
    "单号",
    "订单号",
    "流水号",
    "合同号",
    "合同编号",
    "序列号",
    "出厂编号",
    "出厂号",
    "设备编号",
    "编号",
    "ICCID",
    "iccid",
    "SIM卡号",
    "物联网卡号",
    "票号",
    "工作票编号",
    "操作票号",
];

/// Meter words whose value is a meter's only when it is all digits: an equipment asset number
/// (`资产编号GKB-931A-2023-0001`) is not personal.
const DIGITS_ONLY_WORDS: &[&str] = &["资产编号", "资产号", "資產編號", "資產號"];

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
    /// `None` for a neutral label.
    kinds: Vec<Option<PiiKind>>,
    words: Vec<&'static str>,
}

static CONTEXT_WORDS: LazyLock<ContextWords> = LazyLock::new(|| {
    let groups = [
        (ACCOUNT_WORDS, Some(PiiKind::Account)),
        (METER_WORDS, Some(PiiKind::Meter)),
        (ID_CARD_WORDS, Some(PiiKind::IdCard)),
        (NEUTRAL_WORDS, None),
    ];
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
        .build(&words)
        .expect("built-in context words form a valid automaton");
    ContextWords { matcher, kinds, words }
});

/// What may stand between the context word and the number: a note in parentheses (`户号(用电)`),
/// `No.`, `为`, `是`, `:`, `=`, a comma, spaces.
static SEPARATOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^ *(?:\([^()\n]{0,12}\) *)?(?:为|是|為)? *(?:[Nn][Oo]\.?)? *[:=,]? *")
        .expect("built-in separator pattern is valid")
});

/// An identifier: letters and digits, hyphens or underscores inside, 4–40 characters.
static VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9A-Za-z][0-9A-Za-z_\-]{2,38}[0-9A-Za-z]").expect("built-in value pattern is valid")
});

/// A further digit group of a number written in groups: `3100 1234 56`, `110105 19491231 002X`.
static DIGIT_GROUP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[ .][0-9]{2,}[Xx]?").expect("built-in digit group pattern is valid"));

/// Between two values of one list: `户号:3100123456、3100123457`.
static LIST_SEPARATOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^ *[、,/;] *").expect("built-in list separator pattern is valid"));

pub(super) fn find(text: &str, claims: &mut Claims) {
    for m in CONTEXT_WORDS.matcher.find_iter(text) {
        let kind = CONTEXT_WORDS.kinds[m.pattern().as_usize()];
        let word = CONTEXT_WORDS.words[m.pattern().as_usize()];
        let mut at = m.end();
        at += SEPARATOR.find(&text[at..]).map_or(0, |s| s.end());
        while let Some(value) = VALUE.find(&text[at..]) {
            let (start, mut end) = (at, at + value.end());
            let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'.' | b'X' | b'x'));
            while all_digits(&text[start..end])
                && let Some(group) = DIGIT_GROUP.find(&text[end..])
                && !text[end + group.end()..].starts_with(|c: char| is_ascii_alphanumeric(c))
            {
                end += group.end();
            }
            let ends_cleanly = !text[end..].chars().next().is_some_and(is_ascii_alphanumeric);
            if !ends_cleanly {
                break;
            }
            let value = &text[start..end];
            match kind {
                None if !looks_personal(value) => claims.keep(start, end),
                None => {}
                Some(PiiKind::Meter)
                    if DIGITS_ONLY_WORDS.contains(&word) && !value.bytes().all(|b| b.is_ascii_digit()) => {}
                Some(kind) => {
                    if let Some(replacement) = mask_value(kind, value) {
                        claims.claim(start, end, kind, replacement);
                    }
                }
            }
            match LIST_SEPARATOR.find(&text[end..]) {
                Some(sep) => at = end + sep.end(),
                None => break,
            }
        }
    }
}

/// A value after a neutral label that is still masked: the exact shape of a mobile number or a
/// valid identity number.
fn looks_personal(value: &str) -> bool {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let mobile = digits.len() == 11 && digits.starts_with('1') && matches!(digits.as_bytes()[1], b'3'..=b'9');
    mobile || (value.len() == 18 && checksum::is_valid_id18(value))
}

fn mask_value(kind: PiiKind, value: &str) -> Option<String> {
    let chars: Vec<char> = value.chars().collect();
    let digit_count = chars.iter().filter(|c| digit_value(**c).is_some()).count();
    match kind {
        // After 身份证 the number is masked even with a wrong check digit (a typo in a real ID
        // is still personal), but it must have an ID's shape.
        PiiKind::IdCard => {
            let id: Vec<char> = chars.iter().copied().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
            let is_id18 = id.len() == 18 && digit_count >= 17 && {
                let last = id[17];
                digit_value(last).is_some() || matches!(last, 'X' | 'x')
            };
            let digits: Vec<u32> = id.iter().filter_map(|c| digit_value(*c)).collect();
            let is_id15 = id.len() == 15 && checksum::is_plausible_id15(&digits);
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
