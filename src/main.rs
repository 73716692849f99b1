fn main() {
    std::process::exit(semigrate::cli::main());
}
