//! Masking of personal data (脱敏) before text is stored, indexed or shown.
//!
//! The detectors read a folded view of the text (`fold.rs`): full-width, mathematical and
//! other-script digits, Chinese numerals read out digit by digit (幺三八…), every dash (‐‑‒–—−﹣－)
//! and space (NBSP, U+3000) have one form there, and invisible characters (zero-width space, BOM,
//! bidi marks) are gone; so no way of writing a number lets it through, on raw or normalised text.
//! Each detector finds candidate spans of one kind; detectors run from the most to the least
//! specific (an e-mail address before the phone number that is its local part, a number after
//! `户号` before the bank-card shape it may also have), and the first detector to claim a range
//! keeps it. The replacement keeps a short hint and is never reversible:
//!
//! | kind | example | kept |
//! |---|---|---|
//! | [`PiiKind::IdCard`] | `110101199003071234`, `110101 19900307 1234` → `110***********1234` | first 3, last 4 (never the birth date) |
//! | [`PiiKind::Mobile`] | `13812345678`, `+86 138-1234-5678`, `0138…`, `幺三八…` → `138****5678` | first 3, last 4; separators and country code kept |
//! | [`PiiKind::Landline`] | `0571-87654321` → `0571-*****321` | area code, then as many final digits as keep the total at 7 |
//! | [`PiiKind::BankCard`] | `6222021234567890128`, `622202 1234567890128`, `NO6222021234567890128` → `6222 **** **** 0128` | first 4 (issuer), last 4; length hidden |
//! | [`PiiKind::Email`] | `zhangsan@example.com`, `ｚｈａｎｇ＠…` → `z***@example.com` | first character, domain |
//! | [`PiiKind::Account`], [`PiiKind::Meter`] | `户号:3100123456`, `户号(居民)，…`, `表号No.…` → `户号:******3456` | at most the last 4, and at least 6 characters hidden |
//! | [`PiiKind::Name`] | `联系人沈超`, `我是吴经理`, `找程师傅` → `沈*`, `*经理`, `*师傅` | at most the surname |
//! | [`PiiKind::Address`] | `地址：南京市玄武区中山路18号` → `南京市玄武区****` | province, city, district |
//!
//! No replacement reveals more than 7 digits, except bank cards, which follow the usual
//! receipt convention `6222 **** **** 1234` (8, fewer than the 6 + 4 PCI DSS allows). A
//! replacement is written in the folded (ASCII) form.
//!
//! What is deliberately *not* masked: product and model codes, voltages, quantities with their
//! unit (`年发电量15000000000千瓦时`), dates and times, version numbers, IP addresses, standard
//! numbers (`GB/T 14285-2023`, `DL/T 860`), serial and asset numbers (`SN2023A0012345`,
//! `资产编号GKB-931A-2023-0001`), ICCIDs (`89860…`), work-order and contract numbers, and bare
//! numbers whose shape does not identify a person (a 10-digit number is a 户号 only after a word
//! that says so; a 15-digit legacy ID only after `身份证`; an 8-digit local number only with an
//! area code). The labelled set `tests/data/pii_set.jsonl` measures recall and precision.

mod checksum;
mod context;
mod fold;
mod person;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use fold::Folded;

/// The kinds of personal data [`mask`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// Resident identity card number (居民身份证号码), 18 or legacy 15 digits.
    IdCard,
    /// Mainland mobile number.
    Mobile,
    /// Fixed-line number with an area code.
    Landline,
    /// Bank card number (Luhn-valid).
    BankCard,
    /// E-mail address.
    Email,
    /// Electricity account / customer number (户号, 客户编号, 账号 …), recognised by context.
    Account,
    /// Meter number (表号, 电能表号, a meter's numeric 资产编号 …), recognised by context.
    Meter,
    /// A person's name, recognised by context (联系人…, 我是…, …师傅, …先生).
    Name,
    /// A street address, recognised by context (地址…, 住在…) and its shape (路, 号, 室, 村 …).
    Address,
}

