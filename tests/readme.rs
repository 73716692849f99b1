//! The README's Rust examples are compiled code: each one stands, line for line, in a
//! file that the build or the tests compile (the templates `init` writes and builds,
//! the library's doc tests), so that none of them can stop compiling unseen.

mod common;

use common::root;

/// The code lines of a text: doc-comment prefixes and indentation taken off, blank
/// lines, comment lines and a doc test's hidden lines left out.
fn code_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let l = l.trim_start();
            let l = ["//! ", "/// ", "//!", "///"]
                .iter()
                .find_map(|p| l.strip_prefix(p))
                .unwrap_or(l);
            l.trim().to_owned()
        })
        .filter(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with("# "))
        .collect()
}

#[test]
fn every_rust_example_of_the_readme_is_compiled() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut open: Option<String> = None;
    for line in readme.lines() {
        match (&mut open, line.trim_start()) {
            (None, "```rust") => open = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                open = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(blocks.len() >= 4, "{} blocks", blocks.len());
    let compiled: Vec<(&str, Vec<String>)> = [
        "semigrate/templates/init/build.rs",
        "semigrate/templates/init/main.rs",
        "semigrate/src/rust.rs",
        "semigrate/src/migrator.rs",
    ]
    .into_iter()
    .map(|f| {
        (
            f,
            code_lines(&std::fs::read_to_string(root().join(f)).unwrap()),
        )
    })
    .collect();
    for block in &blocks {
        let lines = code_lines(block);
        let found = compiled
            .iter()
            .any(|(_, file)| file.windows(lines.len()).any(|w| w == lines.as_slice()));
        assert!(
            found,
            "this README example is in no compiled file:\n{block}"
        );
    }
}
