//! Named points where a test build can kill the process, to prove that a crash at any
//! instant leaves the store at N or at N+1 after the next run. Compiled in only with
//! the `fault-injection` feature; release binaries carry none of it.

/// Aborts the process when `SEMIGRATE_FAULT` names this point: `NAME` at its first
/// pass, `NAME@K` at its K-th (a crash in a run's second migration, after the first
/// one's work is done).
#[cfg(feature = "fault-injection")]
pub fn point(name: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PASSED: AtomicUsize = AtomicUsize::new(0);
    let Ok(wanted) = std::env::var("SEMIGRATE_FAULT") else {
        return;
    };
    let (wanted, k) = match wanted.split_once('@') {
        Some((wanted, k)) => (wanted, k.parse().unwrap_or(1)),
        None => (wanted.as_str(), 1),
    };
    if wanted == name && PASSED.fetch_add(1, Ordering::SeqCst) + 1 == k {
        std::process::abort();
    }
}

/// Nothing: this build has no fault points.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(_name: &str) {}
