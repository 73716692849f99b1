//! A new user's own chain crate: `init` writes it, `new` adds a spec, cargo builds it,
//! and its binary runs every command on its own chain, under its own name.

mod common;

use common::{Sandbox, root};
use std::path::{Path, PathBuf};

/// Builds the crate at `dir` in the shared fixture target folder (one build at a time,
/// as `common::build` does); returns whether it built, cargo's output, and the binary.
fn cargo_build(dir: &Path, name: &str) -> (bool, String, PathBuf) {
    cargo_build_with(dir, name, None)
}

/// `cargo_build`, with `SEMIGRATE_VERIFY_POSTGRES_URL` set to `postgres` when given.
fn cargo_build_with(dir: &Path, name: &str, postgres: Option<&str>) -> (bool, String, PathBuf) {
    let builds = common::FixtureBuilds::take();
    let target = &builds.target;
    let mut build = builds.cargo();
    build.args(["build", "--color", "never"]).current_dir(dir);
    if let Some(url) = postgres {
        build.env("SEMIGRATE_VERIFY_POSTGRES_URL", url);
    }
    let out = build.output().unwrap();
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

/// `init` a chain crate named `name` in the sandbox, on this checkout, with the
/// versions this checkout was tested with, so that the shared target folder's artifacts
/// serve its build too.
fn inited(s: &Sandbox, name: &str) -> PathBuf {
    let dir = s.dir.path().join(name);
    let r = s.run_raw(&[
        "init",
        dir.to_str().unwrap(),
        "--path",
        root().to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    dir
}

/// Sets the crate's version, and writes `spec` as the migration `file`.
fn write_spec(dir: &Path, version: &str, file: &str, spec: &str) {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let manifest = manifest
        .lines()
        .map(|l| match l.starts_with("version = ") {
            true => format!("version = \"{version}\""),
            false => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("migrations").join(file), spec).unwrap();
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
    // Without --path: semigrate is not on the registry yet, so no crate is written
    // that could not build.
    let unpublished = s.dir.path().join("unpublished");
    let r = s.run_raw(&["init", unpublished.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("not published on crates.io yet: give --path"),
        "{}",
        r.stderr
    );
    assert!(!unpublished.exists());
    // So is a --path that holds no semigrate, before anything is written.
    let elsewhere = s.dir.path().join("elsewhere");
    let r = s.run_raw(&["init", elsewhere.to_str().unwrap(), "--path", "/"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!elsewhere.exists());

    // The versions this checkout was tested with, so the shared target folder's
    // artifacts serve this build too.
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();

    // The first build: the first spec as init wrote it, but for a validation that
    // only SQLite's text has.
    let first = dir.join("migrations/v0_1_0__first.toml");
    let text = std::fs::read_to_string(&first).unwrap();
    let sqlite_only = text.replace(
        "sql = \"SELECT count(*) FROM example WHERE name = ''\"",
        "sqlite = \"SELECT count(*) FROM example WHERE name = ''\"",
    );
    assert_ne!(sqlite_only, text);
    std::fs::write(&first, sqlite_only).unwrap();
    let (built, output, binary) = cargo_build(&dir, "shop-migrations");
    assert!(built, "{output}");
    // A second spec, with the crate's own binary's `new`, built as it was written:
    // its placeholder table is named for its version, not the first spec's.
    ok(&binary, &dir, &["new", "0.2.0", "orders"]);
    let second = dir.join("migrations/v0_2_0__orders.toml");
    let text = std::fs::read_to_string(&second).unwrap();
    assert!(text.contains("CREATE TABLE example_0_2_0"), "{text}");
    std::fs::write(
        dir.join("Cargo.toml"),
        manifest.replace("version = \"0.1.0\"", "version = \"0.2.0\""),
    )
    .unwrap();
    // A server given to the build of a chain that names no postgres engine is not
    // ignored in silence.
    let server = "postgres://postgres@127.0.0.1:5432/postgres";
    let (built, output, binary) = cargo_build_with(&dir, "shop-migrations", Some(server));
    assert!(built, "{output}");
    let warned = output
        .lines()
        .filter(|l| l.contains("SEMIGRATE_VERIFY_POSTGRES_URL is set, but `engines`"))
        .count();
    assert_eq!(warned, 1, "{output}");
    // A binary without PostgreSQL text refuses a server before connecting (port 1
    // has no server: a connection would have failed otherwise).
    let r = run(
        &binary,
        &dir,
        &["--database", "postgres://u:secret@127.0.0.1:1/x", "status"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("has no PostgreSQL text (v0_1_0__first.toml: validation 1)")
            && r.stderr.contains("add \"postgres\" to `engines`"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("secret"), "{}", r.stderr);

    // Its own name in the help, the completions and the man page; its own version.
    let help = ok(&binary, &dir, &["--help"]).stdout;
    assert!(help.contains("Usage: shop-migrations"), "{help}");
    assert!(!help.contains("Usage: semigrate"), "{help}");
    // Examples with its own versions, which run as printed.
    let new_help = ok(&binary, &dir, &["new", "--help"]).stdout;
    assert!(
        new_help.contains("shop-migrations new 0.3.0 add_vehicles"),
        "{new_help}"
    );
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
        format!(
            "shop-migrations 0.2.0 (chain shop-migrations, semigrate {})",
            common::semigrate_version()
        )
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

/// The Rust steps of a chain crate: run in the migration's transaction, an `Err` or a
/// panic rolls it back, a schema change is refused, the function's body is in the
/// checksum but not its layout, and a misspelled path fails the build at the spec.
#[test]
fn rust_steps_run_in_the_transaction_and_are_checked_at_build_time() {
    let s = Sandbox::new();
    let name = "shop-steps";
    let dir = inited(&s, name);
    let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
    let main = main.replacen(
        "semigrate::include_chain!();",
        "mod steps;\n\nsemigrate::include_chain!();",
        1,
    );
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    let steps = r#"
use semigrate::rust::{Context, Database, Outcome};

fn exec(cx: &mut Context, sql: &str) -> Outcome {
    match &mut cx.database {
        Database::Sqlite(conn) => conn.execute_batch(sql)?,
        Database::Postgres(client) => client.batch_execute(sql)?,
    }
    Ok(())
}

pub fn fill(cx: &mut Context) -> Outcome {
    exec(cx, "INSERT INTO example (name) VALUES ('from rust')")
}

pub fn one_row(cx: &mut Context) -> Outcome {
    let Database::Sqlite(conn) = &cx.database else { return Ok(()) };
    let n: i64 = conn.query_row("SELECT count(*) FROM example", [], |r| r.get(0))?;
    if n == 1 { Ok(()) } else { Err(format!("{n} rows").into()) }
}

pub fn refuse(cx: &mut Context) -> Outcome {
    exec(cx, "INSERT INTO example (name) VALUES ('refused')")?;
    Err("no, thank you".into())
}

pub fn explode(cx: &mut Context) -> Outcome {
    exec(cx, "INSERT INTO example (name) VALUES ('exploded')")?;
    panic!("boom")
}

pub fn sneak_a_table(cx: &mut Context) -> Outcome {
    exec(cx, "CREATE TABLE sneaky (id INTEGER)")
}
"#;
    std::fs::write(dir.join("src/steps.rs"), steps).unwrap();
    write_spec(
        &dir,
        "0.2.0",
        "v0_2_0__fill.toml",
        "description = \"Fill\"\n[[up]]\nrust = \"steps::fill\"\n\
         [[down]]\nsql = \"DELETE FROM example WHERE name = 'from rust';\"\n\
         [[validate]]\nrust = \"steps::one_row\"\n",
    );
    let (built, output, binary) = cargo_build(&dir, name);
    assert!(built, "{output}");
    assert!(output.contains("up step 1 calls steps::fill, which the build cannot run"));
    let r = ok(&binary, &dir, &["upgrade", "--dry-run"]);
    assert!(r.stdout.contains("-- rust steps::fill"), "{}", r.stdout);
    ok(&binary, &dir, &["upgrade"]);
    let db = dir.join(format!("var/{name}.db"));
    let rows = || -> Vec<String> {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM example ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(rows(), ["from rust"]);
    ok(&binary, &dir, &["downgrade"]);
    assert_eq!(rows(), Vec::<String>::new());
    ok(&binary, &dir, &["upgrade"]);

    // A failing step or a panic rolls its migration back; so does a schema change.
    for (function, said) in [
        ("refuse", "steps::refuse: no, thank you"),
        ("explode", "steps::explode: panicked: boom"),
        ("sneak_a_table", "steps::sneak_a_table changed the schema"),
    ] {
        write_spec(
            &dir,
            "0.3.0",
            "v0_3_0__more.toml",
            &format!("description = \"More\"\ndown = []\n[[up]]\nrust = \"steps::{function}\"\n"),
        );
        let (built, output, binary) = cargo_build(&dir, name);
        assert!(built, "{output}");
        let r = run(&binary, &dir, &["--no-backup", "upgrade"]);
        assert_eq!(r.code, 1, "{function}: {}", r.stderr);
        assert!(r.stderr.contains(said), "{function}: {}", r.stderr);
        assert!(r.stderr.contains("rolled back"), "{function}: {}", r.stderr);
        assert_eq!(current(&binary, &dir), "0.2.0");
        assert_eq!(rows(), ["from rust"]);
        let conn = rusqlite::Connection::open(&db).unwrap();
        let sneaky: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'sneaky'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sneaky, 0, "{function}");
        // The attempt is on record.
        let log: serde_json::Value =
            serde_json::from_str(&ok(&binary, &dir, &["--json", "history"]).stdout).unwrap();
        let last = log.as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["version"].as_str(), last["outcome"].as_str()),
            (Some("0.3.0"), Some("failed"))
        );
    }
    std::fs::remove_file(dir.join("migrations/v0_3_0__more.toml")).unwrap();

    // The body is in the checksum: an edit to an applied step is drift.
    let edited = steps.replace(
        "exec(cx, \"INSERT INTO example (name) VALUES ('from rust')\")",
        "exec(cx, \"INSERT INTO example (name) VALUES ('from rust')\").map(|()| ())",
    );
    std::fs::write(dir.join("src/steps.rs"), &edited).unwrap();
    let (built, output, binary) = cargo_build(&dir, name);
    assert!(built, "{output}");
    let status = |binary: &Path| -> serde_json::Value {
        serde_json::from_str(&ok(binary, &dir, &["--json", "status"]).stdout).unwrap()
    };
    assert_eq!(status(&binary)["migrations"][1]["state"], "drifted");
    assert_eq!(run(&binary, &dir, &["upgrade"]).code, 3);
    // Its layout and comments are not.
    let relaid = steps.replace(
        "pub fn fill(cx: &mut Context) -> Outcome {\n    exec(cx, \"INSERT INTO example (name) VALUES ('from rust')\")\n}",
        "/// Fills.\npub fn fill(\n    cx: &mut Context,\n) -> Outcome {\n    // one row\n    exec(\n        cx,\n        \"INSERT INTO example (name) VALUES ('from rust')\",\n    )\n}",
    );
    assert_ne!(relaid, steps);
    std::fs::write(dir.join("src/steps.rs"), &relaid).unwrap();
    let (built, output, binary) = cargo_build(&dir, name);
    assert!(built, "{output}");
    assert_eq!(status(&binary)["migrations"][1]["state"], "applied");

    // A misspelled path fails the build at the spec's line and column, before rustc.
    write_spec(
        &dir,
        "0.3.0",
        "v0_3_0__typo.toml",
        "description = \"Typo\"\ndown = []\n[[up]]\nrust = \"steps::fil\"\n",
    );
    let (built, output, _) = cargo_build(&dir, name);
    assert!(!built);
    assert!(
        output.contains(
            "migrations/v0_3_0__typo.toml:4:8: `steps::fil`: src/steps.rs has no `fn fil`"
        ),
        "{output}"
    );
    assert!(
        !output.contains("error[E0425]"),
        "rustc met the call: {output}"
    );
}

/// Writes `files` (path, text) under `dir`.
fn folder(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir.to_path_buf()
}

/// `import --empty-downs`: goose's downs that hold nothing (a Down section of comments,
/// or none at all) are irreversible by default, and with `nothing` are downs that do
/// nothing, as goose runs them, whose leavings the proof acknowledges.
#[test]
fn empty_downs_are_irreversible_or_do_nothing_as_told() {
    let s = Sandbox::new();
    let goose = folder(
        &s.dir.path().join("goose"),
        &[
            (
                "00001_users.sql",
                "-- +goose Up\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n-- +goose Down\nDROP TABLE users;\n",
            ),
            (
                "00002_bio.sql",
                "-- +goose Up\nALTER TABLE users ADD COLUMN bio TEXT;\n-- +goose Down\n-- cannot drop it here\n",
            ),
            (
                "00003_seen.sql",
                "-- +goose Up\nCREATE INDEX seen ON users (id);\n",
            ),
        ],
    );
    let import = |into: &str, extra: &[&str]| {
        let dir = s.dir.path().join(into);
        let mut args = vec![
            "import",
            "--from",
            "goose",
            goose.to_str().unwrap(),
            "--dir",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let r = s.run_raw(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let spec = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap();
        (
            r.stderr,
            spec("v0_2_0__bio.toml"),
            spec("v0_3_0__seen.toml"),
        )
    };
    let (said, bio, seen) = import("irreversible", &[]);
    assert!(said.contains("imported as irreversible"), "{said}");
    assert!(bio.contains("irreversible = true"), "{bio}");
    assert!(seen.contains("irreversible = true"), "{seen}");

    let (said, bio, seen) = import("nothing", &["--empty-downs", "nothing", "--acknowledge"]);
    assert!(
        said.contains("a down that does nothing, as goose runs it"),
        "{said}"
    );
    for spec in [&bio, &seen] {
        assert!(!spec.contains("irreversible"), "{spec}");
        let table: toml::Table = toml::from_str(spec).unwrap();
        assert_eq!(table["down"].as_array().map(Vec::len), Some(0), "{spec}");
    }
    assert!(bio.contains("\"column users.bio\""), "{bio}");
    assert!(seen.contains("\"index seen\""), "{seen}");

    let r = s.run_raw(&[
        "import",
        "--from",
        "goose",
        goose.to_str().unwrap(),
        "--empty-downs",
        "none",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("irreversible, nothing"), "{}", r.stderr);
}

/// On PostgreSQL, the proof goes on past a down that runs outside a transaction and
/// does not restore: from a copy of the scratch database kept before it ran. What the
/// downs above it leave is found in the same proof.
#[test]
fn the_postgresql_proof_goes_on_past_a_down_outside_a_transaction() {
    let s = Sandbox::new();
    let sqlx = folder(
        &s.dir.path().join("sqlx"),
        &[
            (
                "20240101000000_users.up.sql",
                "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);\n",
            ),
            ("20240101000000_users.down.sql", "DROP TABLE users;\n"),
            // Run again over its down, this up fails: the index is there already.
            (
                "20240102000000_by_name.up.sql",
                "-- no-transaction\nCREATE INDEX CONCURRENTLY users_by_name ON users (name);\n",
            ),
            // A misspelt name: the index stays.
            (
                "20240102000000_by_name.down.sql",
                "DROP INDEX CONCURRENTLY IF EXISTS users_by_nam;\n",
            ),
            (
                "20240103000000_bio.up.sql",
                "ALTER TABLE users ADD COLUMN bio TEXT;\n",
            ),
            ("20240103000000_bio.down.sql", "-- it stays too\n"),
        ],
    );
    let dir = s.dir.path().join("migrations");
    let r = s.run_raw(&[
        "import",
        "--from",
        "sqlx",
        sqlx.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
        "--empty-downs",
        "nothing",
        "--acknowledge",
        "--proof-url",
        "postgres://postgres@127.0.0.1:5432/postgres",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("not acknowledged"), "{}", r.stderr);
    assert!(
        r.stderr.contains("2 downs that leave part of the up"),
        "{}",
        r.stderr
    );
    let spec = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap();
    let by_name = spec("v0_2_0__by_name.toml");
    assert!(by_name.contains("\"index users_by_name\""), "{by_name}");
    let bio = spec("v0_3_0__bio.toml");
    assert!(bio.contains("\"column users.bio\""), "{bio}");
}

/// A chain started from golang-migrate's files, then extended with a migration from
/// each other tool, each with its marker: imported, acknowledged, built with both
/// replays, upgraded and downgraded to 0.0.0 on SQLite and PostgreSQL; then a store
/// golang-migrate stamped is adopted, and dirty or holed stores are refused.
#[test]
fn chains_of_other_tools_import_build_run_and_adopt_their_stores() {
    let s = Sandbox::new();
    let from = s.dir.path().join("from");
    let golang = folder(
        &from.join("golang"),
        &[
            (
                "1_users.up.sql",
                "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
            ),
            ("1_users.down.sql", "DROP TABLE users;\n"),
            // A down that forgets its column: the flaw to acknowledge.
            ("2_bio.up.sql", "ALTER TABLE users ADD COLUMN bio TEXT;\n"),
            ("2_bio.down.sql", "UPDATE users SET name = name;\n"),
            (
                "10_posts.up.sql",
                "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT);\n",
            ),
            ("10_posts.down.sql", "DROP TABLE posts;\n"),
        ],
    );
    let others: [(&str, PathBuf); 6] = [
        (
            "diesel",
            folder(
                &from.join("diesel"),
                &[
                    (
                        "2020-01-01-000000_tags/up.sql",
                        "CREATE TABLE tags (id INTEGER, label TEXT);\n",
                    ),
                    ("2020-01-01-000000_tags/down.sql", "DROP TABLE tags;\n"),
                    (
                        "2020-01-01-000000_tags/metadata.toml",
                        "run_in_transaction = false\n",
                    ),
                ],
            ),
        ),
        (
            "sqlx",
            folder(
                &from.join("sqlx"),
                &[
                    (
                        "20240101000000_likes.up.sql",
                        "-- no-transaction\nCREATE TABLE likes (id INTEGER);\n",
                    ),
                    ("20240101000000_likes.down.sql", "DROP TABLE likes;\n"),
                ],
            ),
        ),
        (
            "goose",
            folder(
                &from.join("goose"),
                &[(
                    "00001_follows.sql",
                    "-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE follows (id INTEGER);\n-- +goose StatementEnd\n\n-- +goose Down\nDROP TABLE follows;\n",
                )],
            ),
        ),
        (
            "dbmate",
            folder(
                &from.join("dbmate"),
                &[(
                    "20240301000000_flags.sql",
                    "-- migrate:up transaction:false\nCREATE TABLE flags (id INTEGER);\n\n-- migrate:down\nDROP TABLE flags;\n",
                )],
            ),
        ),
        (
            "flyway",
            folder(
                &from.join("flyway"),
                &[
                    ("V1__stars.sql", "CREATE TABLE stars (id INTEGER);\n"),
                    ("U1__stars.sql", "DROP TABLE stars;\n"),
                ],
            ),
        ),
        (
            "sql-migrate",
            folder(
                &from.join("sql-migrate"),
                &[(
                    "1_notes.sql",
                    "-- +migrate Up notransaction\nCREATE TABLE notes (id INTEGER);\n-- +migrate Down\nDROP TABLE notes;\n",
                )],
            ),
        ),
    ];

    let dir = s.dir.path().join("imported");
    let r = s.run_raw(&[
        "init",
        dir.to_str().unwrap(),
        "--path",
        root().to_str().unwrap(),
        "--import",
        &format!("golang-migrate:{}", golang.display()),
        "--acknowledge",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("imported 3 golang-migrate migrations as 0.1.0 ... 0.3.0"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("1 difference, acknowledged"),
        "{}",
        r.stderr
    );
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let bio = std::fs::read_to_string(dir.join("migrations/v0_2_0__bio.toml")).unwrap();
    assert!(bio.contains("origin = \"golang-migrate:2_bio\""), "{bio}");
    assert!(
        bio.contains("down_leaves = [\n    \"column users.bio\",\n]"),
        "{bio}"
    );
    assert!(bio.contains("file = \"sql/2_bio.up.sql\""), "{bio}");
    // The team's own SQL, byte for byte.
    assert_eq!(
        std::fs::read(dir.join("migrations/sql/10_posts.up.sql")).unwrap(),
        std::fs::read(golang.join("10_posts.up.sql")).unwrap()
    );
    for (i, (tool, source)) in others.iter().enumerate() {
        let first = format!("0.{}.0", i + 4);
        let r = s.run_raw(&[
            "import",
            "--from",
            tool,
            source.to_str().unwrap(),
            "--dir",
            dir.join("migrations").to_str().unwrap(),
            "--first",
            &first,
            "--acknowledge",
        ]);
        assert_eq!(r.code, 0, "{tool}: {}", r.stderr);
    }
    // Each tool's transaction marker is carried over.
    for file in [
        "v0_4_0__tags",
        "v0_5_0__likes",
        "v0_7_0__flags",
        "v0_9_0__notes",
    ] {
        let text = std::fs::read_to_string(dir.join(format!("migrations/{file}.toml"))).unwrap();
        assert!(text.contains("transaction = false"), "{file}: {text}");
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("version = \"0.3.0\""),
        "init raised the version: {manifest}"
    );
    std::fs::write(
        dir.join("Cargo.toml"),
        manifest
            .replace("version = \"0.3.0\"", "version = \"0.9.0\"")
            .replace(
                "engines = [\"sqlite\"]\n",
                "engines = [\"sqlite\", \"postgres\"]\n",
            ),
    )
    .unwrap();
    let server = "postgres://postgres@127.0.0.1:5432/postgres";
    let (built, log, binary) = cargo_build_with(&dir, "imported", Some(server));
    assert!(built, "{log}");

    let list = ok(&binary, &dir, &["list"]).stdout;
    assert!(list.contains("from flyway:V1__stars"), "{list}");
    assert!(list.contains("its down leaves: column users.bio"), "{list}");
    ok(&binary, &dir, &["upgrade"]);
    assert_eq!(current(&binary, &dir), "0.9.0");
    let status = ok(&binary, &dir, &["status"]).stdout;
    assert!(status.contains("debt      1 migration"), "{status}");
    let down = ok(&binary, &dir, &["downgrade", "--version", "0.0.0"]);
    assert!(
        down.stderr
            .contains("its down is known to leave: column users.bio"),
        "{}",
        down.stderr
    );
    assert_eq!(current(&binary, &dir), "0.0.0");

    // The same chain on PostgreSQL, in a schema of its own.
    let mut client = postgres::Client::connect(server, postgres::NoTls).unwrap();
    let schema = format!("imported_{}", std::process::id());
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap();
    let on_pg = |args: &[&str]| {
        let mut all = vec!["--database", server, "--schema", schema.as_str()];
        all.extend_from_slice(args);
        ok(&binary, &dir, &all)
    };
    on_pg(&["upgrade"]);
    assert!(on_pg(&["status"]).stdout.contains("version   0.9.0"));
    on_pg(&["downgrade", "--version", "0.0.0"]);
    assert!(on_pg(&["status"]).stdout.contains("version   0.0.0"));

    // A PostgreSQL schema golang-migrate migrated, its table as golang-migrate writes
    // it there: refused while dirty, then adopted at 0.3.0 and upgraded by semigrate.
    let mut ups = String::new();
    for up in ["1_users.up.sql", "2_bio.up.sql", "10_posts.up.sql"] {
        ups.push_str(&std::fs::read_to_string(golang.join(up)).unwrap());
    }
    client
        .batch_execute(&format!(
            "DROP SCHEMA {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path = {schema}; \
             {ups} CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, \
             dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (10, true);"
        ))
        .unwrap();
    let mut all = vec!["--database", server, "--schema", schema.as_str()];
    all.extend_from_slice(&["adopt", "--from", "golang-migrate"]);
    let r = run(&binary, &dir, &all);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("records 10 as failed or dirty"),
        "{}",
        r.stderr
    );
    client
        .batch_execute(&format!(
            "UPDATE {schema}.schema_migrations SET dirty = false"
        ))
        .unwrap();
    let adopted = on_pg(&["adopt", "--from", "golang-migrate"]);
    assert!(
        adopted
            .stderr
            .contains("is adopted from golang-migrate at 0.3.0"),
        "{}",
        adopted.stderr
    );
    let status = on_pg(&["status"]).stdout;
    assert!(
        status.contains("version   0.3.0") && status.contains("as compiled for 0.3.0"),
        "{status}"
    );
    on_pg(&["upgrade"]);
    assert!(on_pg(&["status"]).stdout.contains("version   0.9.0"));
    let kept: i64 = client
        .query_one(
            &format!("SELECT version FROM {schema}.schema_migrations"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(kept, 10, "golang-migrate's table is left as it was");
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();

    // A store golang-migrate migrated: its ups applied, its table written as it writes
    // it. Adopted at 0.3.0, then upgraded by semigrate.
    let stamped = |dirty: bool| {
        let path = s.dir.path().join(format!("stamped-{dirty}.db"));
        let conn = rusqlite::Connection::open(&path).unwrap();
        for up in ["1_users.up.sql", "2_bio.up.sql", "10_posts.up.sql"] {
            conn.execute_batch(&std::fs::read_to_string(golang.join(up)).unwrap())
                .unwrap();
        }
        conn.execute_batch(&format!(
            "CREATE TABLE schema_migrations (version uint64, dirty bool); \
             INSERT INTO schema_migrations VALUES (10, {});",
            dirty as i32
        ))
        .unwrap();
        path
    };
    let db = stamped(false);
    let db = db.to_str().unwrap();
    let dry = ok(
        &binary,
        &dir,
        &[
            "--database",
            db,
            "adopt",
            "--from",
            "golang-migrate",
            "--dry-run",
        ],
    );
    assert!(
        dry.stdout.contains("0.3.0      golang-migrate 10"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("would be recorded at 0.3.0"),
        "{}",
        dry.stdout
    );
    assert!(
        !Path::new(&format!("{db}.lock")).exists(),
        "a dry run leaves no lock file beside the store"
    );
    ok(
        &binary,
        &dir,
        &["--database", db, "adopt", "--from", "golang-migrate"],
    );
    let status = ok(&binary, &dir, &["--database", db, "status"]).stdout;
    assert!(
        status.contains("version   0.3.0") && status.contains("as compiled for 0.3.0"),
        "{status}"
    );
    ok(&binary, &dir, &["--database", db, "upgrade"]);
    assert_eq!(current_of(&binary, &dir, db), "0.9.0");
    // golang-migrate's table is left as it was.
    let conn = rusqlite::Connection::open(db).unwrap();
    let kept: i64 = conn
        .query_row("SELECT version FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 10);

    // A dirty store, a store of another tool's table, and a store with a hole.
    let dirty = stamped(true);
    let r = run(
        &binary,
        &dir,
        &[
            "--database",
            dirty.to_str().unwrap(),
            "adopt",
            "--from",
            "golang-migrate",
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("records 10 as failed or dirty"),
        "{}",
        r.stderr
    );
    let r = run(
        &binary,
        &dir,
        &[
            "--database",
            dirty.to_str().unwrap(),
            "adopt",
            "--from",
            "goose",
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("no goose_db_version table") && r.stderr.contains("baseline"),
        "{}",
        r.stderr
    );
    let holed = s.dir.path().join("holed.db");
    let conn = rusqlite::Connection::open(&holed).unwrap();
    conn.execute_batch(
        "CREATE TABLE gorp_migrations (id TEXT PRIMARY KEY, applied_at TEXT); \
         INSERT INTO gorp_migrations VALUES ('2_other.sql', 'now');",
    )
    .unwrap();
    let r = run(
        &binary,
        &dir,
        &[
            "--database",
            holed.to_str().unwrap(),
            "adopt",
            "--from",
            "sql-migrate",
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("records 2_other.sql, which no migration of this chain comes from"),
        "{}",
        r.stderr
    );
    // Nothing was recorded in any refused store.
    for refused in [&dirty, &holed] {
        let conn = rusqlite::Connection::open(refused).unwrap();
        let rows: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'semigrate_migrations'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let recorded: i64 = match rows {
            0 => 0,
            _ => conn
                .query_row("SELECT count(*) FROM semigrate_migrations", [], |r| {
                    r.get(0)
                })
                .unwrap(),
        };
        assert_eq!(recorded, 0);
    }
}

fn current_of(binary: &Path, cwd: &Path, db: &str) -> String {
    let status: serde_json::Value =
        serde_json::from_str(&ok(binary, cwd, &["--database", db, "--json", "status"]).stdout)
            .unwrap();
    status["current"].as_str().unwrap().to_owned()
}
