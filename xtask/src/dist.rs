//! `cargo xtask dist [--plugins a,b,...] [--release]`: a relocatable
//! `<target>/dist/`:
//!
//! ```text
//! dist/bin/arca
//! dist/bin/plugins.toml     library = "../plugins/lib….so"
//! dist/plugins/lib….so
//! ```
//!
//! The manifest sits in `bin/` because `arca` looks for `plugins.toml` beside
//! its executable; its library paths are relative, so the tree can be moved.

use crate::args::Args;
use crate::plugins;
use crate::project::{self, Profile, Result};
use std::fs;
use std::path::Path;

pub fn run(args: &[String]) -> Result {
    let mut args = Args::new(args);
    let profile = Profile::new(args.flag("--release"));
    let selected = plugins::select(args.value("--plugins")?.as_deref())?;
    args.finish()?;

    crate::build::compile(profile, &selected)?;

    let target = project::target_dir();
    let from = target.join(profile.dir());
    let dist = target.join("dist");
    if dist.exists() {
        fs::remove_dir_all(&dist).map_err(|e| format!("cannot remove {}: {e}", dist.display()))?;
    }
    let (bin, libs) = (dist.join("bin"), dist.join("plugins"));
    for dir in [&bin, &libs] {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    copy(&from, &bin, &project::executable_file("arca"))?;
    for p in &selected {
        copy(&from, &libs, &p.library_file())?;
    }
    project::write(
        &bin.join("plugins.toml"),
        &plugins::manifest(&selected, "../plugins/", "cargo xtask dist"),
    )?;

    let names: Vec<&str> = selected.iter().map(|p| p.name).collect();
    println!(
        "wrote {} ({} build; plugins: {})",
        dist.display(),
        profile.dir(),
        names.join(", ")
    );
    Ok(())
}

fn copy(from: &Path, to: &Path, file: &str) -> Result {
    let (src, dst) = (from.join(file), to.join(file));
    fs::copy(&src, &dst).map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), dst.display()))?;
    Ok(())
}