/// Text with personal data replaced, and what was replaced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Masked {
    /// The masked text; everything outside masked spans is unchanged.
    pub text: String,
    /// One entry per masked span, in text order.
    pub found: Vec<PiiKind>,
}

/// Mask personal data in `text`.
///
/// Correct on raw and on [`normalize`](crate::normalize)d text alike: the detectors read a
/// folded view of the text (see `fold.rs`) in which full-width, mathematical and other-script
/// digits, Chinese numerals read out digit by digit, every dash and space, and invisible
/// characters have one form; a masked span replaces the original characters it covers, so a
/// zero-width space inside a phone number is masked with it. Never panics, whatever the input.
///
/// Idempotent: masking a masked text changes nothing. One pass can leave text that reads as
/// personal data once its neighbour is masked (e-mail addresses run together, and the visible
/// digits a masked card keeps joining the digit groups before it — both found by `gridkb fuzz`),
/// so the text is masked again until a pass changes nothing. That ends: a pass that changes the
/// text turns characters into mask characters, which no pass turns back, so there are at most as
/// many passes as characters; the second pass, finding nothing, is the usual end.
pub fn mask(text: &str) -> Masked {
    let mut masked = mask_once(text);
    let most = text.chars().count() + 1;
    for _ in 1..most {
        let again = mask_once(&masked.text);
        if again.text == masked.text {
            break;
        }
        masked.text = again.text;
        masked.found.extend(again.found);
    }
    masked
}

fn mask_once(text: &str) -> Masked {
    let folded = Folded::new(text);
    let view = folded.text.as_str();
    let mut claims = Claims::default();
    find_emails(view, &mut claims);
    context::find(view, &mut claims);
    find_numbers(view, &mut claims);
    person::find_names(view, &mut claims);
    person::find_addresses(view, &mut claims);
    claims.render(text, &folded)
}

/// A claimed span of the folded view: personal data with its replacement, or (`kind: None`)
/// a value that a label says is not personal (`工单号…`), kept as it is.
#[derive(Debug)]
struct Span {
    start: usize,
    end: usize,
    kind: Option<PiiKind>,
    replacement: String,
}

/// Spans claimed so far, by start; they never overlap, so a later (less specific) detector
/// only has to look at the claimed span starting last before its end.
#[derive(Debug, Default)]
struct Claims {
    spans: BTreeMap<usize, Span>,
}

impl Claims {
    fn is_free(&self, start: usize, end: usize) -> bool {
        self.spans.range(..end).next_back().is_none_or(|(_, span)| span.end <= start)
    }

    fn claim(&mut self, start: usize, end: usize, kind: PiiKind, replacement: String) {
        if start < end && self.is_free(start, end) {
            self.spans.insert(start, Span { start, end, kind: Some(kind), replacement });
        }
    }

    /// Marks `start..end` as not personal: later detectors leave it alone.
    fn keep(&mut self, start: usize, end: usize) {
        if start < end && self.is_free(start, end) {
            self.spans.insert(start, Span { start, end, kind: None, replacement: String::new() });
        }
    }

    fn render(self, original: &str, folded: &Folded) -> Masked {
        let mut out = String::with_capacity(original.len());
        let mut found = Vec::with_capacity(self.spans.len());
        let mut cursor = 0;
        for span in self.spans.values() {
            let Some(kind) = span.kind else { continue };
            let (start, end) = folded.original(span.start, span.end);
            out.push_str(&original[cursor..start]);
            out.push_str(&span.replacement);
            found.push(kind);
            cursor = end;
        }
        out.push_str(&original[cursor..]);
        Masked { text: out, found }
    }
}

// --- helpers on the folded view (ASCII digits only) ------------------------------------------

