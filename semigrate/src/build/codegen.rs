//! Renders the checked chain as Rust: a `Version` enum, the migration table and the
//! compiled-in settings. Tokens are built with `quote!` and printed with prettyplease;
//! the runtime never sees TOML.
//!
//! The table ([`Table`](crate::model::Table)) holds what `status` reads as arrays
//! without pointers, and the migrations as JSON, one per line; the functions the specs
//! name are referred to by path, so that rustc checks each exists with the type the
//! table needs.

use crate::build::config::Config;
use crate::model::{Check, CsvOp, Migration, SemVer, Step, Table};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;
use std::collections::BTreeSet;

/// The whole of `OUT_DIR/migrations.rs`, or why the chain cannot be compiled into a
/// table: the migration (its file) that would not read back as the build proved it.
pub fn render(migrations: &[Migration], config: &Config) -> Result<String, (String, String)> {
    let json = Table::json(migrations);
    read_back(migrations, &json)?;
    // Compiled into a library, the table names the binary from the manifest.
    let library_name = match &config.binary {
        Some(name) => quote!(#name),
        None => quote!(::core::env!("CARGO_PKG_NAME")),
    };
    let variants: Vec<Ident> = migrations.iter().map(variant).collect();
    let semvers: Vec<TokenStream> = migrations.iter().map(|m| semver(m.version)).collect();
    let docs = migrations
        .iter()
        .map(|m| format!(" {}: {}", m.version, m.description));
    let semver_fn = if migrations.is_empty() {
        quote!(match self {})
    } else {
        quote!(match self { #(Version::#variants => #semvers,)* })
    };
    let descriptions = texts(migrations.iter().map(|m| &*m.description));
    let checksums = texts(migrations.iter().map(|m| &*m.checksum));
    let digests = migrations.iter().map(|m| match m.schema_digest {
        Some(d) => quote!(::core::option::Option::Some(#d)),
        None => quote!(::core::option::Option::None),
    });
    let origins = texts(migrations.iter().map(|m| m.origin.as_deref().unwrap_or("")));
    let leftovers = migrations
        .iter()
        .map(|m| Literal::u32_unsuffixed(m.down_leaves.len() as u32));
    let json = raw(&json);
    let (steps, applies) = functions(migrations);
    let step_paths = steps.iter().map(|p| call(p));
    let apply_paths = applies.iter().map(|p| call(p));
    let (folder, database, data_dir, backup_dir) = (
        &config.migrations,
        &config.database,
        &config.data_dir,
        &config.backup_dir,
    );
    let backup_keep = Literal::usize_unsuffixed(config.backup_keep);
    let option = |s: &Option<String>| match s {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    };
    let (lock_timeout, statement_timeout) = (
        option(&config.lock_timeout),
        option(&config.statement_timeout),
    );
    let lock_retries = config.lock_retries;
    let ignore_objects = &config.ignore_objects;
    let fleet = config.fleet.lines();

    let tokens = quote! {
        /// The versions this binary knows, oldest first.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Version {
            #( #[doc = #docs] #variants, )*
        }

        impl Version {
            /// Every version, oldest first.
            pub const ALL: &'static [Version] = &[#(Version::#variants),*];

            /// The SemVer this variant stands for.
            pub const fn semver(self) -> ::semigrate::__private::SemVer {
                #semver_fn
            }

            /// The migration that brings the store to this version.
            pub fn migration(self) -> &'static ::semigrate::__private::Migration {
                &MIGRATIONS[self as usize]
            }
        }

        impl ::core::convert::From<Version> for ::semigrate::__private::SemVer {
            fn from(v: Version) -> Self {
                v.semver()
            }
        }

        /// The chain, oldest first; `MIGRATIONS[v as usize]` is the migration of `v`.
        pub static MIGRATIONS: ::semigrate::__private::Table = ::semigrate::__private::Table::new(
            ::semigrate::__private::Index {
                versions: &[#(#semvers),*],
                descriptions: #descriptions,
                checksums: #checksums,
                schema_digests: &[#(#digests),*],
                origins: #origins,
                leftovers: &[#(#leftovers),*],
            },
            #json,
            &[#(#step_paths),*],
            &[#(#apply_paths),*],
        );

        /// The settings of `[package.metadata.semigrate]` that the binary uses.
        pub const SETTINGS: ::semigrate::__private::Settings = ::semigrate::__private::Settings {
            migrations: #folder,
            database: #database,
            data_dir: #data_dir,
            backup_dir: #backup_dir,
            backup_keep: #backup_keep,
            lock_timeout: #lock_timeout,
            statement_timeout: #statement_timeout,
            lock_retries: #lock_retries,
            ignore_objects: &[#(#ignore_objects),*],
            fleet: &[#(#fleet),*],
        };

        /// All of the above, for `semigrate::cli::main` and `semigrate::Migrator::new`.
        pub static CHAIN: ::semigrate::__private::Chain = ::semigrate::__private::Chain {
            name: match ::core::option_env!("CARGO_BIN_NAME") {
                ::core::option::Option::Some(name) => name,
                ::core::option::Option::None => #library_name,
            },
            package: ::core::env!("CARGO_PKG_NAME"),
            version: ::core::env!("CARGO_PKG_VERSION"),
            migrations: &MIGRATIONS,
            settings: SETTINGS,
        };
    };
    let file: syn::File = syn::parse2(tokens).expect("codegen produces valid Rust");
    Ok(format!(
        "// @generated by semigrate's build script from the migration specs. Do not edit.\n\n{}",
        prettyplease::unparse(&file)
    ))
}

/// Decodes the table's JSON as the binary will; when it does not give back the chain
/// the build proved, names the migration that does not come back as it went in (a
/// float that is not finite, say). A table that fails to decode as a whole names no
/// migration by itself: each is then tried alone.
fn read_back(migrations: &[Migration], json: &str) -> Result<(), (String, String)> {
    if Table::decode(json, &[], &[]).is_ok_and(|read| read == migrations) {
        return Ok(());
    }
    let comes_back = |m: &Migration| {
        let back = Table::decode(&Table::json(std::slice::from_ref(m)), &[], &[]);
        back.is_ok_and(|back| back.as_slice() == std::slice::from_ref(m))
    };
    let file = migrations
        .iter()
        .find(|m| !comes_back(m))
        .map_or_else(String::new, |m| m.file.to_string());
    Err((
        file,
        "does not read back from the compiled table as the build proved it".to_owned(),
    ))
}

fn semver(v: SemVer) -> TokenStream {
    let [a, b, c] = [v.major, v.minor, v.patch].map(Literal::u64_unsuffixed);
    quote!(::semigrate::__private::SemVer::new(#a, #b, #c))
}

fn variant(m: &Migration) -> Ident {
    let v = m.version;
    Ident::new(
        &format!("V{}_{}_{}", v.major, v.minor, v.patch),
        Span::call_site(),
    )
}

/// A raw string literal (`r#"…"#`), with enough hashes, so the JSON reads as it is.
fn raw(s: &str) -> TokenStream {
    let mut hashes = String::from("#");
    while s.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{s}\"{hashes}")
        .parse()
        .expect("a raw string literal with enough hashes parses")
}

/// Strings end to end, and where each ends.
fn texts<'a>(items: impl Iterator<Item = &'a str>) -> TokenStream {
    let (mut all, mut ends) = (String::new(), Vec::new());
    for item in items {
        all.push_str(item);
        ends.push(Literal::u32_unsuffixed(
            u32::try_from(all.len()).expect("a chain's descriptions fit in 4 GiB"),
        ));
    }
    quote!(::semigrate::__private::Texts { all: #all, ends: &[#(#ends),*] })
}

/// The paths of the functions the chain names: those of Rust steps and checks, and
/// those of `apply` ops.
fn functions(migrations: &[Migration]) -> (BTreeSet<&str>, BTreeSet<&str>) {
    let (mut steps, mut applies) = (BTreeSet::new(), BTreeSet::new());
    for m in migrations {
        for step in m.up.iter().chain(m.down.iter()) {
            match step {
                Step::Rust(f) => {
                    steps.insert(&*f.path);
                }
                Step::Csv(c) => {
                    for op in c.ops.iter() {
                        if let CsvOp::Apply {
                            function, inverse, ..
                        } = op
                        {
                            applies
                                .extend(std::iter::once(function).chain(inverse).map(|f| &*f.path));
                        }
                    }
                }
                _ => {}
            }
        }
        for check in m.validate.iter() {
            if let Check::Rust(f) = check {
                steps.insert(&*f.path);
            }
        }
    }
    (steps, applies)
}

/// `("path", crate::path)`: the function itself, so rustc checks it exists and has
/// the type the table needs.
fn call(path: &str) -> TokenStream {
    let call: syn::Path = syn::parse_str(&format!("crate::{path}"))
        .expect("the spec's checks allow only paths of identifiers");
    quote!((#path, #call))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::spec::document::parse;
    use crate::model::{Engine, Expect, Scalar};
    use std::path::Path;

    fn parsed(source: &str) -> Migration {
        let v = SemVer::new(1, 0, 0);
        match parse(Path::new("v1_0_0__x.toml"), source, v, &[Engine::Sqlite]) {
            Ok(p) => p.migration,
            Err(e) => panic!("{e:?}"),
        }
    }

    /// Floats at the edges of f64, and text that would end a raw string literal, come
    /// back from the table exactly.
    #[test]
    fn the_table_reads_back_exactly() {
        let mut spec = String::from(
            "description = \"Quotes \\\" and a \\\"# in the description\"\n\
             [[up]]\nsql = '''\nSELECT '\"#';\nSELECT '\"##';\n'''\n\
             [[down]]\nsql = \"SELECT 1\"\n",
        );
        let floats = [0.1, 1e300, 5e-324, -0.0, 2.0f64.powi(53) + 2.0, 1.0 / 3.0];
        for x in floats {
            spec.push_str(&format!(
                "[[validate]]\nsql = \"SELECT 1\"\nexpect = {x:?}\n"
            ));
        }
        let m = parsed(&spec);
        let json = Table::json(std::slice::from_ref(&m));
        assert_eq!(read_back(std::slice::from_ref(&m), &json), Ok(()));
        let back = Table::decode(&json, &[], &[]).unwrap();
        for (check, x) in back[0].validate.iter().zip(floats) {
            let Check::Sql {
                expect: Expect::Value(Scalar::Float(y)),
                ..
            } = check
            else {
                panic!("{check:?}");
            };
            assert_eq!(y.to_bits(), x.to_bits());
        }
        let literal = raw(&json).to_string();
        let lit: syn::LitStr = syn::parse_str(&literal).unwrap();
        assert_eq!(lit.value(), json);
    }

    /// A migration that would not come back as proved is named, and nothing renders.
    #[test]
    fn a_table_that_does_not_read_back_names_the_file() {
        let good = parsed(
            "description = \"x\"\n[[up]]\nsql = \"SELECT 1\"\n[[down]]\nsql = \"SELECT 1\"\n[[validate]]\nsql = \"SELECT 1\"\nexpect = 1.5\n",
        );
        let mut bad = good.clone();
        bad.file = "v1_0_1__nan.toml".into();
        if let Check::Sql { expect, .. } = &mut bad.validate.to_mut()[0] {
            *expect = Expect::Value(Scalar::Float(f64::NAN));
        }
        // The NaN becomes `null`, so the whole table no longer decodes: the second
        // migration is the one named, not the first.
        let chain = [good, bad];
        let json = Table::json(&chain);
        assert!(Table::decode(&json, &[], &[]).is_err());
        assert_eq!(read_back(&chain, &json).unwrap_err().0, "v1_0_1__nan.toml");
        assert_eq!(read_back(&chain[..1], &Table::json(&chain[..1])), Ok(()));
    }
}
