//! `cargo xtask test`: everything CI checks, in order:
//!
//! 1. `cargo xtask build` (debug) and the loader fixtures (`tests/fixtures/*`);
//! 2. `cargo test --workspace --no-fail-fast`, told where the manifest, fixtures and `arca` are,
//!    with a fresh radosgw (`servers::ceph`) for the conformance suite's `s3://` run when Ceph
//!    is installed (required when `CI` is set); the same radosgw stays up for step 4;
//! 3. each standalone example's own tests;
//! 4. the Python suite (`tests/python`: the real `mlflow` client and server
//!    against `arca serve`, including `arca serve` on an `s3://` destination in
//!    that radosgw), in a venv under the target directory; `--no-python`
//!    skips it for a quick local run (CI runs everything); radosgw is stopped after it;
//! 5. tidy.
//!
//! A build failure stops at once; after that every step runs and the failures
//! are listed at the end, so one CI run shows all of them.

use crate::args::Args;
use crate::plugins;
use crate::project::{self, Profile, Result};
use crate::python;
use crate::servers::ceph::{self, Ceph};
use crate::tidy;

pub fn run(args: &[String]) -> Result {
    let mut args = Args::new(args);
    let with_python = !args.flag("--no-python");
    args.finish()?;
    let manifest = crate::build::build(Profile::Debug)?;
    let fixtures = fixture_packages()?;
    if !fixtures.is_empty() {
        let mut cmd = project::cargo();
        cmd.arg("build");
        for f in &fixtures {
            cmd.args(["-p", f]);
        }
        project::run(&mut cmd)?;
    }

    let target = project::target_dir();
    let out = target.join(Profile::Debug.dir());
    let arca = out.join(project::executable_file("arca"));
    let mut failed: Vec<String> = Vec::new();
    let mut step = |result: Result| {
        if let Err(e) = result {
            eprintln!("error: {e}");
            failed.push(e);
        }
    };

    // One radosgw serves both the conformance suite's `s3://` run and the
    // Python suite's S3 proxy tests; it is stopped (by its guard) after pytest.
    let mut ceph = match start_s3() {
        Ok(ceph) => ceph,
        // Everything but S3 can still be tested: report the failure and go on.
        Err(e) => {
            step(Err(e));
            None
        }
    };
    let s3_env: Vec<(&str, String)> = match &ceph {
        Some(ceph) => {
            let mut env = ceph.env();
            env.push(("ARCA_S3_TEST_BUCKET", ceph::BUCKET.to_owned()));
            env
        }
        None => Vec::new(),
    };
    {
        let mut cmd = project::cargo();
        // The host's server and command modules have unit tests too.
        cmd.args([
            "test",
            "--workspace",
            "--no-fail-fast",
            "--features",
            crate::build::HOST_CLI,
        ])
        .env("ARCA_PLUGINS", &manifest)
        .env("ARCA_FIXTURES_DIR", &out)
        .env("ARCA_BIN", &arca)
        .envs(s3_env.iter().cloned());
        if ceph.is_some() {
            cmd.env(
                "ARCA_CONFORMANCE_EXTRA_URIS",
                format!("s3://{}/conformance", ceph::BUCKET),
            );
        }
        step(project::run(&mut cmd));
    }
    if !with_python {
        ceph = None;
    }
    match plugins::example_manifests(&plugins::all()) {
        Ok(examples) => {
            for example in examples {
                let mut cmd = project::cargo();
                cmd.arg("test")
                    .arg("--manifest-path")
                    .arg(example)
                    .arg("--target-dir")
                    .arg(&target);
                step(project::run(&mut cmd));
            }
        }
        Err(e) => step(Err(e)),
    }
    if with_python {
        step(python::ensure_venv().and_then(|py| python::run_pytest(&py, &arca, &manifest, &s3_env)));
    }
    drop(ceph);
    step(tidy::run(&[]));

    match failed.len() {
        0 => Ok(()),
        n => Err(format!("{n} step(s) failed:\n  {}", failed.join("\n  "))),
    }
}

/// How many fresh clusters are tried.
const ATTEMPTS: u32 = 2;

/// Starts radosgw for the conformance suite's `s3://` run when Ceph is
/// installed. Without it, CI (`CI` set) fails, since the S3 plugin would go
/// untested; a local run only warns.
fn start_s3() -> Result<Option<Ceph>> {
    if ceph::available() {
        // A fresh one-node cluster occasionally fails to come up on a busy
        // machine; a second fresh one (new directory, new ports) is tried
        // before giving up.
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match Ceph::start() {
                Ok(c) => return Ok(Some(c)),
                Err(e) => {
                    eprintln!("warning: radosgw start {attempt} of {ATTEMPTS} failed: {e}");
                    last = e;
                }
            }
        }
        return Err(format!("cannot start radosgw for the s3 tests: {last}"));
    }
    let missing = ceph::PROGRAMS.join(", ");
    if std::env::var_os("CI").is_some() {
        return Err(format!(
            "CI is set but Ceph is not installed (need {missing}): the s3 plugin cannot be tested; \
             install the Debian packages radosgw ceph-mon ceph-osd (.ci/run does)"
        ));
    }
    eprintln!(
        "warning: Ceph is not installed (need {missing}), so the s3 plugin was not tested; \
         `apt-get install radosgw ceph-mon ceph-osd` to test it"
    );
    Ok(None)
}

/// The packages under `tests/fixtures/*/Cargo.toml`, so a new fixture needs no
/// change here (it must still be listed in the workspace's `members`).
fn fixture_packages() -> Result<Vec<String>> {
    let dir = project::root().join("tests").join("fixtures");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let manifest = entry.path().join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let toml = project::read_toml(&manifest)?;
        match toml.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str()) {
            Some(name) => names.push(name.to_owned()),
            None => return Err(format!("{}: no package name", project::display(&manifest))),
        }
    }
    names.sort();
    Ok(names)
}
