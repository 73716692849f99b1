//! Power cuts, not only kills: the example chain's upgrade and downgrade run on a
//! filesystem that forgets what was not made durable (`powerfs`), the power is cut at
//! every named fault point and at random instants, and the rerun must end as a clean
//! run does, or stop with an explicit refusal that names the file, never diverge in
//! silence. `SEMIGRATE_POWER_CUTS=1000` for the long mode.

mod common;
mod powerfs;

use common::{Sandbox, State, build, state};
use powerfs::{Cut, Mounted, Rng};
use std::path::Path;
use std::time::{Duration, Instant};

/// What a run that met a lost file says (see `engine::run::finish_swaps`).
const REFUSAL: &str = "never reached the disk";

/// Copies the files under `from` into `to`.
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A store prepared at `from` in a plain folder, then mounted through `powerfs`: the
/// sandbox's folder is the mount, `backing` what the disk holds.
struct Rig {
    sandbox: Sandbox,
    backing: tempfile::TempDir,
    mounted: Option<Mounted>,
}

impl Rig {
    fn new(binary: &Path, template: &Path) -> Rig {
        let sandbox = Sandbox::with_binary(binary.to_path_buf());
        let backing = tempfile::tempdir().unwrap();
        copy_tree(template, backing.path());
        let mounted = Some(Mounted::new(backing.path(), sandbox.dir.path()).unwrap());
        Rig {
            sandbox,
            backing,
            mounted,
        }
    }

    /// Cuts the power, then powers up again: the mount holds what was durable.
    fn cut_and_restart(&mut self, cut: Cut) {
        self.mounted.take().unwrap().cut(cut);
        self.mounted = Some(Mounted::new(self.backing.path(), self.sandbox.dir.path()).unwrap());
    }
}

/// Runs `args` again after a cut: it must reach `expected`, or refuse naming a file.
/// Returns whether it refused.
fn rerun(rig: &Rig, args: &[&str], expected: &State, what: &str) -> Result<bool, String> {
    let s = &rig.sandbox;
    let r = s.run(&[&["--lock-timeout", "0"][..], args].concat());
    if r.code == 3 && r.stderr.contains(REFUSAL) && r.stderr.contains(".csv") {
        return Ok(true);
    }
    if r.code != 0 {
        return Err(format!(
            "{what}: the rerun failed ({}): {}",
            r.code, r.stderr
        ));
    }
    let found = state(s);
    if &found != expected {
        return Err(format!(
            "{what}: the rerun diverged from a clean run:\n{found:#?}\nexpected:\n{expected:#?}"
        ));
    }
    Ok(false)
}

/// The store of the example chain at `from` (a template to copy), and the state a
/// clean run of `args` from there reaches.
fn prepared(binary: &Path, from: &str, args: &[&str]) -> (Sandbox, State) {
    let template = Sandbox::with_binary(binary.to_path_buf());
    if from != "0.0.0" {
        template.ok(&["upgrade", "--version", from]);
    }
    let clean = Sandbox::with_binary(binary.to_path_buf());
    copy_tree(template.dir.path(), clean.dir.path());
    clean.ok(args);
    (template, state(&clean))
}

#[test]
fn a_power_cut_at_any_fault_point_or_instant_converges_or_names_the_file() {
    let cuts: u64 = std::env::var("SEMIGRATE_POWER_CUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    let b = build(None, &["fault-injection"]);
    assert!(b.ok, "{}", b.output);
    let (_keep, binary) = b.binary.unwrap();
    let up: (&str, &[&str]) = ("1.0.1", &["upgrade"]);
    let down: (&str, &[&str]) = ("2.2.0", &["downgrade", "--version", "1.0.1"]);
    // A new store: its folder, its file, the data folder and the first CSV file.
    let first: (&str, &[&str]) = ("0.0.0", &["upgrade", "--version", "1.0.1"]);
    let (mut converged, mut refused, mut failures) = (0, 0, Vec::new());
    for (from, args) in [up, down, first] {
        let (template, expected) = prepared(&binary, from, args);
        let mut tally = |outcome: Result<bool, String>| match outcome {
            Ok(true) => refused += 1,
            Ok(false) => converged += 1,
            Err(e) => failures.push(e),
        };

        for point in common::FAULT_POINTS {
            let mut rig = Rig::new(&binary, template.dir.path());
            rig.sandbox.crash(args, point);
            rig.cut_and_restart(Cut::Durable);
            let what = format!("{args:?}, power cut at {point}");
            tally(rerun(&rig, args, &expected, &what));
        }

        // How long a run takes on this filesystem, to spread the cuts over it.
        let timing = Rig::new(&binary, template.dir.path());
        let started = Instant::now();
        timing.sandbox.ok(args);
        let length = started.elapsed().as_micros() as u64 + 1;
        drop(timing);

        let mut rng = Rng::new(u64::from(args.len() as u32));
        for i in 0..cuts / 2 {
            let mut rig = Rig::new(&binary, template.dir.path());
            let mut child = rig.sandbox.spawn(args);
            std::thread::sleep(Duration::from_micros(rng.next() % length));
            let _ = child.kill();
            let _ = child.wait();
            let seed = rng.next();
            let cut = if i % 2 == 0 {
                Cut::Durable
            } else {
                Cut::Random(seed)
            };
            rig.cut_and_restart(cut);
            let what = format!("{args:?}, power cut {i} (seed {seed})");
            tally(rerun(&rig, args, &expected, &what));
        }
    }
    eprintln!(
        "power cuts: {} runs, {converged} converged, {refused} refused naming the file, {} diverged",
        converged + refused + failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
