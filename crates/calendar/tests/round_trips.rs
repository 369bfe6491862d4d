//! Properties of the date type against a reference that counts days the slow way.

use calendar::{Date, DateError, days_in_month, is_leap_year};
use proptest::prelude::*;

/// Days since 1970-01-01 by walking whole years and months: slow, plainly right.
fn reference_days(year: i64, month: u32, day: u32) -> i64 {
    let year_days = |y: i64| if is_leap_year(y) { 366 } else { 365 };
    let mut days =
        if year >= 1970 { (1970..year).map(year_days).sum::<i64>() } else { -(year..1970).map(year_days).sum::<i64>() };
    days += (1..month).map(|m| i64::from(days_in_month(year, m).expect("month"))).sum::<i64>();
    days + i64::from(day) - 1
}

fn any_real_day() -> impl Strategy<Value = (i64, u32, u32)> {
    (0i64..=9999, 1u32..=12).prop_flat_map(|(y, m)| {
        let last = days_in_month(y, m).expect("month");
        (Just(y), Just(m), 1..=last)
    })
}

proptest! {
    #[test]
    fn a_day_number_matches_the_reference((y, m, d) in any_real_day()) {
        let date = Date::from_ymd(y, m, d).expect("a real day");
        prop_assert_eq!(date.days(), reference_days(y, m, d));
        prop_assert_eq!(date.ymd(), (y, m, d));
    }

    #[test]
    fn text_round_trips((y, m, d) in any_real_day()) {
        let text = format!("{y:04}-{m:02}-{d:02}");
        let date = Date::parse(&text).expect("a real day");
        prop_assert_eq!(date.to_string(), text);
    }

    #[test]
    fn day_numbers_round_trip(days in -100_000_000i64..100_000_000) {
        let date = Date::from_days(days);
        let (y, m, d) = date.ymd();
        prop_assert_eq!(Date::from_ymd(y, m, d), Ok(date));
        prop_assert_eq!(date.plus_days(1).days_until(date), -1);
        if (0..=9999).contains(&y) {
            prop_assert_eq!(Date::parse(&date.to_string()), Ok(date));
        }
    }

    #[test]
    fn adding_days_and_months_agrees_with_the_calendar(days in -800_000i64..3_000_000, n in -5000i64..5000, months in -1200i64..1200) {
        let date = Date::from_days(days);
        prop_assert_eq!(date.plus_days(n).days_until(date), -n);
        let (y, m, d) = date.ymd();
        let (y2, m2, d2) = date.plus_months(months).ymd();
        prop_assert_eq!(y2 * 12 + i64::from(m2), y * 12 + i64::from(m) + months);
        prop_assert_eq!(d2, d.min(days_in_month(y2, m2).expect("month")));
    }

    #[test]
    fn any_text_is_a_date_or_a_refusal(text in "\\PC{0,12}") {
        match Date::parse(&text) {
            Ok(date) => prop_assert_eq!(date.to_string(), text),
            Err(DateError::Format | DateError::NoSuchDay) => {}
        }
    }
}
