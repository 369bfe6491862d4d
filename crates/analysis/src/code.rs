//! Code runs: product, fault and standard codes, quantities with units, addresses.
//!
//! jieba cuts ASCII badly (`GKB-931A` becomes `GKB`, `-`, `931A` or worse depending on its
//! neighbours), so ASCII never reaches it. A *code run* is letters and digits joined by
//! `-` `_` `/` `.`; a standard prefix (`gb/t`, `dl/t`, `iec` …) also joins the number after one
//! space, so `GB/T 14285` and `GB/T14285` are the same code. Each run is emitted as:
//!
//! 1. the whole run, lowercased, without the space (`gkb-931a`, `110kv`, `gb/t14285-2023`);
//! 2. if it has joiners and letters, the glued form without joiners (`gkb931a`, `gbt`), for users
//!    who type the code without its hyphen;
//! 3. for a standard, its number without the year or part (`gb/t14285` of `GB/T 14285-2023`,
//!    `iec61850` of `IEC 61850-9-2`, `dl/t634.5104` of `DL/T 634.5104-2009`) and that glued
//!    (`gbt14285`): people cite a standard by its number, with or without the year, so the number
//!    is one searchable token;
//! 4. its parts between joiners (`gkb`, `931a`);
//! 5. the letter and digit pieces of every part that mixes both (`931`, `kv` of `110kv`), so a
//!    user typing `931保护` finds `GKB-931A`.
//!
//! `.` is not a joiner: `192.168.1.10`, `v2.3.1` and `0.5s` stay whole. Parts and pieces of one
//! character (`a` of `931a`) are noise and dropped, but a whole run of one character is kept
//! (`a` of `A相`). Each form is emitted once per run.

use std::sync::LazyLock;

use regex::Regex;

use crate::Token;

/// Code runs, ASCII only (`-u`: no Unicode case folding, so `K` (Kelvin sign) stays out).
pub(crate) static CODE_RUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i-u)(?:gb/[tz]|gb|dl/t|dl|nb/t|jb/t|yd/t|q/gdw|q/csg|t/cec|iec|ieee|iso) [0-9][a-z0-9]*(?:[-_/.][a-z0-9]+)*|[a-z0-9]+(?:[-_/.][a-z0-9]+)*",
    )
    .expect("built-in code pattern is valid")
});

/// A standard's number at the start of a lowercase code run: its prefix, an optional space and
/// the number up to the year or part (`gb/t 14285` of `gb/t 14285-2023`).
static STANDARD_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(gb/[tz]|gb|dl/t|dl|nb/t|jb/t|yd/t|q/gdw|q/csg|t/cec|iec|ieee|iso) ?[0-9][a-z0-9]*(?:\.[a-z0-9]+)*")
        .expect("built-in standard number pattern is valid")
});

fn is_joiner(b: u8) -> bool {
    matches!(b, b'-' | b'_' | b'/' | b' ')
}

/// Push the tokens of the code run `text[start..end]`.
pub(crate) fn expand(text: &str, start: usize, end: usize, out: &mut Vec<Token>) {
    // The run is ASCII (see CODE_RUN), so lowercasing keeps every byte offset.
    let run = text[start..end].to_ascii_lowercase();
    let mut emitted: Vec<String> = Vec::new();
    let mut emit = |form: &str, from: usize, to: usize| {
        if !emitted.iter().any(|e| e == form) {
            emitted.push(form.to_owned());
            out.push(Token { text: form.to_owned(), start: start + from, end: start + to });
        }
    };

    let whole = run.replace(' ', "");
    emit(&whole, 0, run.len());

    let has_joiner = run.bytes().any(is_joiner);
    if has_joiner && run.bytes().any(|b| b.is_ascii_alphabetic()) {
        let glued: String = run.bytes().filter(|b| !is_joiner(*b)).map(char::from).collect();
        emit(&glued, 0, run.len());
    }

    // Where a standard's prefix ends: `gb/t14285` is split there like `gb/t 14285`, so that its
    // parts are `gb` and `14285` either way (not `t14285`).
    let mut prefix_end = None;
    if let Some(number) = STANDARD_NUMBER.captures(&run) {
        let cited = &number[0];
        emit(&cited.replace(' ', ""), 0, cited.len());
        let glued: String = cited.bytes().filter(|b| !is_joiner(*b)).map(char::from).collect();
        emit(&glued, 0, cited.len());
        prefix_end = number.get(1).map(|prefix| prefix.end());
    }

    let prefix_end = prefix_end.filter(|_| has_joiner);
    for (offset, part) in parts(&run).flat_map(|(offset, part)| split_at(offset, part, prefix_end)) {
        if has_joiner && part.len() >= 2 {
            emit(part, offset, offset + part.len());
        }
        for (piece_offset, piece) in letter_digit_pieces(part) {
            if piece.len() >= 2 {
                let from = offset + piece_offset;
                emit(piece, from, from + piece.len());
            }
        }
    }
}

