//! The one date type of gridkb: a civil (proleptic Gregorian) day, with no time of day and no
//! time zone, stored as the number of days since 1970-01-01. Warranty ends, case dates, review
//! dates, the analytics' days (UTC) and the generated corpus's calendar all use it, so that a day
//! is counted one way everywhere.
//!
//! Its own crate, with nothing of ours below it, because both the store (which validates record
//! dates) and the journal (which buckets requests by day) need it and neither may depend on the
//! other. Not `time` or `jiff`: the service needs days only (about a hundred lines), the
//! conversion must be total over every `i64` day number the code can make (a Unix timestamp of
//! ±10¹² s in a Dify filter is ±1.2·10⁷ days, beyond `jiff`'s and `time`'s default year range),
//! and the store and journal would otherwise take a time-zone library for a day count.
//!
//! The text form is ISO 8601's calendar date `YYYY-MM-DD` with a four-digit year, so
//! [`Date::parse`] reads years 0000–9999 and [`Date`]'s `Display` writes every date it reads
//! back the same; a date outside those years (only reachable through [`Date::from_days`]) is
//! written with as many digits as its year has.

use std::fmt;

use serde::{Serialize, Serializer};

/// Milliseconds in a day (no leap seconds: Unix time has none).
pub const DAY_MS: i64 = 86_400_000;

/// Days from 0000-03-01 (the first day of the shifted calendar below) to 1970-01-01.
const DAYS_FROM_0000_03_01_TO_EPOCH: i64 = 719_468;
/// Days in 400 Gregorian years: the calendar repeats after an era.
const DAYS_PER_ERA: i64 = 146_097;

/// A proleptic Gregorian day, as days since 1970-01-01 (negative before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i64);

/// Why a text or a year, month and day is not a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateError {
    /// Not of the form `YYYY-MM-DD` (four, two and two ASCII digits).
    Format,
    /// Of the form, but no such day: month 13, 31 April, 29 February of a common year.
    NoSuchDay,
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateError::Format => f.write_str("not a date of the form YYYY-MM-DD"),
            DateError::NoSuchDay => f.write_str("no such day in the calendar"),
        }
    }
}

impl std::error::Error for DateError {}

/// Whether `year` has 29 February.
pub fn is_leap_year(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

/// Days in `month` (1–12) of `year`; `None` for a month outside 1–12.
pub fn days_in_month(year: i64, month: u32) -> Option<u32> {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => Some(31),
        4 | 6 | 9 | 11 => Some(30),
        2 if is_leap_year(year) => Some(29),
        2 => Some(28),
        _ => None,
    }
}

impl Date {
    /// 1970-01-01.
    pub const EPOCH: Date = Date(0);

    /// The date `days` days after 1970-01-01 (before it, if negative).
    pub const fn from_days(days: i64) -> Date {
        Date(days)
    }

    /// Days since 1970-01-01 (negative before it).
    pub const fn days(self) -> i64 {
        self.0
    }

    /// The day of year, month (1–12) and day (1–31); [`DateError::NoSuchDay`] for a month or a
    /// day its month does not have.
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Result<Date, DateError> {
        let last = days_in_month(year, month).ok_or(DateError::NoSuchDay)?;
        if day == 0 || day > last {
            return Err(DateError::NoSuchDay);
        }
        Ok(Date(days_from_civil(year, i64::from(month), i64::from(day))))
    }

    /// Year, month (1–12) and day (1–31).
    pub fn ymd(self) -> (i64, u32, u32) {
        let (year, month, day) = civil_from_days(self.0);
        // Both are in range by construction (1–12, 1–31).
        (year, month as u32, day as u32)
    }

    pub fn year(self) -> i64 {
        self.ymd().0
    }

    /// Reads `YYYY-MM-DD`: exactly ten characters, a real calendar day.
    pub fn parse(text: &str) -> Result<Date, DateError> {
        let bytes = text.as_bytes();
        let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *bytes else { return Err(DateError::Format) };
        let digits = [y0, y1, y2, y3, m0, m1, d0, d1];
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(DateError::Format);
        }
        let number = |ds: &[u8]| ds.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        Date::from_ymd(i64::from(number(&digits[0..4])), number(&digits[4..6]), number(&digits[6..8]))
    }

    /// The UTC day of a Unix time in milliseconds.
    pub const fn of_unix_ms(ms: i64) -> Date {
        Date(ms.div_euclid(DAY_MS))
    }

    /// The UTC day of a Unix time in seconds.
    pub const fn of_unix_seconds(seconds: i64) -> Date {
        Date(seconds.div_euclid(86_400))
    }

    /// The Unix time in milliseconds at which this day starts (UTC), saturating far from 1970.
    pub const fn start_unix_ms(self) -> i64 {
        self.0.saturating_mul(DAY_MS)
    }

    /// Today in UTC, from the system clock (1970-01-01 if the clock is set before it).
    pub fn today() -> Date {
        let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Date::of_unix_seconds(i64::try_from(seconds).unwrap_or(i64::MAX))
    }

    /// The date `days` later (earlier, if negative), saturating at the ends of `i64`.
    pub const fn plus_days(self, days: i64) -> Date {
        Date(self.0.saturating_add(days))
    }

    /// Days from `self` to `later` (negative if `later` is earlier).
    pub const fn days_until(self, later: Date) -> i64 {
        later.0.saturating_sub(self.0)
    }

    /// The same day of the month `months` later (earlier, if negative), moved back to the last
    /// day of a shorter month (31 January plus one month is 28 or 29 February).
    pub fn plus_months(self, months: i64) -> Date {
        let (year, month, day) = self.ymd();
        let index = year * 12 + i64::from(month) - 1 + months;
        let (year, month) = (index.div_euclid(12), index.rem_euclid(12) as u32 + 1);
        let last = days_in_month(year, month).unwrap_or(28);
        Date(days_from_civil(year, i64::from(month), i64::from(day.min(last))))
    }
}

