//! How the generated texts write a date: the Chinese forms an agent types. The date itself is
//! gridkb's one date type, `calendar::Date`.

use calendar::Date;

/// The Chinese written forms of a date.
pub trait ChineseDate {
    /// `2025年3月7日`
    fn zh(self) -> String;
    /// `3月7日`
    fn zh_md(self) -> String;
}

impl ChineseDate for Date {
    fn zh(self) -> String {
        let (y, m, d) = self.ymd();
        format!("{y}年{m}月{d}日")
    }

    fn zh_md(self) -> String {
        let (_, m, d) = self.ymd();
        format!("{m}月{d}日")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_without_leading_zeros() {
        let date = Date::parse("2025-03-07").expect("date");
        assert_eq!(date.zh(), "2025年3月7日");
        assert_eq!(date.zh_md(), "3月7日");
    }
}
