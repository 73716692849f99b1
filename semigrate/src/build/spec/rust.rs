//! The functions of the chain crate that specs name: found in the crate's sources by
//! their path, their signature checked for what the spec uses them for, and their
//! tokens read for the checksum. A misspelled path fails the build at the spec's line,
//! before rustc meets the generated call.

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::ToTokens;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use syn::{FnArg, Item, ReturnType, Type, Visibility};

/// What a spec uses a function for, which fixes its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `rust = "…"` in a step or a validation: `fn(&mut Context) -> Outcome`.
    Step,
    /// `function` or `inverse` of an `apply` op: `fn(&str, &Row) -> CellOutcome`.
    Apply,
}

impl Kind {
    fn signature(self) -> &'static str {
        match self {
            Kind::Step => "fn(cx: &mut semigrate::rust::Context) -> semigrate::rust::Outcome",
            Kind::Apply => {
                "fn(value: &str, row: &semigrate::rust::Row) -> semigrate::rust::CellOutcome"
            }
        }
    }
}

/// Whether `text` is a path a spec may name: identifiers joined by `::`, from the
/// crate root (`steps::score_risk`).
pub fn is_path(text: &str) -> bool {
    !text.is_empty()
        && text
            .split("::")
            .all(|segment| syn::parse_str::<syn::Ident>(segment).is_ok())
}

/// The chain crate's sources, read from its root file (`src/main.rs`) as modules are
/// looked up; each file is parsed once.
pub struct Sources {
    root: PathBuf,
    parsed: RefCell<HashMap<PathBuf, Result<Vec<Item>, String>>>,
}

impl Sources {
    /// The crate whose root file is `root`.
    pub fn new(root: PathBuf) -> Sources {
        Sources {
            root,
            parsed: RefCell::new(HashMap::new()),
        }
    }

    fn items(&self, file: &Path) -> Result<Vec<Item>, String> {
        self.parsed
            .borrow_mut()
            .entry(file.to_path_buf())
            .or_insert_with(|| {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                syn::parse_file(&text)
                    .map(|f| f.items)
                    .map_err(|e| format!("{} does not parse: {e}", file.display()))
            })
            .clone()
    }

    /// Finds the function `path` names and checks it can serve as `kind`; returns its
    /// tokens (doc comments left out, layout folded), or why it cannot.
    pub fn resolve(&self, path: &str, kind: Kind) -> Result<String, String> {
        let segments: Vec<&str> = path.split("::").collect();
        let (name, modules) = segments.split_last().expect("a path has a segment");
        let mut file = self.root.clone();
        let mut items = self.items(&file)?;
        // A module's children live beside a crate root file, else in a folder named
        // after the module.
        let mut dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
        for (depth, module) in modules.iter().enumerate() {
            let found = items.iter().find_map(|item| match item {
                Item::Mod(m) if m.ident == module => Some(m.clone()),
                _ => None,
            });
            let Some(m) = found else {
                return Err(format!(
                    "{} declares no module `{module}` (help: add `mod {module};` to it)",
                    file.display()
                ));
            };
            if depth > 0 && matches!(m.vis, Visibility::Inherited) {
                return Err(format!(
                    "module `{module}` in {} is private, so the migration table cannot reach `{path}` (help: make it `pub(crate) mod {module}`)",
                    file.display()
                ));
            }
            dir = dir.join(module);
            match m.content {
                Some((_, inline)) => items = inline,
                None => {
                    let candidates = [dir.with_extension("rs"), dir.join("mod.rs")];
                    file = candidates
                        .iter()
                        .find(|c| c.is_file())
                        .cloned()
                        .ok_or_else(|| {
                            format!(
                                "module `{module}` has no file: neither {} nor {}",
                                candidates[0].display(),
                                candidates[1].display()
                            )
                        })?;
                    items = self.items(&file)?;
                }
            }
        }
        let function = items.iter().find_map(|item| match item {
            Item::Fn(f) if f.sig.ident == name => Some(f.clone()),
            _ => None,
        });
        let Some(mut function) = function else {
            let names: Vec<String> = items
                .iter()
                .filter_map(|item| match item {
                    Item::Fn(f) => Some(f.sig.ident.to_string()),
                    _ => None,
                })
                .collect();
            return Err(format!(
                "{} has no `fn {name}`{}",
                file.display(),
                match names.is_empty() {
                    true => String::new(),
                    false => format!(" (its functions: {})", names.join(", ")),
                }
            ));
        };
        check(path, kind, &function)?;
        function.attrs.retain(|a| !a.path().is_ident("doc"));
        Ok(without_trailing_commas(function.to_token_stream()).to_string())
    }
}

