//! The `semigrate` command, with the example chain of `migrations/` compiled in.
fn main() -> std::process::ExitCode {
    semigrate::cli::main(&accidents::CHAIN)
}
