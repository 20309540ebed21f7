//! `cargo xtask build [--release]`: `arca` and every plugin, with a
//! `plugins.toml` beside `arca` so `target/<profile>/arca` runs as is.

use crate::args::Args;
use crate::plugins::{self, Plugin, Source};
use crate::project::{self, Profile, Result};
use std::path::PathBuf;

/// The host package, always built.
const HOST: &str = "arca-host";
/// The host's feature that builds the `arca` command (the library alone is
/// the default).
pub const HOST_CLI: &str = "arca-host/cli";

pub fn run(args: &[String]) -> Result {
    let mut args = Args::new(args);
    let profile = Profile::new(args.flag("--release"));
    args.finish()?;
    let manifest = build(profile)?;
    println!("wrote {}", manifest.display());
    Ok(())
}

/// Builds `arca` and every plugin, writes `<target>/<profile>/plugins.toml`
/// and returns its path.
pub fn build(profile: Profile) -> Result<PathBuf> {
    let all = plugins::all();
    compile(profile, &all)?;
    let path = project::target_dir().join(profile.dir()).join("plugins.toml");
    project::write(&path, &plugins::manifest(&all, "", "cargo xtask build"))?;
    Ok(path)
}

/// Compiles `arca` and `plugins` into `<target>/<profile>`: one cargo run for
/// the workspace, one per standalone example (same target directory), then
/// checks every library is where the manifests will say it is.
pub fn compile(profile: Profile, plugins: &[&Plugin]) -> Result {
    // Checked before building anything, so a missing example fails at once.
    let examples = plugins::example_manifests(plugins)?;

    let mut cmd = project::cargo();
    cmd.arg("build")
        .args(profile.cargo_args())
        .args(["-p", HOST, "--features", HOST_CLI]);
    for p in plugins.iter().filter(|p| p.source == Source::Workspace) {
        cmd.args(["-p", p.package]);
    }
    project::run(&mut cmd)?;

    let target = project::target_dir();
    for manifest in examples {
        let mut cmd = project::cargo();
        cmd.arg("build")
            .args(profile.cargo_args())
            .arg("--manifest-path")
            .arg(manifest);
        project::run(cmd.arg("--target-dir").arg(&target))?;
    }

    let out = target.join(profile.dir());
    for p in plugins {
        let lib = out.join(p.library_file());
        if !lib.is_file() {
            let hint = "check its library stem in xtask/src/plugins.rs";
            return Err(format!(
                "plugin {}: cargo did not produce {}; {hint}",
                p.name,
                lib.display()
            ));
        }
    }
    Ok(())
}