/// Day number of a civil date (any month 1–12, day 1–31 of it). The year is shifted to start on
/// 1 March, so that the leap day is the last day of a year; then whole 400-year eras are counted
/// from 0000-03-01, then years within the era (365 days, one more every 4th, one fewer every
/// 100th), then days within the year (the months from March have 31, 30, 31, 30, 31 days, twice
/// over and then 31, 30 — `(153 m + 2) / 5` days before the m-th).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - DAYS_FROM_0000_03_01_TO_EPOCH
}

/// The inverse of [`days_from_civil`]: the era, the year within it (each of its corrections
/// undone), the day within the shifted year, then the month and day.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days.saturating_add(DAYS_FROM_0000_03_01_TO_EPOCH);
    let era = shifted.div_euclid(DAYS_PER_ERA);
    let day_of_era = shifted - era * DAYS_PER_ERA;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.ymd();
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

impl std::str::FromStr for Date {
    type Err = DateError;

    fn from_str(text: &str) -> Result<Date, DateError> {
        Date::parse(text)
    }
}

/// As its `YYYY-MM-DD` text.
impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        Date::parse(text).expect("a date")
    }

    #[test]
    fn known_days() {
        assert_eq!(Date::from_ymd(1970, 1, 1), Ok(Date::EPOCH));
        assert_eq!(day("1970-01-02").days(), 1);
        assert_eq!(day("1969-12-31").days(), -1);
        assert_eq!(day("2000-03-01").days(), 11_017);
        assert_eq!(Date::from_days(20_635).to_string(), "2026-07-01");
        assert_eq!(day("0000-01-01").days(), -719_528);
        assert_eq!(day("9999-12-31").to_string(), "9999-12-31");
    }

    #[test]
    fn reads_only_real_days_of_the_iso_form() {
        for text in ["1970-01-01", "2000-02-29", "2024-12-31", "2025-03-01", "2100-02-28", "1999-12-31"] {
            assert_eq!(day(text).to_string(), text);
        }
        for text in ["2025-02-29", "2100-02-29", "2025-04-31", "2025-13-01", "2025-00-10", "2025-01-00"] {
            assert_eq!(Date::parse(text), Err(DateError::NoSuchDay), "{text}");
        }
        for text in [
            "",
            "2025-1-01",
            "2025-01-1",
            "25-01-01",
            "2025/01/01",
            "2025-01-01T00",
            "+025-01-01",
            "２０２５-01-01",
            "2025-01-01 ",
        ] {
            assert_eq!(Date::parse(text), Err(DateError::Format), "{text}");
        }
        assert_eq!("2024-02-29".parse::<Date>(), Ok(day("2024-02-29")));
    }

    #[test]
    fn counts_and_moves_days_and_months() {
        let a = day("2024-02-28");
        assert_eq!(a.days_until(day("2024-03-01")), 2);
        assert_eq!(a.days_until(day("2025-02-28")), 366);
        assert_eq!(a.plus_days(2), day("2024-03-01"));
        assert_eq!(day("2024-01-31").plus_months(1), day("2024-02-29"));
        assert_eq!(day("2023-01-31").plus_months(1), day("2023-02-28"));
        assert_eq!(day("2024-11-15").plus_months(24), day("2026-11-15"));
        assert_eq!(day("2024-03-31").plus_months(-13), day("2023-02-28"));
        assert_eq!(Date::from_days(i64::MAX).plus_days(1), Date::from_days(i64::MAX));
    }

    #[test]
    fn unix_times_fall_on_their_utc_day() {
        assert_eq!(Date::of_unix_ms(0), Date::EPOCH);
        assert_eq!(Date::of_unix_ms(DAY_MS - 1), Date::EPOCH);
        assert_eq!(Date::of_unix_ms(-1), Date::from_days(-1));
        assert_eq!(Date::of_unix_seconds(1_751_328_000), day("2025-07-01"));
        assert_eq!(day("2025-07-01").start_unix_ms(), 1_751_328_000_000);
        assert!(Date::today() > day("2025-01-01"));
    }

    #[test]
    fn leap_years() {
        assert!(is_leap_year(2000) && is_leap_year(2024) && is_leap_year(0) && is_leap_year(-4));
        assert!(!is_leap_year(1900) && !is_leap_year(2100) && !is_leap_year(2025) && !is_leap_year(-1));
        assert_eq!(days_in_month(2024, 2), Some(29));
        assert_eq!(days_in_month(2024, 13), None);
    }

    #[test]
    fn serializes_as_its_text() {
        assert_eq!(serde_json::to_string(&day("2027-03-31")).expect("json"), "\"2027-03-31\"");
    }
}
