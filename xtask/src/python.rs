//! The Python suite (`tests/python`): the real `mlflow` client and server
//! against `arca serve`, run by pytest from a virtual environment of its own.
//!
//! The venv lives at `<target dir>/py-venv` and is made with `python3 -m venv`;
//! `tests/python/requirements.txt` is installed into it whenever it differs
//! from the copy stamped in the venv after the last successful install, so a
//! repeated run costs nothing. pip and pytest are bounded by a timeout each.

use crate::project::{self, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// The most a `pip install` of the requirements may take.
const PIP_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The most the whole pytest run may take.
const PYTEST_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// How long pytest gets to tear its servers down after a SIGTERM.
const TERM_GRACE: Duration = Duration::from_secs(30);

/// The suite's directory, relative to the workspace root.
const SUITE: &str = "tests/python";

/// Makes sure the venv exists and holds the requirements; returns its python.
pub fn ensure_venv() -> Result<PathBuf> {
    let venv = project::target_dir().join("py-venv");
    let python = venv_python(&venv);
    let requirements = project::root().join(SUITE).join("requirements.txt");
    let wanted =
        std::fs::read_to_string(&requirements).map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    let stamp = venv.join("arca-requirements.txt");
    let installed = std::fs::read_to_string(&stamp).ok();
    if installed.as_deref() == Some(wanted.as_str()) && python.is_file() {
        return Ok(python);
    }

    // Never installed into (or its python is gone): start from scratch.
    if installed.is_none() || !python.is_file() {
        if venv.exists() {
            std::fs::remove_dir_all(&venv).map_err(|e| format!("cannot remove {}: {e}", venv.display()))?;
        }
        let mut cmd = Command::new(system_python());
        cmd.args(["-m", "venv"]).arg(&venv);
        if let Err(e) = project::run(&mut cmd) {
            // A half-made venv (no ensurepip, say) would only fail later, less clearly.
            let _ = std::fs::remove_dir_all(&venv);
            return Err(format!(
                "{e}; the Python suite needs python3 with its `venv` module (on Debian: apt-get install python3-venv)"
            ));
        }
    }
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r"])
        .arg(&requirements)
        .current_dir(project::root());
    let started = Instant::now();
    run_bounded(&mut cmd, PIP_TIMEOUT)?;
    eprintln!("pip install took {:.0} s", started.elapsed().as_secs_f64());
    project::write(&stamp, &wanted)?;
    Ok(python)
}

/// Runs the suite with `python` against the `arca` binary and plugin manifest
/// given, with `env` added (the S3 server's endpoint, credentials and bucket,
/// when one runs; the S3 tests skip without it, or fail under `CI`).
pub fn run_pytest(python: &Path, arca: &Path, manifest: &Path, env: &[(&str, String)]) -> Result {
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider", "-rs"])
        .current_dir(project::root())
        .env("ARCA_BIN", arca)
        .env("ARCA_PLUGINS", manifest)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .envs(env.iter().map(|(k, v)| (k, v)));
    run_bounded(&mut cmd, PYTEST_TIMEOUT)
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// The interpreter that makes the venv.
fn system_python() -> &'static str {
    if cfg!(windows) { "python" } else { "python3" }
}

/// Like [`project::run`], but a command still running after `timeout` is
/// stopped (SIGTERM, then a kill after [`TERM_GRACE`]) and reported as failed.
fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result {
    let shown = project::show(cmd);
    eprintln!("$ {shown}");
    let mut child = cmd.spawn().map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    let status = match wait_until(&mut child, Instant::now() + timeout)? {
        Some(status) => status,
        None => {
            eprintln!("`{shown}` still running after {} s: stopping it", timeout.as_secs());
            terminate(&child);
            if wait_until(&mut child, Instant::now() + TERM_GRACE)?.is_none() {
                child.kill().map_err(|e| format!("cannot kill `{shown}`: {e}"))?;
                child.wait().map_err(|e| format!("cannot wait for `{shown}`: {e}"))?;
            }
            return Err(format!("`{shown}` timed out after {} s", timeout.as_secs()));
        }
    };
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// The child's exit status, or `None` if it is still running at `deadline`.
fn wait_until(child: &mut Child, deadline: Instant) -> Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("cannot wait for a child: {e}"))? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(200)));
    }
}

/// Asks the child to stop (pytest turns SIGTERM into an interrupt and stops its servers).
fn terminate(child: &Child) {
    if cfg!(unix) {
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn bounded_commands_report_status_and_are_stopped_at_the_deadline() {
        assert_eq!(run_bounded(&mut Command::new("true"), Duration::from_secs(60)), Ok(()));
        assert!(run_bounded(&mut Command::new("false"), Duration::from_secs(60)).is_err_and(|e| e.contains("failed")));
        let started = Instant::now();
        let mut sleeper = Command::new("sleep");
        sleeper.arg("60");
        let result = run_bounded(&mut sleeper, Duration::from_millis(300));
        assert!(result.is_err_and(|e| e.contains("timed out")));
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    }
}
