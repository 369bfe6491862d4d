//! Canonical form of text, shared by indexing and querying.

/// Normalise text so that the forms customers and engineers type interchangeably compare equal.
///
/// - full-width ASCII (`ＧＫＢ－９３１Ａ`, `：`, `（`) → half-width; the ideographic space U+3000
///   is whitespace;
/// - traditional → simplified Chinese (`裝置異常` → `装置异常`, via `fast2s`);
/// - ASCII lowercased;
/// - Roman numerals `Ⅰ`…`Ⅻ` (bus and section names: `Ⅱ母`) → `i`…`xii`, as users type them;
/// - typographic hyphens (U+2010–U+2013, U+2212) → `-`, so `GKB‐931A` is the code `gkb-931a`;
/// - control and invisible format characters (zero-width space, BOM, bidi marks) dropped;
/// - whitespace runs collapsed: a run containing a line break (`\n`, `\r\n`, `\r`, U+2028…)
///   becomes one `\n` — line structure matters for solution steps and snippets — any other run
///   becomes one space; leading and trailing whitespace trimmed.
///
/// Idempotent: `normalize(&normalize(s)) == normalize(s)`.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Whitespace seen since the last kept character: None, Some(' ') or Some('\n').
    let mut pending_space: Option<char> = None;
    for c in text.chars() {
        match fold(c) {
            Folded::Char(c) => {
                flush_space(&mut out, &mut pending_space);
                out.push(c);
            }
            Folded::Str(s) => {
                flush_space(&mut out, &mut pending_space);
                out.push_str(s);
            }
            Folded::Space => {
                pending_space.get_or_insert(' ');
            }
            Folded::LineBreak => pending_space = Some('\n'),
            Folded::Drop => {}
        }
    }
    // fast2s maps character to character (with a one-character context), so running it after
    // the folding above cannot reintroduce anything the folding removed.
    fast2s::convert(&out)
}

fn flush_space(out: &mut String, pending_space: &mut Option<char>) {
    if let Some(space) = pending_space.take()
        && !out.is_empty()
    {
        out.push(space);
    }
}

enum Folded {
    Char(char),
    Str(&'static str),
    Space,
    LineBreak,
    Drop,
}

/// Offset between a full-width form (U+FF01–U+FF5E) and its ASCII counterpart.
const FULL_WIDTH_OFFSET: u32 = 0xFEE0;

const ROMAN_NUMERALS: [&str; 12] = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii"];

fn fold(c: char) -> Folded {
    match c {
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}' => Folded::LineBreak,
        c if c.is_whitespace() => Folded::Space,
        '\u{FF01}'..='\u{FF5E}' => {
            // The range maps one to one onto '!'..='~', so the subtraction always yields ASCII.
            let ascii = char::from_u32(c as u32 - FULL_WIDTH_OFFSET).unwrap_or(c);
            Folded::Char(ascii.to_ascii_lowercase())
        }
        // Upper- and lowercase Roman numeral blocks, each twelve long.
        '\u{2160}'..='\u{216B}' => Folded::Str(ROMAN_NUMERALS[(c as u32 - 0x2160) as usize]),
        '\u{2170}'..='\u{217B}' => Folded::Str(ROMAN_NUMERALS[(c as u32 - 0x2170) as usize]),
        '\u{2010}'..='\u{2013}' | '\u{2212}' | '\u{FE63}' => Folded::Char('-'),
        // Soft hyphen, zero-width space/joiners, bidi marks and embeddings, word joiner, BOM.
        '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' => {
            Folded::Drop
        }
        c if c.is_control() => Folded::Drop,
        c => Folded::Char(c.to_ascii_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn full_width_becomes_half_width_and_lowercase() {
        assert_eq!(normalize("ＧＫＢ－９３１Ａ"), "gkb-931a");
        assert_eq!(normalize("户号：１２３４"), "户号:1234");
        assert_eq!(normalize("（０２１）"), "(021)");
        assert_eq!(normalize("ＳＦ６\u{3000}气压低"), "sf6 气压低");
    }

    #[test]
    fn traditional_becomes_simplified() {
        assert_eq!(normalize("裝置異常"), "装置异常");
        assert_eq!(normalize("保護裝置通道中斷"), "保护装置通道中断");
        assert_eq!(normalize("電能表"), "电能表");
    }

    #[test]
    fn simplified_text_is_left_alone() {
        for s in ["后台监控系统", "保护装置告警", "干式变压器", "显著", "电流互感器"] {
            assert_eq!(normalize(s), s);
        }
    }

    #[test]
    fn whitespace_collapses_and_line_breaks_survive() {
        assert_eq!(normalize("  保护装置 \t  告警  "), "保护装置 告警");
        assert_eq!(normalize("第一步\r\n\r\n第二步"), "第一步\n第二步");
        assert_eq!(normalize("a \n b"), "a\nb");
        assert_eq!(normalize("a\rb"), "a\nb");
        assert_eq!(normalize("a\u{A0}\u{2003}b"), "a b");
        assert_eq!(normalize(" \n\t "), "");
    }

    #[test]
    fn control_and_invisible_characters_are_dropped() {
        assert_eq!(normalize("告\u{0}警\u{7}"), "告警");
        assert_eq!(normalize("\u{FEFF}通道\u{200B}中断"), "通道中断");
    }

    #[test]
    fn roman_numerals_and_hyphens() {
        assert_eq!(normalize("Ⅱ母差动"), "ii母差动");
        assert_eq!(normalize("ⅲ段"), "iii段");
        assert_eq!(normalize("GKB\u{2010}931A"), "gkb-931a");
    }

    #[test]
    fn uppercase_ascii_is_lowercased_but_other_scripts_are_kept() {
        assert_eq!(normalize("IEC 61850 GOOSE"), "iec 61850 goose");
        assert_eq!(normalize("Ω μs ℃"), "Ω μs ℃");
    }

    #[test]
    fn idempotent() {
        for s in ["ＧＫＢ－９３１Ａ 裝置異常\r\n Ⅱ母", "  a  \n\n b ", "保护\u{0}装置", ""] {
            let once = normalize(s);
            assert_eq!(normalize(&once), once, "{s:?}");
        }
    }
}
