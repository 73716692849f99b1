//! A new user's own chain crate: `init` writes it, `new` adds a spec, cargo builds it,
//! and its binary runs every command on its own chain, under its own name.

mod common;

use common::{Sandbox, root};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the crate at `dir` in the shared fixture target folder (one build at a time,
/// as `common::build` does); returns whether it built, cargo's output, and the binary.
fn cargo_build(dir: &Path, name: &str) -> (bool, String, PathBuf) {
    let target = root().join("target").join("fixture-builds");
    std::fs::create_dir_all(&target).unwrap();
    let lock = std::fs::File::create(target.join("semigrate-tests.lock")).unwrap();
    lock.lock().unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["build", "--color", "never"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("SEMIGRATE_MIGRATIONS_DIR")
        .output()
        .unwrap();
    let binary = dir.join(name);
    if out.status.success() {
        std::fs::copy(target.join("debug").join(name), &binary).unwrap();
    }
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        binary,
    )
}

fn run(binary: &Path, cwd: &Path, args: &[&str]) -> common::Run {
    common::command(binary, cwd)
        .args(args)
        .output()
        .unwrap()
        .into()
}

fn ok(binary: &Path, cwd: &Path, args: &[&str]) -> common::Run {
    let r = run(binary, cwd, args);
    assert_eq!(r.code, 0, "{args:?}:\n{}{}", r.stdout, r.stderr);
    r
}

fn current(binary: &Path, cwd: &Path) -> String {
    let status: serde_json::Value =
        serde_json::from_str(&ok(binary, cwd, &["--json", "status"]).stdout).unwrap();
    status["current"].as_str().unwrap().to_owned()
}

#[test]
fn an_inited_crate_builds_and_runs_its_own_chain() {
    let s = Sandbox::new();
    let dir = s.dir.path().join("shop-migrations");
    let dir_text = dir.to_str().unwrap();
    let checkout = root().to_str().unwrap();
    s.run_raw(&["init", dir_text, "--path", checkout]);
    for file in [
        "Cargo.toml",
        "build.rs",
        "src/main.rs",
        "migrations/v0_1_0__first.toml",
        ".gitignore",
        "README.md",
    ] {
        assert!(dir.join(file).is_file(), "init wrote no {file}");
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("name = \"shop-migrations\""),
        "{manifest}"
    );
    // A folder that is not empty is refused, and left as it was.
    let r = s.run_raw(&["init", dir_text, "--path", checkout]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is not empty"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("Cargo.toml")).unwrap(),
        manifest
    );
    // So is a --path that holds no semigrate, before anything is written.
    let elsewhere = s.dir.path().join("elsewhere");
    let r = s.run_raw(&["init", elsewhere.to_str().unwrap(), "--path", "/"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!elsewhere.exists());

    // The versions this checkout was tested with, so the shared target folder's
    // artifacts serve this build too.
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    // The first build: the first spec as init wrote it.
    let (built, output, binary) = cargo_build(&dir, "shop-migrations");
    assert!(built, "{output}");
    // A second spec, with the crate's own binary's `new`, filled in as a user would.
    ok(&binary, &dir, &["new", "0.2.0", "orders"]);
    let second = dir.join("migrations/v0_2_0__orders.toml");
    let text = std::fs::read_to_string(&second).unwrap();
    std::fs::write(&second, text.replace("example", "orders")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        manifest.replace("version = \"0.1.0\"", "version = \"0.2.0\""),
    )
    .unwrap();
    let (built, output, binary) = cargo_build(&dir, "shop-migrations");
    assert!(built, "{output}");

    // Its own name in the help, the completions and the man page; its own version.
    let help = ok(&binary, &dir, &["--help"]).stdout;
    assert!(help.contains("Usage: shop-migrations"), "{help}");
    assert!(!help.contains("Usage: semigrate"), "{help}");
    let upgrade_help = ok(&binary, &dir, &["upgrade", "--help"]).stdout;
    assert!(
        upgrade_help.contains("shop-migrations upgrade --version"),
        "{upgrade_help}"
    );
    assert!(
        ok(&binary, &dir, &["completions", "bash"])
            .stdout
            .contains("-o default shop-migrations\n")
    );
    assert!(
        ok(&binary, &dir, &["man"])
            .stdout
            .contains("shop\\-migrations")
    );
    assert_eq!(
        ok(&binary, &dir, &["--version"]).stdout.trim(),
        "shop-migrations 0.2.0"
    );
    // Its chain only: nothing of the example chain is in it.
    let bytes = std::fs::read(&binary).unwrap();
    assert!(
        !bytes.windows(9).any(|w| w == b"accidents"),
        "the binary holds a string of the example chain"
    );

    // The store its configuration names, up, status, all the way down, and up again.
    ok(&binary, &dir, &["upgrade"]);
    assert!(dir.join("var/shop-migrations.db").is_file());
    assert_eq!(current(&binary, &dir), "0.2.0");
    ok(&binary, &dir, &["downgrade", "--version", "0.0.0"]);
    assert_eq!(current(&binary, &dir), "0.0.0");
    ok(&binary, &dir, &["upgrade"]);
    // Only its own versions are taken.
    assert_eq!(
        run(&binary, &dir, &["upgrade", "--version", "2.0.0"]).code,
        2
    );

    // An applied spec edited afterwards: drift, reported and refused.
    let first = dir.join("migrations/v0_1_0__first.toml");
    let text = std::fs::read_to_string(&first).unwrap();
    std::fs::write(&first, text.replace("name TEXT NOT NULL", "name TEXT")).unwrap();
    let (built, output, binary) = cargo_build(&dir, "shop-migrations");
    assert!(built, "{output}");
    let status: serde_json::Value =
        serde_json::from_str(&ok(&binary, &dir, &["--json", "status"]).stdout).unwrap();
    assert_eq!(status["migrations"][0]["state"], "drifted");
    let r = run(&binary, &dir, &["upgrade"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("0.1.0"), "{}", r.stderr);

    // Build failures point at its own spec files: a gap, a duplicate, a malformed spec.
    std::fs::write(
        dir.join("migrations/v0_4_0__gap.toml"),
        "description = \"x\"\ndown = []\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("migrations/v0_2_0.toml"),
        "description = \"x\"\ndown = []\n",
    )
    .unwrap();
    std::fs::write(dir.join("migrations/v0_3_0.toml"), "description = \n").unwrap();
    let (built, output, _) = cargo_build(&dir, "shop-migrations");
    assert!(!built);
    for named in [
        "migrations/v0_4_0__gap.toml",
        "migrations/v0_2_0.toml",
        "migrations/v0_3_0.toml",
    ] {
        assert!(output.contains(named), "{named} not named:\n{output}");
    }
}
