//! Masking of personal data (脱敏) before text is stored, indexed or shown.
//!
//! Each detector finds candidate spans of one kind; detectors run from the most to the least
//! specific (an e-mail address before the phone number that is its local part, a number after
//! `户号` before the bank-card shape it may also have), and the first detector to claim a byte
//! range keeps it. The replacement keeps a short hint and is never reversible:
//!
//! | kind | example | kept |
//! |---|---|---|
//! | [`PiiKind::IdCard`] | `110101199003071234` → `110***********1234` | first 3, last 4 (never the birth date) |
//! | [`PiiKind::Mobile`] | `13812345678` → `138****5678` | first 3, last 4; separators and `+86` kept |
//! | [`PiiKind::Landline`] | `0571-87654321` → `0571-*****321` | area code, then as many final digits as keep the total at 7 |
//! | [`PiiKind::BankCard`] | `6222021234567890123` → `6222 **** **** 0123` | first 4 (issuer), last 4; length hidden |
//! | [`PiiKind::Email`] | `zhangsan@example.com` → `z***@example.com` | first character, domain |
//! | [`PiiKind::Account`], [`PiiKind::Meter`] | `户号:3100123456` → `户号:******3456` | at most the last 4, and at least 6 characters hidden |
//!
//! No replacement reveals more than 7 digits, except bank cards, which follow the usual
//! receipt convention `6222 **** **** 1234` (8, fewer than the 6 + 4 PCI DSS allows).
//!
//! What is deliberately *not* masked: product and model codes, voltages, dates and times,
//! version numbers, IP addresses, standard numbers (`GB/T 14285-2023`, `DL/T 860`), serial
//! numbers such as `SN2023A0012345`, and bare numbers whose shape does not identify a person
//! (a 10-digit number is a 户号 only after a word that says so; a 15-digit legacy ID only after
//! `身份证`; an 8-digit local number only with an area code).

mod checksum;
mod context;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

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
    /// Meter number or asset number (表号, 电能表号, 资产编号 …), recognised by context.
    Meter,
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
/// Meant to run on [`normalize`](crate::normalize)d text, but also correct on raw text:
/// full-width digits, full-width colons and parentheses, and traditional context words
/// (`戶號`, `身份證`) are recognised too. Never panics, whatever the input.
pub fn mask(text: &str) -> Masked {
    let mut claims = Claims::default();
    find_emails(text, &mut claims);
    context::find(text, &mut claims);
    find_id_cards(text, &mut claims);
    find_bank_cards(text, &mut claims);
    find_mobiles(text, &mut claims);
    find_landlines(text, &mut claims);
    claims.render(text)
}

/// A masked span: byte range of the original text and its replacement.
#[derive(Debug)]
struct Span {
    start: usize,
    end: usize,
    kind: PiiKind,
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
        if self.is_free(start, end) {
            self.spans.insert(start, Span { start, end, kind, replacement });
        }
    }

    fn render(self, text: &str) -> Masked {
        let mut out = String::with_capacity(text.len());
        let mut found = Vec::with_capacity(self.spans.len());
        let mut cursor = 0;
        for span in self.spans.values() {
            out.push_str(&text[cursor..span.start]);
            out.push_str(&span.replacement);
            found.push(span.kind);
            cursor = span.end;
        }
        out.push_str(&text[cursor..]);
        Masked { text: out, found }
    }
}

// --- character classes, ASCII and full-width alike -----------------------------------------

/// Value of an ASCII or full-width decimal digit.
fn digit_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

fn is_digit(c: char) -> bool {
    digit_value(c).is_some()
}

fn is_ascii_or_full_width_alphanumeric(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ')
}

fn char_before(text: &str, at: usize) -> Option<char> {
    text[..at].chars().next_back()
}

fn char_after(text: &str, at: usize) -> Option<char> {
    text[at..].chars().next()
}

/// True when a number at `start..end` continues a longer number on either side: an adjacent
/// digit, or — for a number written in groups — a separator followed by another digit group.
fn is_embedded(text: &str, start: usize, end: usize, grouped: bool) -> bool {
    let before = text[..start].chars().rev();
    let after = text[end..].chars();
    touches_digit(before, grouped) || touches_digit(after, grouped)
}

fn touches_digit(mut side: impl Iterator<Item = char>, grouped: bool) -> bool {
    match side.next() {
        Some(c) if is_digit(c) => true,
        Some(' ' | '-') if grouped => side.next().is_some_and(is_digit),
        _ => false,
    }
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

/// Regex fragment: one ASCII or full-width digit.
const D: &str = "[0-9０-９]";

fn compile(pattern: &str) -> Regex {
    Regex::new(&pattern.replace("{D}", D)).expect("built-in PII pattern is valid")
}

// --- detectors ------------------------------------------------------------------------------

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| compile(r"[A-Za-z0-9._%+\-]+[@＠][A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"));

fn find_emails(text: &str, claims: &mut Claims) {
    for m in EMAIL.find_iter(text) {
        let Some(at) = m.as_str().find(['@', '＠']) else {
            continue;
        };
        let (local, domain) = m.as_str().split_at(at);
        let hint: String = if local.chars().count() > 1 { local.chars().take(1).collect() } else { String::new() };
        claims.claim(m.start(), m.end(), PiiKind::Email, format!("{hint}***{domain}"));
    }
}

