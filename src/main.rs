//! The `semigrate` command, with the example chain of `migrations/` compiled in.
// Fixture chains (SEMIGRATE_MIGRATIONS_DIR: tests, benchmarks) are compiled without
// the example's specs, which alone call these functions.
#[allow(dead_code)]
mod steps;

semigrate::include_chain!();

fn main() -> std::process::ExitCode {
    semigrate::cli::main(&CHAIN)
}