/// The parts of a run between joiners, with their byte offsets.
fn parts(run: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    run.split(|c: char| c.is_ascii() && is_joiner(c as u8))
        .map(move |part| {
            let at = offset;
            offset += part.len() + 1;
            (at, part)
        })
        .filter(|(_, part)| !part.is_empty())
}

/// A part in two when `at` (a byte offset of the run) falls inside it.
fn split_at(offset: usize, part: &str, at: Option<usize>) -> Vec<(usize, &str)> {
    match at {
        Some(at) if offset < at && at < offset + part.len() => {
            let (head, tail) = part.split_at(at - offset);
            vec![(offset, head), (at, tail)]
        }
        _ => vec![(offset, part)],
    }
}

/// Maximal letter and digit pieces of a part made of both (`110kv` → `110`, `kv`); nothing for
/// a part of letters only, digits only, or containing `.` (a decimal or version).
fn letter_digit_pieces(part: &str) -> Vec<(usize, &str)> {
    let bytes = part.as_bytes();
    let mixes = bytes.iter().any(u8::is_ascii_alphabetic) && bytes.iter().any(u8::is_ascii_digit);
    if !mixes || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return Vec::new();
    }
    let mut pieces = Vec::new();
    let mut piece_start = 0;
    for i in 1..bytes.len() {
        if bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit() {
            pieces.push((piece_start, &part[piece_start..i]));
            piece_start = i;
        }
    }
    pieces.push((piece_start, &part[piece_start..]));
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for m in CODE_RUN.find_iter(text) {
            expand(text, m.start(), m.end(), &mut out);
        }
        out.into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn product_code() {
        assert_eq!(forms("GKB-931A"), ["gkb-931a", "gkb931a", "gkb", "931a", "931"]);
        assert_eq!(forms("gkb931a"), ["gkb931a", "gkb", "931"]);
    }

    #[test]
    fn quantities_and_gases() {
        assert_eq!(forms("110kV"), ["110kv", "110", "kv"]);
        assert_eq!(forms("SF6"), ["sf6", "sf"]);
    }

    #[test]
    fn standards_join_their_number() {
        assert_eq!(
            forms("GB/T 14285-2023"),
            ["gb/t14285-2023", "gbt142852023", "gb/t14285", "gbt14285", "gb", "14285", "2023"]
        );
        assert_eq!(
            forms("GB/T14285-2023"),
            ["gb/t14285-2023", "gbt142852023", "gb/t14285", "gbt14285", "gb", "14285", "2023"]
        );
        assert_eq!(forms("GB/T 14285"), ["gb/t14285", "gbt14285", "gb", "14285"]);
        assert_eq!(forms("IEC 61850"), ["iec61850", "iec", "61850"]);
        assert_eq!(forms("IEC61850"), ["iec61850", "iec", "61850"]);
        assert_eq!(forms("IEC 61850-9-2"), ["iec61850-9-2", "iec6185092", "iec61850", "iec", "61850"]);
        assert_eq!(forms("DL/T 860"), ["dl/t860", "dlt860", "dl", "860"]);
        assert_eq!(forms("DL/T860"), ["dl/t860", "dlt860", "dl", "860"]);
        assert_eq!(
            forms("DL/T 634.5104-2009"),
            ["dl/t634.5104-2009", "dlt634.51042009", "dl/t634.5104", "dlt634.5104", "dl", "634.5104", "2009"]
        );
        assert_eq!(forms("GB 50150-2016"), ["gb50150-2016", "gb501502016", "gb50150", "gb", "50150", "2016"]);
        // Not a standard: a code that merely starts like one keeps its forms.
        assert_eq!(forms("GKB-931A"), ["gkb-931a", "gkb931a", "gkb", "931a", "931"]);
    }

    #[test]
    fn dotted_numbers_stay_whole() {
        assert_eq!(forms("192.168.1.100"), ["192.168.1.100"]);
        assert_eq!(forms("v2.3.1"), ["v2.3.1"]);
        assert_eq!(forms("2.5"), ["2.5"]);
    }

    #[test]
    fn single_characters() {
        assert_eq!(forms("a"), ["a"]);
        assert_eq!(forms("ct/pt"), ["ct/pt", "ctpt", "ct", "pt"]);
    }

    #[test]
    fn kelvin_sign_is_not_ascii() {
        assert_eq!(forms("10\u{212A}V"), ["10", "v"]);
    }
}
