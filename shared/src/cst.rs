//! China Standard Time (UTC+8, no daylight saving): the mechanism's calendar. Deadlines,
//! report periods and list dates are all read against it, whatever zone a device is set to.

const DAY_MS: i64 = 86_400_000;
const OFFSET_MS: i64 = 8 * 3_600_000;

/// The calendar date, `(year, month, day)`, of a moment (ms since the epoch) in China.
pub fn date_of(ms: i64) -> (i64, u32, u32) {
    civil_from_days(ms.saturating_add(OFFSET_MS).div_euclid(DAY_MS))
}

/// The first millisecond of a `YYYY-MM-DD` day in China; `None` if it is no such date.
pub fn day_start(date: &str) -> Option<i64> {
    if !crate::form::date::is_iso_date(date) {
        return None;
    }
    let (y, m, d) = (date[0..4].parse().ok()?, date[5..7].parse().ok()?, date[8..10].parse().ok()?);
    Some(start_of(y, m, d))
}

/// The first millisecond of day `d` of month `m` of year `y` in China (a month past 12
/// rolls into the next year, so "the month after December" needs no special case).
pub fn start_of(y: i64, m: u32, d: u32) -> i64 {
    let (y, m) = (y + i64::from((m - 1) / 12), (m - 1) % 12 + 1);
    days_from_civil(y, m, d) * DAY_MS - OFFSET_MS
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_the_day_turns_at_midnight_in_china() {
        // 2026-11-30T16:00:00Z is midnight of 1 December in China.
        let midnight = 1_796_054_400_000;
        assert_eq!(day_start("2026-12-01"), Some(midnight));
        assert_eq!(date_of(midnight), (2026, 12, 1));
        assert_eq!(date_of(midnight - 1), (2026, 11, 30));
        assert_eq!(start_of(2026, 13, 1), day_start("2027-01-01").unwrap());
        assert_eq!(day_start("2024-02-30"), None);
        for day in (-800_000..800_000).step_by(997) {
            // Midnight UTC is eight in the morning in China, of the same date.
            let ms = day * DAY_MS;
            let (y, m, d) = date_of(ms);
            assert_eq!(start_of(y, m, d), ms - OFFSET_MS, "{y}-{m}-{d}");
        }
    }
}
