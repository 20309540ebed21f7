//! `cargo xtask run [--release] [--] ARGS…`: builds `arca` and every plugin,
//! then runs `target/<profile>/arca ARGS…` in the caller's directory. It is
//! the README's one command for a fresh machine.

use crate::build;
use crate::project::{self, Profile, Result};

pub fn run(args: &[String]) -> Result {
    let (release, rest) = match args.first().map(String::as_str) {
        Some("--release") => (true, &args[1..]),
        _ => (false, args),
    };
    let rest = match rest.first().map(String::as_str) {
        Some("--") => &rest[1..],
        _ => rest,
    };
    let profile = Profile::new(release);
    build::build(profile)?;
    let arca = project::target_dir()
        .join(profile.dir())
        .join(project::executable_file("arca"));
    let status = std::process::Command::new(&arca)
        .args(rest)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", arca.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("arca exited with {status}"))
    }
}
