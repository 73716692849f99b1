//! The spec schema that editors use: the printed one is the one in the repository, and
//! every example spec and template validates against it.

mod common;

use common::{Sandbox, root};

fn toml_as_json(text: &str) -> serde_json::Value {
    serde_json::to_value(toml::from_str::<toml::Value>(text).unwrap()).unwrap()
}

#[test]
fn the_printed_schema_is_the_one_in_the_repository() {
    let printed = Sandbox::new().ok(&["schema"]).stdout;
    let kept = root().join("spec.schema.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&kept, &printed).unwrap();
    }
    assert!(
        std::fs::read_to_string(&kept).unwrap_or_default() == printed,
        "spec.schema.json is out of date: UPDATE_SNAPSHOTS=1 cargo test rewrites it"
    );
}

#[test]
fn the_example_specs_and_the_templates_validate_and_a_typo_does_not() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("spec.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut specs: Vec<std::path::PathBuf> = ["migrations", "semigrate/templates"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root().join(d)).unwrap().flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 8, "{specs:?}");
    for spec in &specs {
        let doc = toml_as_json(&std::fs::read_to_string(spec).unwrap());
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", spec.display());
    }
    for bad in [
        "description = \"x\"\n[[up]]\nsqll = \"SELECT 1\"\n",
        "description = 5\n",
        "description = \"x\"\n[[up]]\ncsv = \"a.csv\"\n[[up.ops]]\nop = \"renam\"\n",
    ] {
        assert!(!validator.is_valid(&toml_as_json(bad)), "{bad}");
    }
}
