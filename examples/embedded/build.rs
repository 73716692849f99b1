// Proves migrations/ as semigrate's own build does, and writes OUT_DIR/migrations.rs.
fn main() {
    if semigrate::build::compile("migrations").is_err() {
        std::process::exit(1);
    }
}
