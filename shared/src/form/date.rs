//! Calendar dates and wall-clock times as ISO text: what typed input becomes, and what a
//! definition's conditions may compare a date field with.
//!
//! The build script compiles this file in too (see `model`), so it uses only `std`.

pub(crate) fn is_iso_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else { return false };
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return false;
    }
    let (y, m, d): (u32, u32, u32) = (y.parse().unwrap(), m.parse().unwrap(), d.parse().unwrap());
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// `YYYY-MM-DDTHH:MM[:SS]`, also with a space for the `T` (as people type it).
pub(crate) fn canonical_date_time(s: &str) -> Option<String> {
    let (date, time) = s.split_once(['T', ' '])?;
    if !is_iso_date(date) {
        return None;
    }
    let parts: Vec<&str> = time.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    for (i, p) in parts.iter().enumerate() {
        let limit = if i == 0 { 23 } else { 59 };
        if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u32>().ok()? > limit {
            return None;
        }
    }
    Some(format!("{date}T{}", parts.join(":")))
}
