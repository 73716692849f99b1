//! Where a run reads and writes: from the store given, never from the working
//! directory (see `engine::paths` for the rule).

mod common;

use common::Sandbox;
use std::path::Path;

/// Every file under `dir`, relative to it.
fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(
                tree(&path)
                    .into_iter()
                    .map(|f| format!("{}/{f}", entry.file_name().to_string_lossy())),
            );
        } else {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found.sort();
    found
}

#[test]
fn a_store_given_elsewhere_takes_its_folders_along_and_leaves_the_working_directory_alone() {
    let s = Sandbox::new();
    let host = tempfile::tempdir().unwrap();
    let store = host.path().join("srv/app/app.db");
    let database = store.to_str().unwrap();
    // The working directory is the sandbox, which stays empty.
    let r = s.run_raw(&["--database", database, "upgrade", "--version", "1.0.1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("no backup: the store is empty"),
        "the first upgrade of a new store has nothing to back up: {}",
        r.stderr
    );
    let r = s.run_raw(&["--database", database, "upgrade"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(tree(s.dir.path()), Vec::<String>::new());
    let app = host.path().join("srv/app");
    let files = tree(&app);
    assert!(
        files.contains(&"data/accidents.csv".to_owned()),
        "{files:?}"
    );
    assert!(
        files.contains(&"migration_state.json".to_owned()),
        "{files:?}"
    );
    let backups: Vec<&String> = files.iter().filter(|f| f.starts_with("backups/")).collect();
    assert!(
        backups
            .iter()
            .any(|f| f.starts_with("backups/app-1.0.1-") && f.ends_with(".db")),
        "{files:?}"
    );
    assert!(
        backups.iter().any(|f| f.ends_with("/accidents.csv")),
        "the CSV file backed up beside the store: {files:?}"
    );

    // status says where everything went, as absolute paths.
    let status: serde_json::Value = serde_json::from_str(
        &s.run_raw(&["--database", database, "--json", "status"])
            .stdout,
    )
    .unwrap();
    let paths = &status["paths"];
    assert_eq!(paths["store"], store.to_str().unwrap());
    assert_eq!(paths["data_dir"], app.join("data").to_str().unwrap());
    assert_eq!(paths["backup_dir"], app.join("backups").to_str().unwrap());
    assert_eq!(
        paths["state_file"],
        app.join("migration_state.json").to_str().unwrap()
    );
    let text = s.run_raw(&["--database", database, "status"]).stdout;
    for line in [
        format!("database  {} (sqlite)", store.display()),
        format!("data      {}", app.join("data").display()),
        format!("backups   {}", app.join("backups").display()),
        format!("state     {}", app.join("migration_state.json").display()),
    ] {
        assert!(text.contains(&line), "{line}\n{text}");
    }
    // Folders given by flag are taken as given, from the working directory.
    let r = s.run_raw(&[
        "--database",
        database,
        "--backup-dir",
        "elsewhere",
        "downgrade",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(s.dir.path().join("elsewhere").is_dir());
}

#[test]
fn a_store_that_is_not_there_is_said_so_and_not_created() {
    let s = Sandbox::new();
    let r = s.ok(&["status"]);
    let missing = format!("no store at {} yet", s.db().display());
    assert!(r.stderr.contains(&missing), "{}", r.stderr);
    assert!(r.stdout.contains("8 pending"), "{}", r.stdout);
    let r = s.ok(&["history"]);
    assert!(r.stderr.contains(&missing), "{}", r.stderr);
    let r = s.run(&["verify"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&missing), "{}", r.stderr);
    assert!(!s.db().exists());
    assert_eq!(tree(s.dir.path()), Vec::<String>::new());
    // Only upgrade and baseline make a store: every other command on a mistyped path
    // says so, exits 2 and creates nothing, not even a lock file or a folder.
    let deep = s.dir.path().join("srv/app/sub/x.db");
    let shown = format!("no store at {}", deep.display());
    for args in [
        &["downgrade"][..],
        &["downgrade", "--version", "0.8.0"],
        &["downgrade", "--version", "0.0.0", "--dry-run"],
        &["repair", "--accept-checksum", "1.0.0"],
        &["verify"],
    ] {
        let mut all = vec!["--database", deep.to_str().unwrap()];
        all.extend_from_slice(args);
        let r = s.run_raw(&all);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(&shown), "{args:?}: {}", r.stderr);
        assert_eq!(tree(s.dir.path()), Vec::<String>::new(), "{args:?}");
    }
    for args in [&["status"][..], &["history"], &["upgrade", "--dry-run"]] {
        let mut all = vec!["--database", deep.to_str().unwrap()];
        all.extend_from_slice(args);
        assert_eq!(s.run_raw(&all).code, 0, "{args:?}");
        assert_eq!(tree(s.dir.path()), Vec::<String>::new(), "{args:?}");
    }
    // A folder on the way that is a file is named as such.
    std::fs::write(s.dir.path().join("srv"), "a file").unwrap();
    let r = s.run_raw(&["--database", deep.to_str().unwrap(), "upgrade"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let file = s.dir.path().join("srv");
    assert!(
        r.stderr.contains(&format!(
            "cannot create it: {} is a file, not a folder",
            file.display()
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn the_wait_for_another_run_is_wait_and_lock_timeout_still_works() {
    let s = Sandbox::new();
    s.ok(&["--wait", "0", "upgrade", "--version", "0.8.0"]);
    s.ok(&["--lock-timeout", "0", "upgrade", "--version", "0.9.0"]);
    assert_eq!(s.current(), "0.9.0");
    let help = s.ok(&["--help"]).stdout;
    assert!(help.contains("--wait <SECONDS>"), "{help}");
    assert!(
        !help.contains("--lock-timeout <"),
        "the old name is not listed, only mentioned: {help}"
    );
    // Seconds bare or with `--lock-wait`'s unit; anything else named, with the form.
    s.ok(&["--wait", "0s", "upgrade", "--version", "1.0.0"]);
    assert_eq!(s.current(), "1.0.0");
    for wrong in ["soon", "2m", "-1"] {
        let r = s.run(&[&format!("--wait={wrong}"), "status"]);
        assert_eq!(r.code, 2);
        assert!(
            r.stderr.contains(&format!(
                "`{wrong}` is not a number of seconds, as 30 or 30s"
            )),
            "{}",
            r.stderr
        );
    }
}

/// A data folder belongs to the store that first used it: another store given that
/// folder is refused before it changes anything, the first store's state file and CSV
/// files left as they were; a store copied or moved with its folders is still theirs.
#[test]
fn a_data_folder_belongs_to_one_store() {
    let s = Sandbox::new();
    let var = s.dir.path().join("var");
    let first = var.join("first.db");
    let second = var.join("second.db");
    let run = |db: &Path, args: &[&str]| {
        let mut all = vec!["--database", db.to_str().unwrap(), "--no-backup"];
        all.extend_from_slice(args);
        s.run_raw(&all)
    };
    assert_eq!(run(&first, &["upgrade"]).code, 0);
    let marker = std::fs::read_to_string(var.join("data/.semigrate-store")).unwrap();
    assert_eq!(marker, "sqlite ../first.db\n");
    let state = std::fs::read(var.join("migration_state.json")).unwrap();
    let csv = std::fs::read(var.join("data/accidents.csv")).unwrap();
    // The second store, beside the first, would share its folders.
    let r = run(&second, &["upgrade"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    for said in [
        "belongs to another store (sqlite ../first.db, from the folder)",
        "not to this one (sqlite ../second.db)",
        "--data-dir",
    ] {
        assert!(r.stderr.contains(said), "{said}: {}", r.stderr);
    }
    assert_eq!(
        std::fs::read(var.join("migration_state.json")).unwrap(),
        state
    );
    assert_eq!(std::fs::read(var.join("data/accidents.csv")).unwrap(), csv);
    let tables: i64 = rusqlite::Connection::open(&second)
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 0, "the refused run changed nothing");
    // Given a folder of its own, it runs.
    let own = s.dir.path().join("second-data");
    let r = run(&second, &["--data-dir", own.to_str().unwrap(), "upgrade"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The first store copied with its folders (a restored backup, say): the copy is
    // its folder's store.
    let copy = s.dir.path().join("copy");
    std::fs::create_dir_all(copy.join("data")).unwrap();
    std::fs::copy(&first, copy.join("first.db")).unwrap();
    for f in [
        "accidents.csv",
        "accidents_per_departement.csv",
        ".semigrate-store",
    ] {
        std::fs::copy(var.join("data").join(f), copy.join("data").join(f)).unwrap();
    }
    let r = run(&copy.join("first.db"), &["downgrade", "--version", "2.1.0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A store moved away from its folder, its old place empty: the store that now
    // uses the folder takes it over.
    std::fs::rename(&first, s.dir.path().join("first.db")).unwrap();
    let data = var.join("data");
    let moved = s.dir.path().join("first.db");
    let r = run(
        &moved,
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "downgrade",
            "--version",
            "2.1.0",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let marker = std::fs::read_to_string(data.join(".semigrate-store")).unwrap();
    assert_eq!(marker, "sqlite ../../first.db\n");
}
