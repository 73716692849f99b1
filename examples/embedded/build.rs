// Proves migrations/ and writes OUT_DIR/migrations.rs, as any chain crate's build does.
fn main() {
    if semigrate::build::compile().is_err() {
        std::process::exit(1);
    }
}