/// The tokens without the commas that end a group: rustfmt adds or drops them as it
/// lays a list out on one line or several, and they change nothing.
fn without_trailing_commas(tokens: TokenStream) -> TokenStream {
    let mut out: Vec<TokenTree> = Vec::new();
    for tree in tokens {
        out.push(match tree {
            TokenTree::Group(g) => {
                let mut inner: Vec<TokenTree> =
                    without_trailing_commas(g.stream()).into_iter().collect();
                if matches!(inner.last(), Some(TokenTree::Punct(p)) if p.as_char() == ',') {
                    inner.pop();
                }
                let mut group = Group::new(g.delimiter(), inner.into_iter().collect());
                group.set_span(g.span());
                TokenTree::Group(group)
            }
            other => other,
        });
    }
    out.into_iter().collect()
}

/// The last identifier of a type path (`semigrate::rust::Context<'_>` → `Context`).
fn type_name(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Whether `arg` is `&T` (or `&mut T` with `mutable`) where T is named `name`.
fn is_ref_to(arg: &FnArg, mutable: bool, name: &str) -> bool {
    let FnArg::Typed(arg) = arg else { return false };
    match &*arg.ty {
        Type::Reference(r) => {
            r.mutability.is_some() == mutable && type_name(&r.elem).as_deref() == Some(name)
        }
        _ => false,
    }
}

/// The checks rustc would make of the generated call, said in the spec's terms.
fn check(path: &str, kind: Kind, f: &syn::ItemFn) -> Result<(), String> {
    let wanted = || format!("(help: a function for this takes `{}`)", kind.signature());
    if matches!(f.vis, Visibility::Inherited) {
        return Err(format!(
            "`{path}` is private, so the migration table cannot call it (help: make it `pub(crate) fn {}`)",
            f.sig.ident
        ));
    }
    if f.sig.asyncness.is_some() || matches!(f.sig.safety, syn::Safety::Unsafe(_)) {
        return Err(format!(
            "`{path}` is async or unsafe; a migration calls a plain function {}",
            wanted()
        ));
    }
    if f.sig.generics.type_params().next().is_some() {
        return Err(format!("`{path}` is generic {}", wanted()));
    }
    let inputs: Vec<&FnArg> = f.sig.inputs.iter().collect();
    let (arity, args_ok) = match kind {
        Kind::Step => (
            1,
            inputs.len() == 1 && is_ref_to(inputs[0], true, "Context"),
        ),
        Kind::Apply => (
            2,
            inputs.len() == 2
                && is_ref_to(inputs[0], false, "str")
                && is_ref_to(inputs[1], false, "Row"),
        ),
    };
    if inputs.len() != arity {
        return Err(format!(
            "`{path}` takes {} argument{}, not {arity} {}",
            inputs.len(),
            if inputs.len() == 1 { "" } else { "s" },
            wanted()
        ));
    }
    if !args_ok {
        return Err(format!(
            "`{path}` takes arguments of other types {}",
            wanted()
        ));
    }
    let returns = match &f.sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => type_name(ty),
    };
    let expected = match kind {
        Kind::Step => "Outcome",
        Kind::Apply => "CellOutcome",
    };
    match returns.as_deref() {
        Some(name) if name == expected || name == "Result" => Ok(()),
        Some(name) => Err(format!("`{path}` returns `{name}` {}", wanted())),
        None => Err(format!("`{path}` returns nothing {}", wanted())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crate with `mod steps;` and the given `src/steps.rs`.
    fn sources(steps: &str) -> (tempfile::TempDir, Sources) {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("more")).unwrap();
        std::fs::write(
            src.join("main.rs"),
            "mod steps;\nmod inline { pub(crate) fn f(cx: &mut Context) -> Outcome { Ok(()) } }\nfn main() {}\n",
        )
        .unwrap();
        std::fs::write(src.join("steps.rs"), steps).unwrap();
        (dir, Sources::new(src.join("main.rs")))
    }

    const STEPS: &str = "
use semigrate::rust::{CellOutcome, Context, Outcome, Row};
/// Scores.
pub fn score(cx: &mut Context) -> Outcome { Ok(()) }
pub(crate) fn relabel(value: &str, row: &Row<'_>) -> CellOutcome { Ok(value.into()) }
fn hidden(cx: &mut Context) -> Outcome { Ok(()) }
pub fn two(cx: &mut Context, n: u32) -> Outcome { Ok(()) }
pub fn nothing(cx: &mut Context) {}
pub fn number(cx: &mut Context) -> u32 { 1 }
pub fn by_value(cx: Context) -> Outcome { Ok(()) }
pub mod deeper { pub fn g(cx: &mut semigrate::rust::Context<'_>) -> semigrate::rust::Outcome { Ok(()) } }
";

    #[test]
    fn functions_are_found_through_files_and_inline_modules() {
        let (_dir, s) = sources(STEPS);
        assert!(s.resolve("steps::score", Kind::Step).is_ok());
        assert!(s.resolve("steps::relabel", Kind::Apply).is_ok());
        assert!(s.resolve("steps::deeper::g", Kind::Step).is_ok());
        assert!(s.resolve("inline::f", Kind::Step).is_ok());
    }

    #[test]
    fn what_is_missing_is_named() {
        let (_dir, s) = sources(STEPS);
        let e = s.resolve("steps::scor", Kind::Step).unwrap_err();
        assert!(e.contains("has no `fn scor`") && e.contains("score"), "{e}");
        let e = s.resolve("stpes::score", Kind::Step).unwrap_err();
        assert!(e.contains("declares no module `stpes`"), "{e}");
        let e = s.resolve("score", Kind::Step).unwrap_err();
        assert!(e.contains("main.rs has no `fn score`"), "{e}");
    }

    #[test]
    fn signatures_are_checked_for_what_the_spec_uses_them_for() {
        let (_dir, s) = sources(STEPS);
        let e = s.resolve("steps::hidden", Kind::Step).unwrap_err();
        assert!(
            e.contains("is private") && e.contains("pub(crate) fn hidden"),
            "{e}"
        );
        let e = s.resolve("steps::two", Kind::Step).unwrap_err();
        assert!(e.contains("takes 2 arguments, not 1"), "{e}");
        let e = s.resolve("steps::nothing", Kind::Step).unwrap_err();
        assert!(e.contains("returns nothing"), "{e}");
        let e = s.resolve("steps::number", Kind::Step).unwrap_err();
        assert!(e.contains("returns `u32`"), "{e}");
        let e = s.resolve("steps::by_value", Kind::Step).unwrap_err();
        assert!(e.contains("arguments of other types"), "{e}");
        let e = s.resolve("steps::score", Kind::Apply).unwrap_err();
        assert!(e.contains("takes 1 argument, not 2"), "{e}");
    }

    #[test]
    fn the_tokens_ignore_layout_and_comments_but_not_the_body() {
        let (_dir, s) = sources(STEPS);
        let tokens = s.resolve("steps::score", Kind::Step).unwrap();
        let relaid = STEPS.replace(
            "/// Scores.\npub fn score(cx: &mut Context) -> Outcome { Ok(()) }",
            "// a comment\npub fn score(\n    cx: &mut Context,\n) -> Outcome {\n    Ok(())\n}",
        );
        let (_dir2, s2) = sources(&relaid);
        assert_eq!(s2.resolve("steps::score", Kind::Step).unwrap(), tokens);
        let edited = STEPS.replace(
            "Outcome { Ok(()) }\npub(crate)",
            "Outcome { Ok(drop(1)) }\npub(crate)",
        );
        let (_dir3, s3) = sources(&edited);
        assert_ne!(s3.resolve("steps::score", Kind::Step).unwrap(), tokens);
    }

    #[test]
    fn paths_are_identifiers_joined_by_double_colons() {
        for good in ["steps::score", "score", "a::b::c_1"] {
            assert!(is_path(good), "{good}");
        }
        for bad in [
            "",
            "steps::",
            "steps:score",
            "steps::score()",
            "crate::x y",
            "1x",
        ] {
            assert!(!is_path(bad), "{bad}");
        }
    }
}
