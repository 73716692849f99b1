//! Proves the chain in `migrations/` and compiles it into `OUT_DIR/migrations.rs`.
fn main() {
    if semigrate::build::compile().is_err() {
        std::process::exit(1);
    }
}
