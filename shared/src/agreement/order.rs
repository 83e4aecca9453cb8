//! Sortable positions for clauses: strings over `0-9a-z` read as base-36 fractions, so there
//! is always one between any two (David Greenspan's fractional indexing, without the integer
//! part). A position never ends in `0`, which is what leaves room below every position.

const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A position after `before` (or at the start) and before `after` (or at the end).
///
/// Positions come from other devices too, so nothing is assumed of them: characters outside
/// the alphabet and trailing `0`s are ignored, and an `after` that does not sort after
/// `before` (two clauses inserted at one spot concurrently share a position; ids then order
/// them) is treated as absent. The result always sorts after `before`.
pub fn between(before: Option<&str>, after: Option<&str>) -> String {
    let a = digits(before.unwrap_or(""));
    let b = after.map(digits).filter(|b| !b.is_empty() && a < *b);
    midpoint(&a, b.as_deref()).into_iter().map(|d| DIGITS[d as usize] as char).collect()
}

fn digits(s: &str) -> Vec<u8> {
    let mut out: Vec<u8> = s.bytes().filter_map(|c| DIGITS.iter().position(|d| *d == c).map(|d| d as u8)).collect();
    while out.last() == Some(&0) {
        out.pop();
    }
    out
}

/// Digits strictly between `a` and `b` (`None`: 1.0), with `a < b` and neither ending in 0.
fn midpoint(a: &[u8], b: Option<&[u8]>) -> Vec<u8> {
    if let Some(b) = b {
        let n = (0..b.len()).take_while(|&i| a.get(i).copied().unwrap_or(0) == b[i]).count();
        if n > 0 {
            let mut out = b[..n].to_vec();
            out.extend(midpoint(a.get(n..).unwrap_or(&[]), Some(&b[n..])));
            return out;
        }
    }
    let da = a.first().copied().unwrap_or(0);
    let db = b.map_or(DIGITS.len() as u8, |b| b[0]);
    if db - da > 1 {
        vec![(da + db).div_ceil(2)]
    } else if let Some(b) = b.filter(|b| b.len() > 1) {
        vec![b[0]]
    } else {
        let mut out = vec![da];
        out.extend(midpoint(a.get(1..).unwrap_or(&[]), None));
        out
    }
}