/// 17 digits and a check character.
static ID_CARD: LazyLock<Regex> = LazyLock::new(|| compile(r"{D}{17}[0-9０-９XxＸｘ]"));

fn find_id_cards(text: &str, claims: &mut Claims) {
    for m in ID_CARD.find_iter(text) {
        // Only digits count as a boundary: an ID glued to letters (`ID110101…`) is still an ID,
        // and the checksum and birth date make a false match unlikely.
        if is_embedded(text, m.start(), m.end(), false) || !checksum::is_valid_id18(m.as_str()) {
            continue;
        }
        claims.claim(m.start(), m.end(), PiiKind::IdCard, mask_id(m.as_str()));
    }
}

/// First 3 and last 4 characters of an 18-character ID (3 and 3 of a 15-digit one): neither
/// reveals the birth date, and at most 7 digits are shown.
fn mask_id(id: &str) -> String {
    let len = id.chars().count();
    let keep_tail = if len == 15 { 3 } else { 4 };
    id.chars().enumerate().map(|(i, c)| if i < 3 || i >= len.saturating_sub(keep_tail) { c } else { '*' }).collect()
}

/// 16–19 digits, continuous or in groups of four.
static BANK_CARD: LazyLock<Regex> = LazyLock::new(|| compile(r"{D}{4}(?:[ \-]?{D}{4}){3}(?:[ \-]?{D}{1,3})?"));

fn find_bank_cards(text: &str, claims: &mut Claims) {
    for m in BANK_CARD.find_iter(text) {
        let card = m.as_str();
        let grouped = card.contains([' ', '-']);
        // Letters count as a boundary too: a long number glued to letters is a serial number.
        let glued_to_letters = [char_before(text, m.start()), char_after(text, m.end())]
            .into_iter()
            .flatten()
            .any(is_ascii_or_full_width_alphanumeric);
        if glued_to_letters || is_embedded(text, m.start(), m.end(), grouped) || !checksum::is_luhn_valid(&digits(card))
        {
            continue;
        }
        let card_digits: Vec<char> = card.chars().filter(|c| is_digit(*c)).collect();
        let first: String = card_digits.iter().take(4).collect();
        let last: String = card_digits.iter().skip(card_digits.len().saturating_sub(4)).collect();
        claims.claim(m.start(), m.end(), PiiKind::BankCard, format!("{first} **** **** {last}"));
    }
}

/// `1[3-9]` and 9 more digits, optionally written `138 1234 5678` or `138-1234-5678`.
static MOBILE: LazyLock<Regex> = LazyLock::new(|| compile(r"[1１][3-9３-９]{D}(?:[ \-]?{D}{4}){2}"));

fn find_mobiles(text: &str, claims: &mut Claims) {
    for m in MOBILE.find_iter(text) {
        let grouped = m.as_str().contains([' ', '-']);
        let after_country_code = follows_country_code(&text[..m.start()]);
        let embedded_before = !after_country_code && touches_digit(text[..m.start()].chars().rev(), grouped);
        let embedded_after = touches_digit(text[m.end()..].chars(), grouped);
        if embedded_before || embedded_after {
            continue;
        }
        claims.claim(m.start(), m.end(), PiiKind::Mobile, star_digits(m.as_str(), 3, 7));
    }
}

/// `+86`, `0086` or `86` (optionally followed by a space or hyphen) ending `before`, itself not
/// preceded by a digit: `8613812345678` is a mobile number, `208613812345678` is not.
fn follows_country_code(before: &str) -> bool {
    let before = before.strip_suffix([' ', '-']).unwrap_or(before);
    let Some(rest) = before.strip_suffix("86").or_else(|| before.strip_suffix("８６")) else {
        return false;
    };
    let rest = rest.strip_suffix('+').or_else(|| rest.strip_suffix("00")).unwrap_or(rest);
    !rest.chars().next_back().is_some_and(is_digit)
}

/// Area code `0xx`/`0xxx` in parentheses or followed by `-` or a space, then a local number of
/// 7–8 digits that does not start with 0 or 1.
static LANDLINE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?:[(（][0０]{D}{2,3}[)）] ?|[0０]{D}{2,3}[\-－ ])[2-9２-９]{D}{6,7}"));

fn find_landlines(text: &str, claims: &mut Claims) {
    for m in LANDLINE.find_iter(text) {
        // An extension (`-801`) may follow; it is not personal, so only digits end the number.
        if is_embedded(text, m.start(), m.end(), false) {
            continue;
        }
        let number = m.as_str();
        let all = digits(number).len();
        let area =
            number.char_indices().skip(1).find(|(_, c)| !is_digit(*c)).map_or(0, |(i, _)| digits(&number[..i]).len());
        // Area code plus the final digits, at most 7 digits revealed in total.
        let keep_tail = 4.min(7usize.saturating_sub(area));
        claims.claim(m.start(), m.end(), PiiKind::Landline, star_digits(number, area, all.saturating_sub(keep_tail)));
    }
}

#[cfg(test)]
mod tests {
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
    fn digit_helpers_accept_full_width() {
        assert_eq!(digits("１2-３"), vec![1, 2, 3]);
        assert_eq!(star_digits("１38-1234", 3, 5), "１38-**34");
    }
}
