//! Sign-in throttling: after a few wrong passwords for one username, each further attempt
//! must wait, twice as long each time, whatever the password. A guesser gets a handful of
//! tries an hour instead of thousands a second; the owner who mistyped waits seconds.
//!
//! Kept per username, not per address: behind a proxy every client has the proxy's address,
//! and a guesser rotates addresses more easily than usernames. The table lives in this
//! process's memory and is bounded; with several instances each keeps its own (each still
//! slows a guesser down as much).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong passwords allowed before the waiting starts.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait between attempts.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Failures older than this are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Usernames tracked at once; the stalest is dropped beyond it.
const MAX_TRACKED: usize = 10_000;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl LoginThrottle {
    /// `Err(wait)` when `username` must wait that long before its password is even checked.
    pub fn check(&self, username: &str, now: Instant) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&key(username)) {
            Some(f) if f.count >= FREE_FAILURES => {
                let ready = f.last + wait_after(f.count);
                if now < ready { Err(ready - now) } else { Ok(()) }
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, username: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
        if failures.len() >= MAX_TRACKED
            && let Some(stalest) = failures.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| k.clone())
        {
            failures.remove(&stalest);
        }
        let f = failures.entry(key(username)).or_insert(Failures { count: 0, last: now });
        f.count += 1;
        f.last = now;
    }

    pub fn succeeded(&self, username: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&key(username));
    }
}

/// The wait after the `count`-th failure: 1 s after the first one past the free ones, then
/// doubling up to [`MAX_WAIT`].
fn wait_after(count: u32) -> Duration {
    let doublings = count.saturating_sub(FREE_FAILURES).min(20);
    Duration::from_secs(1 << doublings).min(MAX_WAIT)
}

/// Usernames are lower-case slugs of at most 64 characters; spellings of one (`Li`, `li `)
/// share one count, so a guesser cannot multiply its free tries, and a name sent a megabyte
/// long takes no more room in the table than a real one.
fn key(username: &str) -> String {
    username.trim().chars().take(64).collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_starts_after_the_free_failures_and_doubles() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            t.failed("li", start);
        }
        assert_eq!(t.check("li", start), Ok(()), "still free");
        t.failed("li", start);
        assert_eq!(t.check("LI ", start), Err(Duration::from_secs(1)), "same user, any case");
        assert_eq!(t.check("wang", start), Ok(()), "others are not affected");
        t.failed(&"x".repeat(1 << 20), start);
        assert!(t.failures.lock().unwrap().keys().all(|k| k.len() <= 64), "keys are bounded");
        let later = start + Duration::from_secs(1);
        assert_eq!(t.check("li", later), Ok(()));
        t.failed("li", later);
        assert_eq!(t.check("li", later), Err(Duration::from_secs(2)));
        t.succeeded("li");
        assert_eq!(t.check("li", later), Ok(()), "a right password clears the count");
    }

    #[test]
    fn the_wait_is_capped_and_old_failures_are_forgotten() {
        assert_eq!(wait_after(FREE_FAILURES + 40), MAX_WAIT);
        let t = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..FREE_FAILURES {
            t.failed("li", start);
        }
        // Another user's failure an hour later sweeps the stale entry.
        t.failed("wang", start + FORGET_AFTER);
        assert_eq!(t.check("li", start + FORGET_AFTER), Ok(()));
        assert_eq!(t.failures.lock().unwrap().len(), 1);
    }
}
