//! Every semigrate command (upgrade, downgrade, status, …) for the chain of migrations/.
semigrate::include_chain!();

fn main() -> std::process::ExitCode {
    semigrate::cli::main(&CHAIN)
}
