//! Calendar dates as day numbers (proleptic Gregorian), enough for warranties and case dates.

use std::fmt;

/// A date, stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i64);

impl Date {
    /// From year, month (1–12), day (1–31); H. Hinnant's `days_from_civil`.
    pub fn ymd(y: i64, m: u32, d: u32) -> Date {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(m);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Date(era * 146_097 + doe - 719_468)
    }

    pub fn civil(self) -> (i64, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let y = yoe + era * 400 + i64::from(m <= 2);
        (y, m, d)
    }

    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.split('-');
        let y = parts.next()?.parse().ok()?;
        let m: u32 = parts.next()?.parse().ok()?;
        let d: u32 = parts.next()?.parse().ok()?;
        if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        let date = Date::ymd(y, m, d);
        (date.civil() == (y, m, d)).then_some(date)
    }

    pub fn plus_days(self, days: i64) -> Date {
        Date(self.0 + days)
    }

    /// The same day `months` later, clamped to the end of a shorter month.
    pub fn plus_months(self, months: i64) -> Date {
        let (y, m, d) = self.civil();
        let total = y * 12 + i64::from(m) - 1 + months;
        let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
        let mut day = d;
        while Date::ymd(ny, nm, day).civil() != (ny, nm, day) {
            day -= 1;
        }
        Date::ymd(ny, nm, day)
    }

    pub fn year(self) -> i64 {
        self.civil().0
    }

    /// `2025年3月7日`
    pub fn zh(self) -> String {
        let (y, m, d) = self.civil();
        format!("{y}年{m}月{d}日")
    }

    /// `3月7日`
    pub fn zh_md(self) -> String {
        let (_, m, d) = self.civil();
        format!("{m}月{d}日")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_months() {
        assert_eq!(Date::ymd(1970, 1, 1).0, 0);
        assert_eq!(Date::parse("2026-11-01").map(|d| d.to_string()).as_deref(), Some("2026-11-01"));
        assert_eq!(Date::parse("2026-02-30"), None);
        assert_eq!(Date::ymd(2024, 1, 31).plus_months(1).to_string(), "2024-02-29");
        assert_eq!(Date::ymd(2024, 11, 15).plus_months(24).to_string(), "2026-11-15");
        for n in -1000..3000 {
            let d = Date(19_000 + n);
            let (y, m, dd) = d.civil();
            assert_eq!(Date::ymd(y, m, dd), d);
        }
    }
}
