//! Named points where a test build can kill the process, to prove that a crash at any
//! instant leaves the store at N or at N+1 after the next run. Compiled in only with
//! the `fault-injection` feature; release binaries carry none of it.

/// Aborts the process when `SEMIGRATE_FAULT` names this point.
#[cfg(feature = "fault-injection")]
pub fn point(name: &str) {
    if std::env::var("SEMIGRATE_FAULT").is_ok_and(|wanted| wanted == name) {
        std::process::abort();
    }
}

/// Nothing: this build has no fault points.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn point(_name: &str) {}
