//! The binary built from the example chain, run as an operator would, on real files.

mod common;

use common::{Sandbox, columns, history, user_schema};

#[test]
fn upgrade_reaches_the_latest_and_downgrade_to_zero_empties_the_store() {
    let s = Sandbox::new();
    let r = s.ok(&["upgrade"]);
    assert!(
        r.stderr.contains("0.0.0 -> 2.2.0, 8 migrations"),
        "{}",
        r.stderr
    );
    let status = s.status();
    assert_eq!(status["current"], "2.2.0");
    assert_eq!(status["pending"], 0);
    let states: Vec<&str> = status["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["applied"; 8]);
    assert_eq!(
        history(&s.conn()),
        [
            "0.8.0", "0.9.0", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "2.1.0", "2.2.0"
        ]
    );
    let conn = s.conn();
    let count: i64 = conn
        .query_row("SELECT count(*) FROM usagers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 9, "the 2.0.0 rebuild keeps every usager");
    assert!(columns(&conn, "accidents").contains(&("lat".into(), "REAL".into())));

    // The state file beside the store holds what `status --json` prints.
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.db().with_file_name("migration_state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state, status);

    s.ok(&["downgrade", "--version", "0.0.0"]);
    assert_eq!(user_schema(&s.db()), vec![]);
    assert_eq!(history(&s.conn()), Vec::<String>::new());
    assert_eq!(s.current(), "0.0.0");
}

#[test]
fn targets_work_in_both_directions() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.0"]);
    assert_eq!(s.current(), "1.0.0");
    assert!(user_schema(&s.db()).contains(&("index".into(), "ix_accidents_dep_com".into())));
    s.ok(&["upgrade", "--version", "1.1.0"]);
    assert_eq!(s.current(), "1.1.0");
    assert!(
        columns(&s.conn(), "accidents")
            .iter()
            .any(|(c, _)| c == "risk_score")
    );

    s.ok(&["downgrade"]);
    assert_eq!(s.current(), "1.0.1", "no version means one step");
    assert!(
        !columns(&s.conn(), "accidents")
            .iter()
            .any(|(c, _)| c == "risk_score")
    );

    s.ok(&["downgrade", "--version", "0.9.0"]);
    assert_eq!(s.current(), "0.9.0");
    assert!(!user_schema(&s.db()).iter().any(|(kind, _)| kind == "index"));
    assert_eq!(history(&s.conn()), ["0.8.0", "0.9.0"]);
}

#[test]
fn a_run_with_nothing_to_do_changes_nothing() {
    let s = Sandbox::new();
    s.ok(&["upgrade"]);
    let before = s.bytes();
    let r = s.ok(&["upgrade"]);
    assert!(
        r.stderr.contains("already at 2.2.0, nothing to do"),
        "{}",
        r.stderr
    );
    assert_eq!(s.bytes(), before);
    s.ok(&["upgrade", "--version", "2.2.0"]);
    assert_eq!(s.bytes(), before);
}

#[test]
fn an_unknown_version_exits_2_names_the_nearest_and_creates_nothing() {
    let s = Sandbox::new();
    let r = s.run(&["upgrade", "--version", "1.0.5"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no migration 1.0.5"), "{}", r.stderr);
    assert!(r.stderr.contains("1.0.1, 1.1.0"), "{}", r.stderr);
    assert!(!s.db().exists());
    assert_eq!(s.run(&["downgrade", "--version", "3.0.0"]).code, 2);
    assert_eq!(s.run(&["upgrade", "--version", "1.0"]).code, 2);
    assert_eq!(s.run(&["upgrade", "--version", "1.1.0-rc.1"]).code, 2);
    assert_eq!(s.run(&["upgrade", "--bogus"]).code, 2);
    assert!(!s.db().exists());
}

#[test]
fn a_target_in_the_wrong_direction_is_a_usage_error() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.1.0"]);
    let before = s.bytes();
    let r = s.run(&["upgrade", "--version", "1.0.0"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("downgrade --version 1.0.0"),
        "{}",
        r.stderr
    );
    let r = s.run(&["downgrade", "--version", "2.0.0"]);
    assert_eq!(r.code, 2);
    assert_eq!(s.bytes(), before);
}

#[test]
fn dry_runs_print_the_sql_in_order_and_change_nothing() {
    let s = Sandbox::new();
    let r = s.ok(&["upgrade", "--dry-run"]);
    assert!(
        !s.db().exists(),
        "a dry run on a missing store creates nothing"
    );
    let create = r.stdout.find("CREATE TABLE accidents (").unwrap();
    let usagers = r.stdout.find("CREATE TABLE usagers (").unwrap();
    let add = r
        .stdout
        .find("ALTER TABLE accidents ADD COLUMN risk_score REAL;")
        .unwrap();
    let rebuild = r.stdout.find("CREATE TABLE accidents_new (").unwrap();
    assert!(create < usagers && usagers < add && add < rebuild);
    assert!(
        r.stdout.contains("-- 1.0.1 up: Gather planner statistics"),
        "{}",
        r.stdout
    );

    s.ok(&["upgrade", "--version", "1.1.0"]);
    let before = s.bytes();
    let r = s.ok(&["downgrade", "--version", "1.0.0", "--dry-run"]);
    assert!(
        r.stdout
            .contains("ALTER TABLE accidents DROP COLUMN risk_score;"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("validation 1 of 1.0.0"), "{}", r.stdout);
    let r = s.ok(&["upgrade", "--dry-run"]);
    assert!(r.stdout.contains("CREATE TABLE accidents_new ("));
    assert!(
        !r.stdout.contains("CREATE TABLE usagers ("),
        "applied migrations are not shown"
    );
    assert_eq!(s.bytes(), before);
    assert_eq!(s.current(), "1.1.0");
}

#[test]
fn a_failing_validation_rolls_the_migration_back() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "0.8.0"]);
    // Accident 1's worst injury no longer matches the people 0.9.0 records for it.
    s.conn()
        .execute(
            "UPDATE accidents SET grav = 3 WHERE Num_Acc = '202100000001'",
            [],
        )
        .unwrap();
    let schema = user_schema(&s.db());
    let r = s.run(&["upgrade"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("validation 2 of 0.9.0"), "{}", r.stderr);
    assert!(r.stderr.contains("rolled back"), "{}", r.stderr);
    assert_eq!(
        r.stderr.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "one error line:\n{}",
        r.stderr
    );
    assert!(
        r.stderr
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("error: ")
    );
    assert_eq!(user_schema(&s.db()), schema, "usagers was not kept");
    assert_eq!(history(&s.conn()), ["0.8.0"]);
    let (outcome, error): (String, String) = s
        .conn()
        .query_row(
            "SELECT outcome, error FROM semigrate_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(outcome, "failed");
    assert!(error.contains("validation 2 of 0.9.0"), "{error}");
    assert_eq!(s.status()["current"], "0.8.0");
}

#[test]
fn a_failing_validation_of_the_landing_version_rolls_a_downgrade_back() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.1"]);
    s.conn()
        .execute_batch("DROP INDEX ix_usagers_num_acc;")
        .unwrap();
    // Past the schema check, which sees the index gone, to the validation.
    let r = s.run(&["downgrade", "--allow-schema-drift"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("validation 1 of 1.0.0"), "{}", r.stderr);
    assert!(r.stderr.contains("expected 2, got 1"), "{}", r.stderr);
    assert_eq!(s.current(), "1.0.1");
}

#[test]
fn a_foreign_key_off_rebuild_that_breaks_a_key_is_rolled_back() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.1.0"]);
    // An orphan written behind semigrate's back, with enforcement off.
    common::plant_orphan_usager(&s);
    let r = s.run(&["upgrade"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("migration 2.0.0 failed at the foreign key check"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("usagers row 10 references a missing row of accidents"),
        "{}",
        r.stderr
    );
    assert_eq!(s.current(), "1.1.0");
    assert!(columns(&s.conn(), "accidents").contains(&("lat".into(), "TEXT".into())));

    // With the orphan gone the rebuild commits, and no usager is lost to a cascade.
    s.conn()
        .execute_batch("DELETE FROM usagers WHERE id = 10;")
        .unwrap();
    s.ok(&["upgrade"]);
    let n: i64 = s
        .conn()
        .query_row("SELECT count(*) FROM usagers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 9);
}

#[test]
fn list_shows_the_compiled_chain() {
    let s = Sandbox::new();
    let r = s.ok(&["list"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 8, "{}", r.stdout);
    assert!(
        lines[3].starts_with("1.0.1") && lines[3].ends_with("[no transaction]"),
        "{}",
        lines[3]
    );
    assert!(lines[5].ends_with("[foreign keys off]"), "{}", lines[5]);
    let json: serde_json::Value = serde_json::from_str(&s.ok(&["--json", "list"]).stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 8);
    assert_eq!(json[4]["version"], "1.1.0");
    assert_eq!(json[4]["checksum"].as_str().unwrap().len(), 64);
    assert!(!s.db().exists());
}

/// `--json` prints one document on one line, whichever command prints it.
#[test]
fn json_output_is_one_line() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.1"]);
    for args in [
        &["--json", "status"][..],
        &["--json", "list"],
        &["--json", "history"],
        &["--json", "upgrade", "--dry-run"],
    ] {
        let out = s.ok(args).stdout;
        assert_eq!(out.lines().count(), 1, "{args:?}: {out}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap();
    }
}

#[test]
fn status_prints_an_aligned_table() {
    let s = Sandbox::new();
    let r = s.ok(&["status"]);
    assert!(
        r.stdout
            .contains("version   0.0.0 (8 pending, latest 2.2.0)"),
        "{}",
        r.stdout
    );
    assert!(!s.db().exists(), "status does not create the store");
    s.ok(&["upgrade", "--version", "1.0.0"]);
    let r = s.ok(&["status"]);
    let rows: Vec<&str> = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("VERSION"))
        .collect();
    assert_eq!(rows.len(), 9);
    assert!(rows[3].starts_with("1.0.0     applied  20"), "{}", rows[3]);
    assert!(rows[4].starts_with("1.0.1     pending  -"), "{}", rows[4]);
    let state_col = rows[0].find("STATE").unwrap();
    assert!(
        rows.iter()
            .skip(1)
            .all(|r| r[state_col..].starts_with(['a', 'p']))
    );
}

#[test]
fn verify_runs_the_current_validations_and_changes_nothing() {
    let s = Sandbox::new();
    let r = s.run(&["verify"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("no store at") && r.stderr.contains("nothing to verify"),
        "{}",
        r.stderr
    );
    assert!(!s.db().exists());
    s.ok(&["upgrade", "--version", "2.1.0"]);
    assert!(
        s.ok(&["verify"])
            .stdout
            .contains("the 2 validations of 2.1.0 pass")
    );
    // The Rust check of 2.1.0 runs too: an accident without a score fails it.
    s.conn()
        .execute("UPDATE accidents SET risk_score = NULL WHERE rowid = 1", [])
        .unwrap();
    let r = s.run(&["verify"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("steps::every_accident_is_scored: 1 accidents have no risk_score"),
        "{}",
        r.stderr
    );
    s.ok(&["downgrade"]);
    assert!(
        s.ok(&["verify"])
            .stdout
            .contains("the 2 validations of 2.0.0 pass")
    );
    common::plant_orphan_usager(&s);
    let before = s.bytes();
    let r = s.run(&["verify"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("validation 2 of 2.0.0 does not hold"),
        "{}",
        r.stderr
    );
    assert_eq!(s.bytes(), before);
}

#[test]
fn unreadable_stores_exit_2_and_are_left_alone() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.db()).unwrap();
    let r = s.run(&["upgrade"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("is a folder, not a SQLite database"),
        "{}",
        r.stderr
    );
    std::fs::remove_dir(s.db()).unwrap();

    std::fs::write(s.db(), b"id,name\n1,not a database\n").unwrap();
    for args in [&["upgrade"][..], &["status"], &["downgrade"], &["verify"]] {
        let r = s.run(args);
        assert_eq!(r.code, 2, "{args:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("is not a SQLite database"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(s.bytes(), b"id,name\n1,not a database\n");
}

#[test]
fn the_store_folder_is_created_and_the_environment_names_the_store() {
    let s = Sandbox::new();
    let deep = s.dir.path().join("a/b/c/deep.db");
    let r = s
        .command()
        .env("SEMIGRATE_DATABASE", &deep)
        .args(["upgrade", "--version", "0.8.0"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(deep.exists());
    assert!(deep.with_file_name("migration_state.json").exists());
}

#[test]
fn the_default_store_is_the_compiled_in_path() {
    let s = Sandbox::new();
    s.run_raw(&["upgrade", "--version", "0.8.0"]);
    assert!(s.dir.path().join("var/semigrate.db").exists());
}

#[test]
fn a_drifted_spec_is_reported_and_refused() {
    let s = Sandbox::new();
    s.ok(&["upgrade", "--version", "1.0.0"]);
    s.conn()
        .execute(
            "UPDATE semigrate_migrations SET checksum = 'x' WHERE version = '0.9.0'",
            [],
        )
        .unwrap();
    let status = s.status();
    assert_eq!(status["migrations"][1]["state"], "drifted");
    common::assert_refused_for_drift(&s, "0.9.0");
}

#[test]
fn a_store_ahead_of_the_binary_is_refused_up_and_reverted_with_its_stored_steps() {
    use semigrate::__private::{Revert, SqlText, Step};
    let s = Sandbox::new();
    s.ok(&["upgrade"]);
    // What a newer binary's 2.3.0 left behind: its table and its history row.
    let revert = Revert {
        steps: vec![Step::Sql(SqlText::portable("DROP TABLE vehicules;"))],
        transaction: true,
        foreign_keys: true,
        irreversible: false,
    };
    s.conn()
        .execute_batch("CREATE TABLE vehicules (id INTEGER PRIMARY KEY);")
        .unwrap();
    s.conn()
        .execute(
            "INSERT INTO semigrate_migrations VALUES ('2.3.0', 'Add vehicules', 'abc', '2026-01-01', 1, ?1)",
            [serde_json::to_string(&revert).unwrap()],
        )
        .unwrap();
    assert_eq!(s.status()["migrations"][8]["state"], "ahead");
    let r = s.run(&["upgrade"]);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("2.3.0"), "{}", r.stderr);

    s.ok(&["downgrade", "--version", "2.2.0"]);
    assert_eq!(s.current(), "2.2.0");
    assert!(!user_schema(&s.db()).iter().any(|(_, n)| n == "vehicules"));
}

/// A newer binary's version whose down runs Rust code: this binary has the path of the
/// function in the history, not the function, so it refuses to take the store down.
#[test]
fn a_stored_rust_down_this_binary_lacks_is_refused() {
    use semigrate::__private::{Function, Revert, Step};
    let s = Sandbox::new();
    s.ok(&["upgrade"]);
    let revert = Revert {
        steps: vec![Step::Rust(Function {
            path: "steps::forget_vehicles".into(),
            call: None,
        })],
        transaction: true,
        foreign_keys: true,
        irreversible: false,
    };
    s.conn()
        .execute(
            "INSERT INTO semigrate_migrations VALUES ('2.3.0', 'Vehicles', 'abc', '2026-01-01', 1, ?1)",
            [serde_json::to_string(&revert).unwrap()],
        )
        .unwrap();
    let before = s.bytes();
    let r = s.run(&["downgrade", "--version", "2.2.0"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the down of 2.3.0 runs Rust code (steps::forget_vehicles)"),
        "{}",
        r.stderr
    );
    assert_eq!(s.bytes(), before);
}

#[test]
fn a_broken_pipe_is_not_an_error() {
    use std::process::Stdio;
    let s = Sandbox::new();
    let mut child = s
        .command()
        .args(["upgrade", "--dry-run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn verbose_prints_each_statement_and_quiet_prints_nothing() {
    let s = Sandbox::new();
    let r = s.ok(&["-v", "upgrade", "--version", "1.0.0"]);
    assert!(
        r.stderr
            .contains("-- 1.0.0 up step 1:\nCREATE INDEX ix_accidents_dep_com"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("-- 0.8.0 up step 3:\naccidents.csv"),
        "{}",
        r.stderr
    );
    let r = s.ok(&["-q", "upgrade"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
}

/// Copies the example chain, seeds included, into `to`.
fn copy_chain(to: &std::path::Path) {
    let from = common::root().join("migrations");
    for entry in walk(&from) {
        let target = to.join(entry.strip_prefix(&from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, target).unwrap();
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}

#[test]
fn new_writes_the_next_spec_from_a_template_and_it_builds() {
    use semigrate::__private::{Engine, SemVer};
    use semigrate::build::Config;
    let s = Sandbox::new();
    let chain = s.dir.path().join("chain");
    copy_chain(&chain);
    let dir = chain.to_str().unwrap();
    let r = s.ok(&["new", "2.2.1", "relabel", "--csv", "--dir", dir]);
    assert!(r.stderr.contains("v2_2_1__relabel.toml"), "{}", r.stderr);
    s.ok(&["new", "2.3.0", "add_vehicles", "--dir", dir]);
    let written = std::fs::read_to_string(chain.join("v2_3_0__add_vehicles.toml")).unwrap();
    assert!(written.contains("[[up]]") && written.contains("[[down]]"));
    // With its SQL in files under sql/.
    s.ok(&["new", "3.0.0", "accounts", "--sql-files", "--dir", dir]);
    let spec = std::fs::read_to_string(chain.join("v3_0_0__accounts.toml")).unwrap();
    assert!(
        spec.contains("file = \"sql/v3_0_0__accounts.up.sql\""),
        "{spec}"
    );
    let up = std::fs::read_to_string(chain.join("sql/v3_0_0__accounts.up.sql")).unwrap();
    assert!(up.contains("CREATE TABLE example_3_0_0"), "{up}");
    // The chain with the three templates passes the build's whole proof, on both
    // engines' text and the SQLite replay.
    let config = Config {
        engines: vec![Engine::Sqlite, Engine::Postgres],
        ..Config::default()
    };
    let proved =
        semigrate::build::prove(&chain, &config, SemVer::parse("3.0.0").unwrap(), None).unwrap();
    assert_eq!(proved.len(), 11);
    assert!(proved[10].up.iter().any(|step| matches!(step,
        semigrate::__private::Step::Sql(sql) if sql.for_engine(Engine::Sqlite) == Some(up.as_str()))));
    std::fs::remove_file(chain.join("v3_0_0__accounts.toml")).unwrap();

    // Not a successor of the newest compiled version: refused, with the three that are.
    let r = s.run(&["new", "2.4.0", "--dir", dir]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("the next version is 2.2.1, 2.3.0 or 3.0.0"),
        "{}",
        r.stderr
    );
    assert_eq!(s.run(&["new", "two", "--dir", dir]).code, 2);
    assert_eq!(s.run(&["new", "3.0.0", "Bad Slug", "--dir", dir]).code, 2);
    // Never over a spec of the same version, whatever its slug.
    let r = s.run(&["new", "2.3.0", "other", "--dir", dir]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already gives 2.3.0"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(chain.join("v2_3_0__add_vehicles.toml")).unwrap(),
        written
    );
    assert!(!chain.join("v2_3_0__other.toml").exists());
    // Outside a source tree, the default folder is ./migrations.
    s.ok(&["new", "3.0.0"]);
    assert!(s.dir.path().join("migrations/v3_0_0.toml").is_file());
}

#[test]
fn the_bash_completion_script_completes_commands_and_flags() {
    let s = Sandbox::new();
    let script = s.dir.path().join("semigrate.bash");
    std::fs::write(&script, s.ok(&["completions", "bash"]).stdout).unwrap();
    let complete = |words: &str, cword: usize, current: &str, previous: &str| {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}'; COMP_WORDS=({words}); COMP_CWORD={cword}; \
                 _semigrate semigrate '{current}' '{previous}'; echo \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(complete("semigrate up", 1, "up", "semigrate"), "upgrade");
    assert_eq!(
        complete("semigrate upgrade --dr", 2, "--dr", "upgrade"),
        "--dry-run"
    );
    assert_eq!(s.run(&["completions", "tcsh"]).code, 2);
}

#[test]
fn colour_only_where_asked_and_never_under_no_color() {
    let s = Sandbox::new();
    let db = s.db();
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut c = s.command();
        c.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c
            .args(["--database", db.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let escape = "\x1b[";
    // Piped, as here: no colour, for the status table or an error.
    assert!(!run(&[], &["status"]).contains(escape));
    assert!(!run(&[], &["upgrade", "--version", "9.9.9"]).contains(escape));
    // Forced, as a terminal would have it: the states and `error:` are coloured.
    let forced = [("CLICOLOR_FORCE", "1")];
    assert!(run(&forced, &["status"]).contains("\x1b[33mpending"));
    let e = run(&forced, &["--lock-timeout", "x", "status"]);
    assert!(e.contains(escape) && e.contains("error:"), "{e}");
    // NO_COLOR wins over everything.
    let both = [("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")];
    assert!(!run(&both, &["status"]).contains(escape));
    assert!(!run(&both, &["downgrade", "--version", "9.9.9"]).contains(escape));
}

#[test]
fn a_dry_run_in_json_lists_the_plan_and_changes_nothing() {
    let s = Sandbox::new();
    s.ok(&["--no-backup", "upgrade", "--version", "1.0.1"]);
    let before = s.bytes();
    let r = s.ok(&["--json", "upgrade", "--dry-run"]);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(plan["command"], "upgrade");
    assert_eq!(
        (plan["from"].as_str(), plan["to"].as_str()),
        (Some("1.0.1"), Some("2.2.0"))
    );
    let migrations = plan["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), 4);
    let first = &migrations[0];
    assert_eq!(first["version"], "1.1.0");
    assert_eq!(first["direction"], "up");
    assert_eq!(
        first["steps"][0]["sql"],
        "ALTER TABLE accidents ADD COLUMN risk_score REAL;"
    );
    assert_eq!(first["steps"][2]["csv"], "accidents.csv");
    assert_eq!(first["steps"][2]["ops"].as_array().unwrap().len(), 3);
    assert_eq!(first["validations"][0]["expect"], "1");
    assert_eq!(migrations[1]["foreign_keys"], false);
    assert_eq!(migrations[2]["steps"][0]["rust"], "steps::score_risk");
    assert_eq!(
        migrations[2]["validations"][0]["rust"],
        "steps::every_accident_is_scored"
    );
    assert_eq!(s.bytes(), before);
}

#[test]
fn the_man_page_names_every_command_and_flag() {
    let page = Sandbox::new().ok(&["man"]).stdout;
    assert!(page.contains(".TH semigrate 1"), "{page:.300}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "{section}");
    }
    for word in [
        "upgrade",
        "downgrade",
        "status",
        "baseline",
        "repair",
        "new",
        "\\-\\-database",
        "\\-\\-lock\\-timeout",
    ] {
        assert!(page.contains(word), "{word}");
    }
}

#[test]
fn an_application_embeds_the_migrator() {
    let s = Sandbox::new();
    let (db, data) = (s.dir.path().join("app.db"), s.dir.path().join("data"));
    let run = || {
        std::process::Command::new(env!("CARGO"))
            .args(["run", "-q", "--example", "embed", "--"])
            .arg(&db)
            .arg(&data)
            .current_dir(common::root())
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim(),
        format!("{} is at 2.2.0: 8 accidents", db.display())
    );
    // The CLI sees what the library did: the same history, the CSV file in place.
    let status: serde_json::Value = serde_json::from_str(
        &s.run_raw(&["--database", db.to_str().unwrap(), "--json", "status"])
            .stdout,
    )
    .unwrap();
    assert_eq!(status["current"], "2.2.0");
    assert!(data.join("accidents.csv").is_file());
    // A second start finds nothing to do.
    assert!(run().status.success());
}

#[test]
fn require_refuses_a_store_below_what_the_application_needs() {
    use accidents::{CHAIN, Version};
    let s = Sandbox::new();
    s.ok(&["--no-backup", "upgrade", "--version", "1.0.0"]);
    let mut conn = rusqlite::Connection::open(s.db()).unwrap();
    let migrator = semigrate::Migrator::new(&CHAIN).data_dir(s.dir.path().join("var/data"));
    migrator.require(&mut conn, Version::V1_0_0).unwrap();
    let e = migrator.require(&mut conn, Version::V2_0_0).unwrap_err();
    assert!(
        e.to_string().contains("the store is at 1.0.0, below 2.0.0"),
        "{e}"
    );
    // The connection came back, usable.
    let n: i64 = conn
        .query_row("SELECT count(*) FROM accidents", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 8);
    // An in-memory database has no file to lock beside: none is made.
    let mut memory = rusqlite::Connection::open_in_memory().unwrap();
    let apart = semigrate::Migrator::new(&CHAIN).data_dir(s.dir.path().join("memory-data"));
    assert_eq!(apart.upgrade(&mut memory).unwrap().to_string(), "2.2.0");
    assert!(!common::root().join(".lock").exists());
    assert!(!s.dir.path().join(".lock").exists());
    // A connection to something that is not a store is refused and left as it was.
    let text = s.dir.path().join("notes.txt");
    std::fs::write(&text, "not a database").unwrap();
    let mut other = rusqlite::Connection::open(&text).unwrap();
    assert!(migrator.upgrade(&mut other).is_err());
    assert_eq!(other.path(), Some(text.to_str().unwrap()));
}

/// Every operation of the CLI is one of the `Migrator`'s too, through the same engine:
/// what the library does, the binary reads back, and the other way round.
#[test]
fn the_migrator_has_every_operation_of_the_cli() {
    use accidents::{CHAIN, Version};
    use semigrate::report::State;
    let s = Sandbox::new();
    let data = s.dir.path().join("var/data");
    let migrator = semigrate::Migrator::new(&CHAIN).data_dir(&data);
    std::fs::create_dir_all(s.db().parent().unwrap()).unwrap();
    let mut conn = rusqlite::Connection::open(s.db()).unwrap();
    assert_eq!(
        migrator.upgrade(&mut conn).unwrap(),
        Version::V2_2_0.semver()
    );
    migrator.verify(&mut conn).unwrap();
    let status = migrator.status(&mut conn).unwrap();
    assert_eq!(status.current, Version::V2_2_0.semver());
    assert!(status.migrations.iter().all(|e| e.state == State::Applied));
    let at = migrator.downgrade(&mut conn, Version::V1_0_0).unwrap();
    assert_eq!(at, Version::V1_0_0.semver());
    let history = migrator.history(&mut conn).unwrap();
    let last = &history.last().unwrap().entry;
    assert_eq!((last.direction.as_str(), last.to), ("down", at));
    // The binary sees the store where the library left it.
    let db = s.db();
    let status = s
        .run_raw(&["--database", db.to_str().unwrap(), "--json", "status"])
        .stdout;
    assert!(status.contains(r#""current":"1.0.0""#), "{status}");
    // A checksum that has not drifted is not repaired; a store with a history is not
    // baselined. Both say so, and change nothing.
    assert!(
        !migrator
            .accept_checksum(&mut conn, Version::V1_0_0)
            .unwrap()
    );
    let e = migrator.baseline(&mut conn, Version::V1_0_0).unwrap_err();
    assert!(e.to_string().contains("already has a history"), "{e}");
    // A store that predates the chain is baselined, running nothing.
    let mut fresh = rusqlite::Connection::open(s.dir.path().join("old.db")).unwrap();
    migrator.baseline(&mut fresh, Version::V0_9_0).unwrap();
    let status = migrator.status(&mut fresh).unwrap();
    assert_eq!(status.current, Version::V0_9_0.semver());
    let tables: i64 = fresh
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'accidents'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "baseline runs nothing");
    assert_eq!(
        migrator.history(&mut fresh).unwrap()[0].entry.direction,
        "baselined"
    );
    // A file by its path: reading it creates nothing; upgrading creates it.
    let path = s.dir.path().join("by-path/app.db");
    let mut file = semigrate::Sqlite::path(&path);
    let migrator = migrator.data_dir(s.dir.path().join("by-path/data"));
    assert_eq!(migrator.status(&mut file).unwrap().pending, 8);
    assert!(!path.exists() && !path.parent().unwrap().exists());
    assert_eq!(
        migrator.upgrade(&mut file).unwrap(),
        Version::V2_2_0.semver()
    );
    migrator.verify(&mut file).unwrap();
    assert!(path.is_file());
}

/// A binary pointed at a store that another chain migrated says so, and suggests no
/// command it would then refuse.
#[test]
fn another_chains_store_is_refused_as_such() {
    let s = Sandbox::new();
    s.ok(&["--no-backup", "upgrade", "--version", "1.0.0"]);
    let conn = rusqlite::Connection::open(s.db()).unwrap();
    conn.execute_batch(
        "UPDATE semigrate_migrations SET version = '0.' || (rowid + 10) || '.0', \
         checksum = 'theirs'; \
         INSERT INTO semigrate_migrations (version, description, checksum, applied_at, duration_ms, revert) \
         SELECT '9.0.0', description, checksum, applied_at, duration_ms, revert \
         FROM semigrate_migrations LIMIT 1;",
    )
    .unwrap();
    drop(conn);
    for args in [
        &["upgrade"][..],
        &["downgrade", "--version", "0.8.0"],
        &["downgrade", "--dry-run"],
        &["verify"],
    ] {
        let r = s.run(args);
        assert_eq!(r.code, 3, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("this store was migrated by another chain"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("downgrade --version"), "{}", r.stderr);
    }
}

/// `--version` says the chain's version, which chain, and which semigrate; the man
/// page says the same.
#[test]
fn the_version_names_the_chain_and_the_library() {
    let s = Sandbox::new();
    let said = format!(
        "semigrate 2.2.0 (chain accidents, semigrate {})",
        common::semigrate_version()
    );
    assert_eq!(s.ok(&["--version"]).stdout.trim(), said);
    let man = s.ok(&["man"]).stdout;
    assert!(
        man.contains("2.2.0 (chain accidents, semigrate"),
        "{man:.400}"
    );
}

/// Every example a command's `--help` prints runs as printed, on a store as the
/// example expects it (empty for `baseline`, migrated for the others).
#[test]
fn every_help_example_runs_as_printed() {
    for command in [
        "upgrade",
        "downgrade",
        "status",
        "list",
        "verify",
        "baseline",
        "history",
        "repair",
        "schema-at",
        "new",
    ] {
        let help = Sandbox::new().ok(&[command, "--help"]).stdout;
        let examples: Vec<&str> = help
            .lines()
            .filter_map(|l| l.trim().strip_prefix("semigrate "))
            .filter(|l| !l.contains('>') && !l.contains("&&"))
            .collect();
        assert!(!examples.is_empty(), "{command}: {help}");
        for example in examples {
            let s = Sandbox::new();
            if command != "baseline" {
                s.ok(&["--no-backup", "upgrade"]);
            }
            let args: Vec<&str> = example.split_whitespace().collect();
            let r = s.run(&args);
            assert_eq!(r.code, 0, "`semigrate {example}`: {}", r.stderr);
        }
    }
}

/// `history` records the duration `upgrade` printed, migration by migration, and both
/// show one under a millisecond as `<1`.
#[test]
fn history_shows_the_durations_the_run_printed() {
    let s = Sandbox::new();
    let printed: Vec<(String, String)> = s
        .ok(&["--no-backup", "upgrade"])
        .stderr
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            match words.as_slice() {
                [v, "up", ms, "ms", ..] => Some((v.to_string(), ms.to_string())),
                _ => None,
            }
        })
        .collect();
    assert_eq!(printed.len(), 8);
    let logged: serde_json::Value =
        serde_json::from_str(&s.ok(&["--json", "history"]).stdout).unwrap();
    let logged: Vec<(String, String)> = logged
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let ms = e["duration_ms"].as_i64().unwrap();
            let shown = if ms == 0 { "<1".into() } else { ms.to_string() };
            (e["version"].as_str().unwrap().to_owned(), shown)
        })
        .collect();
    assert_eq!(printed, logged);
    let table = s.ok(&["history"]).stdout;
    let (v, ms) = &printed[1];
    assert!(
        table
            .lines()
            .any(|l| l.contains(&format!("-> {v}")) && l.contains(&format!(" {ms}  "))),
        "{table}"
    );
}

/// Each command's `--help` lists the options it uses and no other, and they work
/// after the command as before it.
#[test]
fn each_command_shows_the_options_it_uses() {
    let s = Sandbox::new();
    let help = |command: &str| s.ok(&[command, "--help"]).stdout;
    for command in ["new", "init", "list", "schema-at", "completions"] {
        let h = help(command);
        for other in [
            "--lock-retries",
            "--lock-wait",
            "--no-backup",
            "--schema",
            "--database",
        ] {
            assert!(!h.contains(other), "{command} --help shows {other}: {h}");
        }
    }
    for command in ["status", "verify", "history"] {
        let h = help(command);
        assert!(h.contains("--database") && h.contains("--data-dir"), "{h}");
        assert!(
            !h.contains("--no-backup") && !h.contains("--lock-retries"),
            "{h}"
        );
    }
    for command in ["upgrade", "downgrade"] {
        let h = help(command);
        for own in [
            "--database",
            "--no-backup",
            "--wait",
            "--lock-wait",
            "--lock-retries",
        ] {
            assert!(h.contains(own), "{command} --help lacks {own}: {h}");
        }
    }
    let h = help("baseline");
    assert!(h.contains("--wait") && !h.contains("--no-backup"), "{h}");
    // After the command, as before it.
    let db = s.dir.path().join("after.db");
    let db = db.to_str().unwrap();
    s.ok(&[
        "upgrade",
        "--database",
        db,
        "--no-backup",
        "--wait",
        "5",
        "--version",
        "0.9.0",
    ]);
    let status = s.ok(&["status", "--json", "--database", db]).stdout;
    assert!(status.contains(r#""current":"0.9.0""#), "{status}");
    assert!(!s.dir.path().join("backups").exists());
}