/// Value of a digit of the folded view.
fn digit_value(c: char) -> Option<u32> {
    c.to_digit(10)
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

fn is_ascii_alphanumeric(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn char_after(text: &str, at: usize) -> Option<char> {
    text[at..].chars().next()
}

/// The digits of `s` as values, skipping separators.
fn digits(s: &str) -> Vec<u32> {
    s.chars().filter_map(digit_value).collect()
}

/// Replace digit number `from..to` (counting digits only) with '*', keeping everything else.
fn star_digits(s: &str, from: usize, to: usize) -> String {
    let mut index = 0;
    s.chars()
        .map(|c| {
            if is_digit(c) {
                index += 1;
                if (from + 1..=to).contains(&index) {
                    return '*';
                }
            }
            c
        })
        .collect()
}

// --- detectors ------------------------------------------------------------------------------

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
        .expect("built-in e-mail pattern is valid")
});

fn find_emails(text: &str, claims: &mut Claims) {
    for m in EMAIL.find_iter(text) {
        let Some(at) = m.as_str().find('@') else {
            continue;
        };
        let (local, domain) = m.as_str().split_at(at);
        let hint: String = if local.chars().count() > 1 { local.chars().take(1).collect() } else { String::new() };
        claims.claim(m.start(), m.end(), PiiKind::Email, format!("{hint}***{domain}"));
    }
}

/// First 3 and last 4 characters of an 18-character ID (3 and 3 of a 15-digit one), separators
/// kept: neither reveals the birth date, and at most 7 digits are shown.
fn mask_id(id: &str) -> String {
    let is_id_char = |c: char| is_digit(c) || matches!(c, 'X' | 'x');
    let len = id.chars().filter(|c| is_id_char(*c)).count();
    let keep_tail = if len == 15 { 3 } else { 4 };
    let mut index = 0;
    id.chars()
        .map(|c| {
            if !is_id_char(c) {
                return c;
            }
            index += 1;
            if index <= 3 || index > len.saturating_sub(keep_tail) { c } else { '*' }
        })
        .collect()
}

/// A run of digit groups: `138 1234 5678`, `(0571)8765-4321`, `110105-19491231-002X`.
#[derive(Debug)]
struct Run {
    /// Byte ranges of the digit groups in the folded view.
    groups: Vec<(usize, usize)>,
    /// The first group is an area code in parentheses: `(0571)`.
    parenthesised_area: bool,
    /// An `X` check character follows the last group.
    check_x: bool,
}

/// Most separator characters between two groups of one number (`138 - 1234`).
const MAX_SEPARATOR: usize = 3;
/// Most digits a number of any kind has (a bank card: 19).
const MAX_NUMBER_DIGITS: usize = 19;

/// Units and words that say a number is a quantity, not a phone or a card: `15000000000千瓦时`.
const UNITS_AFTER: &[&str] = &[
    "千瓦时",
    "千瓦",
    "兆瓦",
    "万千瓦",
    "瓦",
    "度",
    "元",
    "万",
    "亿",
    "台",
    "套",
    "个",
    "次",
    "人",
    "户",
    "条",
    "件",
    "笔",
    "张",
    "块",
    "只",
    "米",
    "公里",
    "千米",
    "吨",
    "小时",
    "分钟",
    "秒",
    "年",
    "月",
    "日",
    "天",
    "%",
    "‰",
];
const QUANTITY_BEFORE: &[&str] =
    &["电量", "发电量", "容量", "金额", "总额", "投资", "数量", "合计", "累计", "共计", "约", "产值", "功率", "负荷"];

fn find_numbers(text: &str, claims: &mut Claims) {
    for run in digit_runs(text) {
        let (first, last) = (run.groups[0].0, run.groups[run.groups.len() - 1].1);
        // Quantities (`15000000000千瓦时`), and IP addresses or versions (`192.168.10.138`).
        // A dotted phone number is written in short groups (`152.8420.1195`): all groups of at
        // most three digits is an address or a version, a group of five or more a decimal (unless it
        // starts with the 0 of an area code: `0512.90484848`).
        let dotted = run.groups.windows(2).any(|w| text[w[0].1..w[1].0].contains('.'));
        let sizes = || run.groups.iter().map(|(s, e)| e - s);
        let decimal = sizes().any(|n| n > 4) && !text[first..].starts_with('0');
        if is_quantity(text, first, last) || (dotted && (sizes().all(|n| n <= 3) || decimal)) {
            continue;
        }
        let mut i = 0;
        'groups: while i < run.groups.len() {
            let mut count = 0;
            let mut end = i;
            while end < run.groups.len() && count <= MAX_NUMBER_DIGITS + 4 {
                count += run.groups[end].1 - run.groups[end].0;
                end += 1;
            }
            for j in (i..end).rev() {
                if let Some((kind, start, stop, replacement)) = classify(text, &run, i, j) {
                    claims.claim(start, stop, kind, replacement);
                    i = j + 1;
                    continue 'groups;
                }
            }
            i += 1;
        }
    }
}

