//! The plugins xtask builds and packages. Adding a plugin is one line in
//! [`PLUGINS`]; everything else (builds, manifests, dist, tests) follows.

use crate::project::{self, Result};
use std::path::{Path, PathBuf};

/// Where a plugin's crate lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A member of the Arca workspace, built with `cargo build -p <package>`.
    Workspace,
    /// A standalone cargo project (path relative to the workspace root), built
    /// with `--manifest-path` into the workspace's target directory.
    Example(&'static str),
}

/// One plugin: its name in manifests, its cargo package, the stem of the
/// library cargo produces (`arca_plugin_local` for `libarca_plugin_local.so`),
/// the URI schemes it serves and where its crate lives.
#[derive(Debug)]
pub struct Plugin {
    pub name: &'static str,
    pub package: &'static str,
    pub library: &'static str,
    pub schemes: &'static [&'static str],
    pub source: Source,
}

use Source::{Example, Workspace};

const fn plugin(
    name: &'static str,
    package: &'static str,
    library: &'static str,
    schemes: &'static [&'static str],
    source: Source,
) -> Plugin {
    Plugin {
        name,
        package,
        library,
        schemes,
        source,
    }
}

/// Every plugin, in manifest order: (name, package, library stem, schemes, source).
#[rustfmt::skip]
pub const PLUGINS: &[Plugin] = &[
    plugin("local",  "arca-plugin-local",  "arca_plugin_local",  &["file"],   Workspace),
    plugin("memory", "arca-plugin-memory", "arca_plugin_memory", &["memory"], Example("examples/plugin-memory")),
    plugin("s3",     "arca-plugin-s3",     "arca_plugin_s3",     &["s3"],     Workspace),
    plugin("azure",  "arca-plugin-azure",  "arca_plugin_azure",  &["wasbs", "abfss"], Workspace),
    plugin("gcs",    "arca-plugin-gcs",    "arca_plugin_gcs",    &["gs"],     Workspace),
    plugin("ftp",    "arca-plugin-ftp",    "arca_plugin_ftp",    &["ftp", "ftps"], Workspace),
    plugin("sftp",   "arca-plugin-sftp",   "arca_plugin_sftp",   &["sftp"],   Workspace),
    plugin("hdfs",   "arca-plugin-hdfs",   "arca_plugin_hdfs",   &["hdfs", "viewfs"], Workspace),
];

impl Plugin {
    /// The library's file name on this platform.
    pub fn library_file(&self) -> String {
        project::library_file(self.library)
    }
}

/// Every plugin.
pub fn all() -> Vec<&'static Plugin> {
    PLUGINS.iter().collect()
}

/// The plugins named in a comma-separated list, in table order; `None` means all.
pub fn select(names: Option<&str>) -> Result<Vec<&'static Plugin>> {
    let Some(names) = names else { return Ok(all()) };
    let wanted: Vec<&str> = names.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    if wanted.is_empty() {
        return Err(format!("--plugins names no plugin; known plugins: {}", known()));
    }
    if let Some(unknown) = wanted.iter().find(|w| !PLUGINS.iter().any(|p| p.name == **w)) {
        return Err(format!("unknown plugin `{unknown}`; known plugins: {}", known()));
    }
    Ok(PLUGINS.iter().filter(|p| wanted.contains(&p.name)).collect())
}

fn known() -> String {
    PLUGINS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

/// The standalone example projects among `plugins`, as the paths of their
/// `Cargo.toml` relative to the workspace root (where cargo runs), checked to
/// exist.
pub fn example_manifests(plugins: &[&Plugin]) -> Result<Vec<PathBuf>> {
    let mut manifests: Vec<PathBuf> = Vec::new();
    for p in plugins {
        let Example(dir) = p.source else { continue };
        let manifest = Path::new(dir).join("Cargo.toml");
        if !project::root().join(&manifest).is_file() {
            return Err(format!(
                "plugin {}: its project {} is missing",
                p.name,
                manifest.display()
            ));
        }
        if !manifests.contains(&manifest) {
            manifests.push(manifest);
        }
    }
    Ok(manifests)
}

/// The text of a `plugins.toml` listing `plugins`, whose libraries are at
/// `<lib_dir><library file>` relative to the manifest (`lib_dir` is empty or
/// ends with `/`). `by` names the task writing it.
pub fn manifest(plugins: &[&Plugin], lib_dir: &str, by: &str) -> String {
    let mut out = format!("# Written by `{by}`. Library paths are relative to this file.\n");
    for p in plugins {
        let schemes: Vec<String> = p.schemes.iter().map(|s| quote(s)).collect();
        out.push_str(&format!(
            "\n[[plugin]]\nname = {}\nlibrary = {}\nschemes = [{}]\n",
            quote(p.name),
            quote(&format!("{lib_dir}{}", p.library_file())),
            schemes.join(", ")
        ));
    }
    out
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, p) in PLUGINS.iter().enumerate() {
            assert!(!p.schemes.is_empty(), "plugin {} serves no scheme", p.name);
            for q in &PLUGINS[i + 1..] {
                assert_ne!(p.name, q.name);
                assert!(
                    p.schemes.iter().all(|s| !q.schemes.contains(s)),
                    "{} and {} share a scheme",
                    p.name,
                    q.name
                );
            }
        }
    }

    #[test]
    fn selection_follows_the_table_and_names_unknown_plugins() {
        let names = |v: Vec<&Plugin>| v.iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(select(None).map(names), Ok(PLUGINS.iter().map(|p| p.name).collect()));
        assert_eq!(
            select(Some(" memory,local,local")).map(names),
            Ok(vec!["local", "memory"])
        );
        let err = select(Some("local,nope")).err().unwrap_or_default();
        assert!(err.contains("`nope`") && err.contains("local, memory"), "{err}");
        assert!(select(Some(",")).is_err());
    }

    #[test]
    fn manifest_parses_as_toml() {
        let text = manifest(&all(), "../plugins/", "test");
        let parsed: toml::Table = text.parse().unwrap_or_default();
        let Some(toml::Value::Array(entries)) = parsed.get("plugin") else {
            panic!("no [[plugin]] in {text}")
        };
        assert_eq!(entries.len(), PLUGINS.len());
        let local = &entries[0];
        assert_eq!(local.get("name").and_then(|v| v.as_str()), Some("local"));
        let lib = format!("../plugins/{}", project::library_file("arca_plugin_local"));
        assert_eq!(local.get("library").and_then(|v| v.as_str()), Some(lib.as_str()));
    }
}
