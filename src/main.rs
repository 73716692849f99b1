//! The `semigrate` command, with the example chain of `migrations/` compiled in.
mod steps;

semigrate::include_chain!();

fn main() -> std::process::ExitCode {
    semigrate::cli::main(&CHAIN)
}