fn is_quantity(text: &str, start: usize, end: usize) -> bool {
    let after = text[end..].trim_start_matches(' ');
    let after_lower = after.get(..after.len().min(4)).unwrap_or("").to_ascii_lowercase();
    let unit_after = UNITS_AFTER.iter().any(|u| after.starts_with(u))
        || ["kw", "mw", "kva", "mva", "kv"].iter().any(|u| after_lower.starts_with(u));
    let before = text[..start].trim_end_matches([' ', ':', '为', '是', '=']);
    unit_after || QUANTITY_BEFORE.iter().any(|q| before.ends_with(q))
}

/// Maximal runs of digit groups joined by short runs of `space . -`.
fn digit_runs(text: &str) -> Vec<Run> {
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let parenthesised = if bytes[at] == b'(' { area_in_parentheses(text, at) } else { None };
        if !(bytes[at].is_ascii_digit() || parenthesised.is_some()) {
            at += 1;
            continue;
        }
        let mut groups = Vec::new();
        let mut cursor = at;
        if let Some((area, next)) = parenthesised {
            groups.push(area);
            cursor = next;
        }
        loop {
            let start = cursor;
            while cursor < bytes.len() && bytes[cursor].is_ascii_digit() {
                cursor += 1;
            }
            if cursor > start {
                groups.push((start, cursor));
            }
            let mut sep = cursor;
            while sep < bytes.len() && sep - cursor < MAX_SEPARATOR && matches!(bytes[sep], b' ' | b'-' | b'.') {
                sep += 1;
            }
            if sep > cursor && sep < bytes.len() && bytes[sep].is_ascii_digit() && !groups.is_empty() {
                cursor = sep;
            } else {
                break;
            }
        }
        if groups.is_empty() {
            at = cursor.max(at + 1);
            continue;
        }
        let end = groups[groups.len() - 1].1;
        let check_x = matches!(bytes.get(end), Some(b'X' | b'x'))
            && !bytes.get(end + 1).is_some_and(|b| b.is_ascii_alphanumeric());
        runs.push(Run { groups, parenthesised_area: parenthesised.is_some(), check_x });
        at = end.max(at + 1);
    }
    runs
}

/// `(0571)` or `(010) ` at `at`, followed by a digit: the area code's range and where the local
/// number starts.
fn area_in_parentheses(text: &str, at: usize) -> Option<((usize, usize), usize)> {
    let rest = text[at..].strip_prefix('(')?;
    let close = rest.find(')')?;
    let area = &rest[..close];
    if !(3..=4).contains(&area.len()) || !area.starts_with('0') || !area.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let after = at + 1 + close + 1;
    let local = after + text[after..].len() - text[after..].trim_start_matches(' ').len();
    text[local..].starts_with(|c: char| c.is_ascii_digit()).then_some(((at + 1, at + 1 + close), local))
}

