//! Sortable positions for clauses: strings over `0-9a-z` read as base-36 fractions, so there
//! is always one between any two (David Greenspan's fractional indexing, without the integer
//! part). A position never ends in `0`, which is what leaves room below every position.

const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A position after `before` (or at the start) and before `after` (or at the end).
///
/// Positions come from other devices too, so nothing is assumed of them: they are compared by
/// [`sort_key`] (characters outside the alphabet and trailing `0`s ignored), and an `after` that does not sort after `before` (two clauses inserted at one
/// spot concurrently share a position; ids then order them) is treated as absent. The result
/// always sorts after `before` by that key.
pub fn between(before: Option<&str>, after: Option<&str>) -> String {
    let a = sort_key(before.unwrap_or(""));
    let b = after.map(sort_key).filter(|b| !b.is_empty() && a < *b);
    midpoint(&a, b.as_deref()).into_iter().map(|d| DIGITS[d as usize] as char).collect()
}

/// What clauses are ordered by (then by id): a position's digits.
pub fn sort_key(s: &str) -> Vec<u8> {
    let mut out: Vec<u8> = s.bytes().filter_map(|c| DIGITS.iter().position(|d| *d == c).map(|d| d as u8)).collect();
    while out.last() == Some(&0) {
        out.pop();
    }
    out
}

/// Digits strictly between `a` and `b` (`None`: 1.0), with `a < b` and neither ending in 0.
/// A loop, not recursion: a hostile position of a million `z`s must not overflow the stack.
fn midpoint(mut a: &[u8], mut b: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        if let Some(bb) = b {
            let n = (0..bb.len()).take_while(|&i| a.get(i).copied().unwrap_or(0) == bb[i]).count();
            if n > 0 {
                out.extend_from_slice(&bb[..n]);
                a = a.get(n..).unwrap_or(&[]);
                b = Some(&bb[n..]);
                continue;
            }
        }
        let da = a.first().copied().unwrap_or(0);
        let db = b.map_or(DIGITS.len() as u8, |b| b[0]);
        if db - da > 1 {
            out.push((da + db).div_ceil(2));
            return out;
        }
        if let Some(bb) = b.filter(|bb| bb.len() > 1) {
            out.push(bb[0]);
            return out;
        }
        out.push(da);
        a = a.get(1..).unwrap_or(&[]);
        b = None;
    }
}
