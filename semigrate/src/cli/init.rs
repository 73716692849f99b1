//! `init DIR`: writes a chain crate that builds and runs at once: its manifest, a
//! build script and a `main` of one call each, a first spec, and a README.

use super::Invocation;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

const MANIFEST: &str = include_str!("../../templates/init/Cargo.toml");
const BUILD: &str = include_str!("../../templates/init/build.rs");
const MAIN: &str = include_str!("../../templates/init/main.rs");
const README: &str = include_str!("../../templates/init/README.md");
const GITIGNORE: &str = include_str!("../../templates/init/gitignore");
const FIRST_SPEC: &str = include_str!("../../templates/sql.toml");

pub fn run(
    context: &Invocation,
    dir: &Path,
    name: Option<&str>,
    path: Option<&Path>,
    import: Option<&super::import::Request>,
) -> Result<String> {
    let name = match name {
        Some(name) => name.to_owned(),
        None => dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "{} has no folder name to name the crate after; give --name",
                    dir.display()
                ))
            })?,
    };
    check_name(&name)?;
    // Until semigrate is on crates.io, a crate that depends on the registry cannot
    // build: say so rather than write one.
    let Some(path) = path else {
        return Err(Error::Usage(
            "semigrate is not published on crates.io yet: give --path, the folder of a \
             checkout of semigrate (`init ../app-migrations --path .` from one)"
                .into(),
        ));
    };
    let library = library_at(path)?;
    let shown = toml_string(&library.display().to_string());
    let dependency = format!("{{ path = {shown} }}");
    let build_dependency = format!("{{ path = {shown}, features = [\"build\"] }}");
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(Error::Usage(format!(
            "{} is not empty; init writes a new crate into an empty or new folder",
            dir.display()
        )));
    }
    let fill = |text: &str| {
        text.replace("{name}", &name)
            .replace("{dependency}", &dependency)
            .replace("{build_dependency}", &build_dependency)
    };
    // A chain imported and proved on a server is a PostgreSQL chain.
    let manifest = engines(
        fill(MANIFEST),
        import.is_some_and(|i| i.proof_url.is_some()),
    );
    let mut files = vec![
        ("Cargo.toml", manifest),
        ("build.rs", BUILD.to_owned()),
        ("src/main.rs", MAIN.to_owned()),
        ("spec.schema.json", crate::spec_file::SCHEMA.to_owned()),
        (".gitignore", GITIGNORE.to_owned()),
        ("README.md", fill(README)),
    ];
    // An imported chain starts from its own first migration.
    if import.is_none() {
        files.push(("migrations/v0_1_0__first.toml", FIRST_SPEC.to_owned()));
    }
    let written = files.iter().try_for_each(|(file, text)| {
        let path = dir.join(file);
        let io = |e: std::io::Error| Error::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(path.parent().unwrap_or(dir)).map_err(io)?;
        std::fs::write(&path, text).map_err(io)
    });
    let imported = written.and_then(|()| match import {
        Some(request) => super::import::into(
            context,
            request,
            &dir.join("migrations"),
            Some(&dir.join("Cargo.toml")),
            None,
        )
        .map(drop),
        None => Ok(()),
    });
    if let Err(e) = imported {
        // Nothing half-made is left: the folder was empty or absent.
        let _ = std::fs::remove_dir_all(dir);
        return Err(e);
    }
    context.say(format!(
        "wrote the chain crate {name} in {}: `cd {} && cargo run -- upgrade` builds it and migrates var/{name}.db",
        dir.display(),
        dir.display()
    ));
    Ok(String::new())
}

/// A name cargo takes for a package and a binary.
fn check_name(name: &str) -> Result<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "`{name}` is not a crate name: a letter, then letters, digits, - or _ (give --name)"
        )))
    }
}

/// The library's folder in a semigrate checkout: the checkout's `semigrate/`, or the
/// folder itself when it is the library.
fn library_at(path: &Path) -> Result<PathBuf> {
    let not_found = || {
        Error::Usage(format!(
            "--path {}: no semigrate library there (a checkout of semigrate, or its semigrate/ folder)",
            path.display()
        ))
    };
    let is_library = |dir: &Path| {
        std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|text| {
            text.parse::<toml::Table>().is_ok_and(|t| {
                t.get("package")
                    .and_then(|p| p.get("name"))
                    .and_then(|n| n.as_str())
                    == Some("semigrate")
            })
        })
    };
    let library = [path.join("semigrate"), path.to_path_buf()]
        .into_iter()
        .find(|dir| is_library(dir))
        .ok_or_else(not_found)?;
    library.canonicalize().map_err(|_| not_found())
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// The manifest with `engines = ["postgres"]` for a chain proved on a server.
fn engines(manifest: String, postgres: bool) -> String {
    match postgres {
        true => manifest.replace(
            "add \"postgres\" to require PostgreSQL text too\nengines = [\"sqlite\"]",
            "PostgreSQL (the build replays them there when\n\
             # SEMIGRATE_VERIFY_POSTGRES_URL is set)\nengines = [\"postgres\"]",
        ),
        false => manifest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_proved_on_a_server_is_a_postgres_chain() {
        let settings = |m: &str| -> Vec<String> {
            let m = m
                .replace("{name}", "app")
                .replace("{dependency}", "\"1\"")
                .replace("{build_dependency}", "\"1\"");
            let doc: toml::Table = toml::from_str(&m).unwrap();
            let engines = &doc["package"]["metadata"]["semigrate"]["engines"];
            engines
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(settings(&engines(MANIFEST.to_owned(), false)), ["sqlite"]);
        let postgres = engines(MANIFEST.to_owned(), true);
        assert_eq!(settings(&postgres), ["postgres"]);
        assert!(!postgres.contains("add \"postgres\""), "{postgres}");
    }

    #[test]
    fn crate_names_are_what_cargo_takes() {
        for good in ["app", "app-migrations", "a_1"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1app", "my app", "é", "-x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_path_names_the_checkout_or_the_library() {
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let library = Path::new(env!("CARGO_MANIFEST_DIR"))
            .canonicalize()
            .unwrap();
        assert_eq!(library_at(checkout).unwrap(), library);
        assert_eq!(library_at(&library).unwrap(), library);
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(library_at(elsewhere.path()).is_err());
    }
}
