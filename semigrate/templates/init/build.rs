//! Proves the chain in `migrations/` and compiles it into the binary: a gap, a
//! duplicate, SQL that does not run or a down that does not undo its up fails here.
fn main() {
    if semigrate::build::compile().is_err() {
        std::process::exit(1);
    }
}
