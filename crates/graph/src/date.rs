//! Calendar dates as day numbers, enough for warranty arithmetic (no time zones, no times).

use std::fmt;

use serde::{Serialize, Serializer};

use crate::error::{GraphError, Result};

/// A proleptic Gregorian date, stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i64);

impl Date {
    /// Parses `YYYY-MM-DD` (a real calendar day).
    pub fn parse(text: &str) -> Result<Date> {
        store::record::validate_date("date", text).map_err(|e| GraphError::InvalidArgument(e.to_string()))?;
        let year: i64 = text[0..4].parse().map_err(|_| GraphError::InvalidArgument(format!("date `{text}`")))?;
        let month: i64 = text[5..7].parse().map_err(|_| GraphError::InvalidArgument(format!("date `{text}`")))?;
        let day: i64 = text[8..10].parse().map_err(|_| GraphError::InvalidArgument(format!("date `{text}`")))?;
        Ok(Date::from_civil(year, month, day))
    }

    /// Day number of a civil date: count whole 400-year eras (146,097 days each) from
    /// 0000-03-01, then years within the era, with March as the first month so that the leap
    /// day falls at the end of the year.
    fn from_civil(year: i64, month: i64, day: i64) -> Date {
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let month_from_march = (month + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Date(era * 146_097 + day_of_era - 719_468)
    }

    fn to_civil(self) -> (i64, i64, i64) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }

    /// The date `days` days after 1970-01-01 (before it, if negative).
    pub fn from_days(days: i64) -> Date {
        Date(days)
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn days(self) -> i64 {
        self.0
    }

    /// Today in UTC, from the system clock.
    pub fn today() -> Date {
        let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Date::from_days((seconds / 86_400) as i64)
    }

    /// Days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        later.0 - self.0
    }

    pub fn plus_days(self, days: i64) -> Date {
        Date(self.0 + days)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.to_civil();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_counts_days() {
        for text in ["1970-01-01", "2000-02-29", "2024-12-31", "2025-03-01", "2100-02-28", "1999-12-31"] {
            assert_eq!(Date::parse(text).expect("date").to_string(), text);
        }
        assert_eq!(Date::parse("1970-01-02").expect("date"), Date(1));
        let a = Date::parse("2024-02-28").expect("date");
        assert_eq!(a.days_until(Date::parse("2024-03-01").expect("date")), 2);
        assert_eq!(a.days_until(Date::parse("2025-02-28").expect("date")), 366);
        assert!(Date::parse("2025-02-29").is_err());
        assert_eq!(a.plus_days(2).to_string(), "2024-03-01");
    }
}
