//! Calendar dates from Unix milliseconds, the same on the server (its UTC pages) and in the
//! browser's server-rendered first paint.

/// A time as its UTC calendar parts: (year, month, day, hour, minute, second, millisecond).
pub fn civil(ms: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_milliseconds_become_calendar_parts() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0, 0));
        // 2024-02-29T23:59:58.5Z: a leap day.
        assert_eq!(civil(1_709_251_198_500), (2024, 2, 29, 23, 59, 58, 500));
    }
}
