//! Arca's task runner: `cargo xtask <task>` (the alias lives in `.cargo/config.toml`).
//!
//! Build orchestration is written here, in Rust, rather than in Makefiles or
//! shell scripts, so it runs the same on every platform and CI only has to call
//! `cargo xtask test`. This file only dispatches: each task is one module, and
//! a new task is one `mod` line and one match arm.

mod args;
mod bench;
mod build;
mod dist;
mod plugins;
mod project;
mod python;
mod run;
mod servers;
mod test;
mod tidy;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match task {
        "build" => build::run(rest),
        "dist" => dist::run(rest),
        "test" => test::run(rest),
        "tidy" => tidy::run(rest),
        "bench" => bench::run(rest),
        "run" => run::run(rest),
        "help" | "--help" | "-h" => {
            print!("{}", usage());
            Ok(())
        }
        other => Err(format!("unknown task `{other}`; run `cargo xtask help` for the list")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> String {
    let names: Vec<&str> = plugins::PLUGINS.iter().map(|p| p.name).collect();
    format!(
        "\
Usage: cargo xtask <task> [options]

Tasks:
  build [--release]         build `arca` and every plugin, then write plugins.toml beside `arca`
                            (target/<profile>/plugins.toml), so target/debug/arca works as is
  dist [--plugins a,b,...] [--release]
                            build, then lay out a relocatable target/dist/ with bin/arca,
                            bin/plugins.toml and plugins/ (default: every plugin)
  run [--release] [-- ARGS]  build, then run target/<profile>/arca ARGS in this directory
  test [--no-python]        build, build the loader fixtures, run every test (the Python suite in
                            tests/python too, from a venv in <target>/py-venv, unless --no-python),
                            then tidy
  test hdfs-kerberos        one of the last hdfs steps of `test`: the hdfs plugin against a Kerberos-
                            secured MiniDFSCluster (MiniKdc): default credentials, the conformance
                            suite, then MLflow's ticket cache alone
  test hdfs-ha              the other: an HA pair of NameNodes and a ViewFS mount table, the
                            conformance suite through viewfs:// and a NameNode fail-over
  tidy                      check file lengths, crate manifests, machine paths and required docs
  bench [local|server|s3|azure|gcs|ftp|sftp|hdfs|client|gc|all] [--runs N]
                            run the benchmarks (release build) and write their part of BENCHMARKS.md
                            (s3, azure, gcs, ftp, sftp and hdfs start their own server; sftp also runs
                            OpenSSH's sftp and scp; client drives arca serve, mlflow server and nginx
                            with the MLflow client, locally and on radosgw; gc times arca gc against
                            mlflow gc; --size-mib N and --files N shrink their inputs while working
                            on them)
  help                      show this text

Plugins: {}
The target directory is $CARGO_TARGET_DIR if set, else target/ in the workspace.
",
        names.join(", ")
    )
}
