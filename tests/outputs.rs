//! The outputs people read, kept as insta snapshots so that every change to them shows
//! up as a reviewed diff: `status`, dry runs, and the build's diagnostics for three
//! defect classes. `cargo insta review` (or `INSTA_UPDATE=always cargo test`) updates them.

mod common;

use common::Sandbox;
use semigrate::__private::SemVer;
use semigrate::build::Config;
use std::path::Path;

/// Times and the sandbox's path change from run to run; nothing else may.
fn settled(s: &Sandbox) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", "[TIME]");
    settings.add_filter(
        &regex_escape(&s.dir.path().display().to_string()),
        "[SANDBOX]",
    );
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

#[test]
fn status_as_a_person_reads_it() {
    let s = Sandbox::new();
    s.ok(&["--no-backup", "upgrade", "--version", "1.0.1"]);
    settled(&s).bind(|| insta::assert_snapshot!(s.ok(&["status"]).stdout));
}

#[test]
fn dry_runs_show_the_sql_and_the_csv_ops_in_order() {
    let s = Sandbox::new();
    s.ok(&["--no-backup", "upgrade", "--version", "1.0.1"]);
    settled(&s).bind(|| {
        insta::assert_snapshot!(
            "dry_run_up",
            s.ok(&["upgrade", "--version", "1.1.0", "--dry-run"]).stdout
        );
    });
    s.ok(&["--no-backup", "upgrade"]);
    settled(&s).bind(|| {
        insta::assert_snapshot!(
            "dry_run_down",
            s.ok(&["downgrade", "--version", "1.0.1", "--dry-run"])
                .stdout
        );
    });
}

/// What the build reports for a fixture chain under tests/fixtures/: each error on
/// its `cargo::error` line, then as rustc would show it.
fn diagnostics(fixture: &str) -> String {
    let dir = Path::new("tests/fixtures").join(fixture);
    let package = SemVer::parse("2.0.0").unwrap();
    match semigrate::build::prove(&dir, &Config::default(), package, None) {
        Ok(_) => panic!("{fixture} passed"),
        Err(errors) => errors
            .iter()
            .map(|e| format!("{e}\n\n{}\n", e.render()))
            .collect(),
    }
}

#[test]
fn build_diagnostics_for_a_gap_an_unknown_key_a_syntax_error_and_a_down_that_does_not_undo() {
    insta::assert_snapshot!("gap", diagnostics("gap"));
    insta::assert_snapshot!("unknown_key", diagnostics("unknown_key"));
    insta::assert_snapshot!("syntax_error", diagnostics("syntax_error"));
    insta::assert_snapshot!("down_leaves_index", diagnostics("down_leaves_index"));
}