/// What groups `i..=j` of `run` are, if personal: the kind, the span to mask and its replacement.
fn classify(text: &str, run: &Run, i: usize, j: usize) -> Option<(PiiKind, usize, usize, String)> {
    let groups = &run.groups[i..=j];
    let mut start = groups[0].0;
    let mut end = groups[groups.len() - 1].1;
    let number: String = groups.iter().map(|&(s, e)| &text[s..e]).collect();
    let sizes: Vec<usize> = groups.iter().map(|(s, e)| e - s).collect();
    let is_last = j + 1 == run.groups.len();
    let letter_after = char_after(text, end).is_some_and(is_ascii_alphanumeric);
    if i == 0 && run.parenthesised_area {
        start -= 1;
    }

    // Identity card: 18 characters with a valid check character and birth date.
    let with_x = run.check_x && is_last;
    if (number.len() == 18 && !letter_after) || (with_x && number.len() == 17) {
        let id = if with_x { format!("{number}{}", &text[end..=end]) } else { number.clone() };
        if checksum::is_valid_id18(&id) {
            if with_x {
                end += 1;
            }
            return Some((PiiKind::IdCard, start, end, mask_id(&text[start..end])));
        }
    }
    if with_x && !letter_after {
        // A digit run ending in X is an identity number or nothing.
        return None;
    }
    let local_start = if run.parenthesised_area && i == 0 { start + 1 } else { start };

    // Bank card: 16–19 digits of a card issuer (3–6, or 9 but not 89, the ICCID prefix), Luhn-valid,
    // continuous or in groups of at least four (4-4-4-4, 6-13, 4-4-4-4-3). Letters glued to it do
    // not make it something else (`NO6222…`, `卡号abc6222…x`): serial numbers and model codes
    // never have such a run (their digits come in short groups between letters, and a dated
    // serial starts with 1 or 2), and a labelled one (`序列号`, `出厂编号`, `工单号` …) was kept
    // by the context detector before this one runs.
    let issuer = number.starts_with(['3', '4', '5', '6']) || (number.starts_with('9') && !number.starts_with("89"));
    let card_groups = sizes[..sizes.len() - 1].iter().all(|s| *s >= 4);
    if (16..=19).contains(&number.len())
        && issuer
        && card_groups
        && !run.parenthesised_area
        && checksum::is_luhn_valid(&digits(&number))
    {
        let first = &number[..4];
        let last = &number[number.len() - 4..];
        return Some((PiiKind::BankCard, local_start, end, format!("{first} **** **** {last}")));
    }

    // Mobile: 1[3-9] and 9 more digits, after a trunk 0 or a country code 86 / 0086.
    let national = |offset: usize| {
        number.len() == offset + 11
            && number[offset..].starts_with('1')
            && matches!(number.as_bytes()[offset + 1], b'3'..=b'9')
    };
    let offset = [0, 1, 2, 4].into_iter().find(|&o| {
        national(o)
            && match o {
                0 => true,
                1 => number.starts_with('0'),
                2 => number.starts_with("86"),
                _ => number.starts_with("0086"),
            }
    });
    if let Some(offset) = offset
        && !letter_after
        && !run.parenthesised_area
    {
        let shown = &text[local_start..end];
        return Some((PiiKind::Mobile, local_start, end, star_digits(shown, offset + 3, offset + 7)));
    }

    // Landline: an area code as its own group (or in parentheses), then 7–8 local digits that do
    // not start with 0 or 1; or after +86 / 0086, the area code without its 0.
    if letter_after {
        return None;
    }
    let is_area = |g: &str| {
        (g.len() == 3 && (g == "010" || g.starts_with("02")))
            || (g.len() == 4 && g.starts_with('0') && matches!(g.as_bytes()[1], b'3'..=b'9'))
    };
    let first_group = &text[groups[0].0..groups[0].1];
    let local_ok = |local: &str| (7..=8).contains(&local.len()) && matches!(local.as_bytes()[0], b'2'..=b'9');
    let landline = |area_digits: usize| {
        let shown = &text[start..end];
        let all = number.len();
        let keep_tail = 4.min(7usize.saturating_sub(area_digits));
        Some((PiiKind::Landline, start, end, star_digits(shown, area_digits, all.saturating_sub(keep_tail))))
    };
    if groups.len() >= 2 && is_area(first_group) && local_ok(&number[first_group.len()..]) {
        return landline(first_group.len());
    }
    if groups.len() >= 3 && (first_group == "86" || first_group == "0086") {
        let area = &text[groups[1].0..groups[1].1];
        let local = &number[first_group.len() + area.len()..];
        if (2..=3).contains(&area.len()) && !area.starts_with('0') && is_area(&format!("0{area}")) && local_ok(local) {
            return landline(first_group.len() + area.len());
        }
    }
    // Written without a separator (`057187654321`): only after a word that says it is a phone.
    if groups.len() == 1 && number.starts_with('0') && follows_phone_word(text, start) {
        for area_len in [3, 4] {
            if number.len() > area_len && is_area(&number[..area_len]) && local_ok(&number[area_len..]) {
                return landline(area_len);
            }
        }
    }
    None
}

