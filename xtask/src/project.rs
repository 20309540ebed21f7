//! Where things are (workspace root, target directory, artifact names) and how
//! to run cargo: the helpers every task shares.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Task errors are messages for a human: lower case, naming the path or command.
pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root: xtask lives in `<root>/xtask`.
pub fn root() -> PathBuf {
    // Read at run time (`cargo run` sets it), not baked in at compile time:
    // a target directory shared by two checkouts (CI keeps one across fresh
    // clones) holds one xtask binary, which must work on the checkout that
    // ran it, never on the one that happened to compile it.
    let xtask = std::env::var_os("CARGO_MANIFEST_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    xtask.parent().map_or_else(|| xtask.clone(), Path::to_path_buf)
}

/// `$CARGO_TARGET_DIR`, else `<root>/target`, made absolute so that it means
/// the same thing to every cargo we start (they run in the root).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            match std::env::current_dir() {
                Ok(cwd) if dir.is_relative() => cwd.join(dir),
                _ => dir,
            }
        }
        None => root().join("target"),
    }
}

/// A cargo build profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    pub fn new(release: bool) -> Self {
        if release { Self::Release } else { Self::Debug }
    }

    /// Its directory under the target directory.
    pub fn dir(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Release => "release",
        }
    }

    /// The arguments selecting it on a cargo command line.
    pub fn cargo_args(self) -> &'static [&'static str] {
        match self {
            Self::Debug => &[],
            Self::Release => &["--release"],
        }
    }
}

/// The platform's file name for the shared library `stem` (`lib<stem>.so`,
/// `lib<stem>.dylib`, `<stem>.dll`).
pub fn library_file(stem: &str) -> String {
    format!("{}{stem}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

/// The platform's file name for the executable `name`.
pub fn executable_file(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// A cargo command run in the workspace root against our target directory.
/// `$CARGO` is the cargo that started us, so `cargo +toolchain xtask` sticks.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root()).env("CARGO_TARGET_DIR", target_dir());
    cmd
}

/// Runs `cmd` with inherited stdio after echoing it; a non-zero exit is an error.
pub fn run(cmd: &mut Command) -> Result {
    let shown = show(cmd);
    eprintln!("$ {shown}");
    let status = cmd.status().map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// The command as one would type it: the variables we set (except the target
/// directory, which is always set; the values of secret ones hidden), the
/// program's file name, the arguments.
pub fn show(cmd: &Command) -> String {
    let mut words: Vec<String> = cmd
        .get_envs()
        .filter(|(k, _)| *k != "CARGO_TARGET_DIR")
        .filter_map(|(k, v)| {
            let k = k.to_string_lossy();
            let v = if secret(&k) { "***".into() } else { v?.to_string_lossy() };
            Some(format!("{k}={v}"))
        })
        .collect();
    let program = Path::new(cmd.get_program()).file_stem().unwrap_or(OsStr::new("?"));
    words.push(program.to_string_lossy().into_owned());
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// Whether a variable's value must not be shown (keys, passwords, tokens).
fn secret(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    // Azure connection strings and access keys carry account keys.
    [
        "SECRET",
        "PASSWORD",
        "TOKEN",
        "SESSION",
        "CONNECTION_STRING",
        "ACCESS_KEY",
        "SAS",
    ]
    .iter()
    .any(|w| name.contains(w) && name != "AWS_ACCESS_KEY_ID")
}

/// Writes `path`, naming it in the error.
pub fn write(path: &Path, contents: &str) -> Result {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads and parses a TOML file, naming it in the error.
pub fn read_toml(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.parse()
        .map_err(|e: toml::de::Error| format!("{}: {}", path.display(), e.message()))
}

/// `path` relative to the workspace root, with `/` separators, for messages.
pub fn display(path: &Path) -> String {
    match path.strip_prefix(root()) {
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_variables_are_not_shown() {
        let mut cmd = Command::new("true");
        cmd.env("AWS_SECRET_ACCESS_KEY", "hunter2")
            .env("AWS_SESSION_TOKEN", "tok")
            .env("AWS_ACCESS_KEY_ID", "id")
            .env("AZURE_STORAGE_CONNECTION_STRING", "AccountKey=k3y")
            .env("AZURE_STORAGE_ACCESS_KEY", "k3y");
        let shown = show(&cmd);
        assert!(!shown.contains("k3y"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("tok "), "{shown}");
        assert!(
            shown.contains("AWS_SECRET_ACCESS_KEY=***") && shown.contains("AWS_ACCESS_KEY_ID=id"),
            "{shown}"
        );
    }
}
