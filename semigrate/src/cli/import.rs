//! `import`: another tool's migrations written as specs (see `crate::import`), the
//! crate's version raised to the last one, and what was found said.

use super::Invocation;
use crate::error::{Error, Result};
use crate::import::{self, EmptyDowns, Stride, Tool};
use crate::model::SemVer;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// What `import` was asked.
pub struct Request {
    pub tool: Tool,
    pub source: PathBuf,
    pub first: Option<SemVer>,
    pub stride: Stride,
    pub empty_downs: EmptyDowns,
    pub acknowledge: bool,
    pub proof_url: Option<String>,
    pub inline: bool,
    pub dir: Option<PathBuf>,
    pub dry_run: bool,
}

pub fn run(context: &Invocation, request: &Request) -> Result<String> {
    let dir = request
        .dir
        .clone()
        .unwrap_or_else(|| super::new::default_dir(context));
    // The crate's version follows the chain, when import writes into its folder.
    let manifest = Path::new("Cargo.toml");
    let manifest = (request.dir.is_none() && manifest.is_file()).then_some(manifest);
    // The newest spec of the folder written in, compiled or not yet.
    let latest = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| crate::spec_file::parse(&e.file_name().to_string_lossy()).ok())
        .map(|s| s.version)
        .max();
    into(context, request, &dir, manifest, latest)
}

/// Imports into the migrations folder `dir` of a chain whose newest version is
/// `latest`, raising the version of the crate's `manifest` when there is one.
pub fn into(
    context: &Invocation,
    request: &Request,
    dir: &Path,
    manifest: Option<&Path>,
    latest: Option<SemVer>,
) -> Result<String> {
    let sources = import::formats::read(request.tool, &request.source, request.empty_downs)
        .map_err(|errors| Error::Usage(errors.join("\n")))?;
    let first = request.first.unwrap_or(match latest {
        Some(v) => SemVer::new(v.major, v.minor + 1, 0),
        None => SemVer::new(0, 1, 0),
    });
    if let Some(latest) = latest.filter(|l| first <= *l) {
        return Err(Error::Usage(format!(
            "--first {first} does not follow {latest}, the newest version in {}",
            dir.display()
        )));
    }
    let mut imported = import::map(sources, first, request.stride);
    let last = imported.last().map_or(first, |i| i.version);
    let mut out = String::new();
    if request.dry_run {
        for i in &imported {
            let _ = writeln!(
                out,
                "{:<10} {}  {}",
                i.version.to_string(),
                i.file(),
                i.origin(request.tool)
            );
        }
        return Ok(out);
    }
    let unanswered = match request.acknowledge {
        true => import::acknowledge(&mut imported, request.proof_url.as_deref())?,
        false => Vec::new(),
    };
    let files = import::files(&imported, request.tool, request.inline);
    import::write(dir, &files)?;
    let n = imported.len();
    context.say(format!(
        "imported {n} {} migration{} as {first} ... {last} into {}",
        request.tool.name(),
        if n == 1 { "" } else { "s" },
        dir.display()
    ));
    for i in imported.iter().filter(|i| !i.source.notes.is_empty()) {
        context.say(format!("  {}: {}", i.file(), i.source.notes.join("; ")));
    }
    if request.acknowledge {
        let leaves = imported.iter().filter(|i| !i.leaves.is_empty()).count();
        let fails = imported.iter().filter(|i| i.down_fails.is_some()).count();
        let classes = imported.iter().flat_map(|i| &i.leaves).count();
        context.say(format!(
            "the proof found {leaves} down{} that leave{} part of the up ({classes} difference{}, acknowledged in `down_leaves`) and {fails} that fail{} (made irreversible); each spec's comments say what",
            if leaves == 1 { "" } else { "s" },
            if leaves == 1 { "s" } else { "" },
            if classes == 1 { "" } else { "s" },
            if fails == 1 { "s" } else { "" },
        ));
        for why in &unanswered {
            context.say(format!("not acknowledged, to fix by hand: {why}"));
        }
    }
    if let Some(manifest) = manifest {
        if let Some(was) = import::raise_package_version(manifest, last)?
            && was < last
        {
            context.say(format!("{}: version {was} -> {last}", manifest.display()));
        }
    } else {
        context.say(format!(
            "raise the chain crate's version to {last} in its Cargo.toml, then `cargo build` proves the chain"
        ));
    }
    Ok(String::new())
}