const PHONE_WORDS: &[&str] =
    &["电话", "座机", "固话", "手机", "号码", "致电", "拨打", "回电", "联系", "tel", "Tel", "TEL", "电話", "手機"];

fn follows_phone_word(text: &str, start: usize) -> bool {
    let before = text[..start].trim_end_matches([' ', ':', '是', '为']);
    PHONE_WORDS.iter().any(|w| before.ends_with(w))
}

/// [`mask`]ed text without its masked personal data: the runs of ASCII letters, digits, `*` and
/// separators that hold a `*` (a masked phone number or card, `199-****-0471`), and a lone `*`
/// (a masked character of a name). For what is embedded: masked data means nothing to a model.
pub fn without_masked(text: &str) -> String {
    let in_run =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '*' | '-' | ' ' | '.' | '(' | ')' | '_' | '@' | '+');
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if !run.contains('*') {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if in_run(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn masking_a_masked_text_changes_nothing() {
        // Found by `gridkb fuzz --target analyzer`: addresses run together, inside an ID number.
        for text in [
            "ＧＫＢ－９３１\r\n 身份证 11010519491231a@b.cna@b.cna@b.cna@b.cn002X 邮箱 a@b.cn",
            "a@b.cna@b.cna@b.cn",
            "联系人张三 13812345678 zhang@example.com",
        ] {
            let once = super::mask(text).text;
            assert_eq!(super::mask(&once).text, once, "{text}");
        }
    }

    use super::*;

    #[test]
    fn mobile_keeps_prefix_and_last_four() {
        assert_eq!(mask("13812345678").text, "138****5678");
        assert_eq!(mask("138 1234 5678").text, "138 **** 5678");
        assert_eq!(mask("+86 13812345678").text, "+86 138****5678");
        assert_eq!(mask("8613812345678").text, "86138****5678");
    }

    #[test]
    fn embedded_mobile_is_left_alone() {
        for s in ["913812345678", "138123456789", "208613812345678", "1380 1234 5678 9999"] {
            assert!(mask(s).found.is_empty(), "{s}");
        }
    }

    #[test]
    fn landline_reveals_at_most_seven_digits() {
        assert_eq!(mask("010-62345678").text, "010-****5678");
        assert_eq!(mask("0571-87654321").text, "0571-*****321");
        assert_eq!(mask("(021)52345678").text, "(021)****5678");
        // Local numbers never start with 0 or 1.
        assert!(mask("010-12345678").found.is_empty());
        assert_eq!(mask("0571-8765432").text, "0571-****432");
    }

    #[test]
    fn id_mask_hides_birth_date() {
        assert_eq!(mask_id("11010519491231002X"), "110***********002X");
        assert_eq!(mask_id("110105491231002"), "110*********002");
    }

    #[test]
    fn digit_helpers_read_the_folded_view() {
        assert_eq!(digits("12-3"), vec![1, 2, 3]);
        assert_eq!(star_digits("138-1234", 3, 5), "138-**34");
    }

    #[test]
    fn masked_personal_data_can_be_left_out() {
        let masked = mask("联系人邓师傅 19987320471。你好,gkn 50k(出厂编号gkn2409g51488)直流电压低").text;
        assert!(masked.contains('*'), "{masked}");
        let text = without_masked(&masked);
        assert!(!text.contains('*') && !text.contains("0471"), "{text}");
        assert!(text.contains("gkn 50k(出厂编号gkn2409g51488)直流电压低"), "{text}");
        // Text without masked data is kept as it is.
        let plain = "220kV线路保护装置报CT断线, 对侧正常";
        assert_eq!(without_masked(plain), plain);
    }
}
