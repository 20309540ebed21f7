//! MLflow's file store (`./mlruns`): experiments in `<root>/<exp>/`, deleted
//! ones moved to `<root>/.trash/<exp>/`; runs in `<exp>/<run>/meta.yaml`,
//! logged models in `<exp>/models/<model>/meta.yaml`.
//!
//! A run's directory is removed with its `meta.yaml` last, so a gc stopped
//! half-way leaves a run MLflow and the next gc still find as deleted, and
//! the next gc finishes it.

use super::{Entity, Experiment, GcError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const TRASH: &str = ".trash";
const META: &str = "meta.yaml";
const MODELS: &str = "models";
/// Folders of an experiment that are not runs (MLflow's
/// `RESERVED_EXPERIMENT_FOLDERS`).
const RESERVED: [&str; 4] = ["tags", "datasets", "traces", MODELS];

#[derive(Debug)]
pub struct FileStore {
    root: PathBuf,
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> GcError {
    GcError::Store(format!("cannot {what} {}: {e}", path.display()))
}

/// The top-level scalars of a `meta.yaml` as PyYAML's `safe_dump` writes
/// them: `key: value` at the start of a line, a long value folded onto
/// indented lines, strings plain or quoted; nested values are skipped.
pub fn read_meta(path: &Path) -> Result<BTreeMap<String, String>, GcError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error("read", path, e))?;
    let mut out = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    let finish = |entry: Option<(String, String)>, out: &mut BTreeMap<String, String>| {
        if let Some((k, v)) = entry
            && let Some(v) = scalar(v.trim())
        {
            out.insert(k, v);
        }
    };
    for line in text.lines() {
        if line.starts_with([' ', '\t']) || line.starts_with("- ") {
            // A folded continuation of a scalar, or an item of a nested value.
            if let Some((_, v)) = current.as_mut()
                && !v.is_empty()
            {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        finish(current.take(), &mut out);
        if let Some((k, v)) = line.split_once(':') {
            current = Some((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    finish(current, &mut out);
    Ok(out)
}

/// A YAML scalar's value; `None` for null and for nested values.
fn scalar(v: &str) -> Option<String> {
    match v {
        "" | "null" | "~" | "{}" | "[]" => None,
        _ if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') => Some(v[1..v.len() - 1].replace("''", "'")),
        _ if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') => {
            Some(v[1..v.len() - 1].replace("\\\"", "\"").replace("\\\\", "\\"))
        }
        _ => Some(v.to_owned()),
    }
}

fn number(meta: &BTreeMap<String, String>, key: &str) -> Option<i64> {
    meta.get(key).and_then(|v| v.parse().ok())
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, GcError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("list", dir, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| io_error("list", dir, e))?;
        if e.file_type()
            .map_err(|err| io_error("inspect", &e.path(), err))?
            .is_dir()
        {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl FileStore {
    /// Opens `root` (`./mlruns`, or a `file:` URI's path); it must hold an
    /// MLflow file store.
    pub fn open(root: PathBuf) -> Result<Self, GcError> {
        let ok = root.is_dir()
            && (root.join("0").join(META).is_file() || root.join(TRASH).is_dir() || {
                subdirs(&root)?.iter().any(|d| d.join(META).is_file())
            });
        if !ok {
            return Err(GcError::Store(format!(
                "{} is not an MLflow file store (no experiment with a meta.yaml in it)",
                root.display()
            )));
        }
        Ok(Self { root })
    }

    /// Every experiment directory, active then deleted, with its id and
    /// whether it is in the trash.
    fn experiment_dirs(&self) -> Result<Vec<(PathBuf, bool)>, GcError> {
        let mut out = Vec::new();
        for d in subdirs(&self.root)? {
            let name = name_of(&d);
            if name != TRASH && name != MODELS && d.join(META).is_file() {
                out.push((d, false));
            }
        }
        for d in subdirs(&self.root.join(TRASH))? {
            if d.join(META).is_file() {
                out.push((d, true));
            }
        }
        Ok(out)
    }

    pub fn experiments(&self) -> Result<Vec<Experiment>, GcError> {
        let mut out = Vec::new();
        for (dir, trashed) in self.experiment_dirs()? {
            let meta = read_meta(&dir.join(META))?;
            out.push(Experiment {
                id: meta.get("experiment_id").cloned().unwrap_or_else(|| name_of(&dir)),
                deleted: trashed || meta.get("lifecycle_stage").is_some_and(|s| s == "deleted"),
                last_update_time: number(&meta, "last_update_time"),
            });
        }
        Ok(out)
    }

    /// Every run, with its directory.
    pub fn runs(&self) -> Result<Vec<Entity>, GcError> {
        let mut out = Vec::new();
        for (exp_dir, _) in self.experiment_dirs()? {
            let exp_id = name_of(&exp_dir);
            for dir in subdirs(&exp_dir)? {
                let name = name_of(&dir);
                if RESERVED.contains(&name.as_str()) || name.starts_with('.') || !dir.join(META).is_file() {
                    continue;
                }
                let meta = read_meta(&dir.join(META))?;
                // A meta.yaml whose run id is not its directory's name is not a run's.
                if meta.get("run_id").or_else(|| meta.get("run_uuid")) != Some(&name) {
                    continue;
                }
                out.push(Entity {
                    id: name,
                    experiment_id: meta.get("experiment_id").cloned().unwrap_or_else(|| exp_id.clone()),
                    artifact_uri: meta.get("artifact_uri").cloned(),
                    deleted: meta.get("lifecycle_stage").is_some_and(|s| s == "deleted"),
                    // MLflow's file store collects a deleted run without a
                    // deletion time at any age.
                    changed_ms: number(&meta, "deleted_time").or(Some(i64::MIN)),
                    dir: Some(dir),
                });
            }
        }
        Ok(out)
    }

    pub fn models(&self) -> Result<Vec<Entity>, GcError> {
        let mut out = Vec::new();
        for (exp_dir, _) in self.experiment_dirs()? {
            for dir in subdirs(&exp_dir.join(MODELS))? {
                if !dir.join(META).is_file() {
                    continue;
                }
                let meta = read_meta(&dir.join(META))?;
                let Some(id) = meta.get("model_id").cloned() else {
                    continue;
                };
                out.push(Entity {
                    id,
                    experiment_id: meta.get("experiment_id").cloned().unwrap_or_else(|| name_of(&exp_dir)),
                    artifact_uri: meta.get("artifact_location").cloned(),
                    deleted: meta.get("lifecycle_stage").is_some_and(|s| s == "deleted"),
                    changed_ms: Some(number(&meta, "last_updated_timestamp").unwrap_or(0)),
                    dir: Some(dir),
                });
            }
        }
        Ok(out)
    }

    /// Removes a run's or model's directory, its `meta.yaml` last.
    pub fn purge(&self, entity: &Entity) -> Result<(), GcError> {
        let Some(dir) = &entity.dir else {
            return Ok(());
        };
        remove_meta_last(dir)
    }

    /// Removes a deleted experiment's directory from the trash.
    pub fn purge_experiment(&self, id: &str) -> Result<(), GcError> {
        let dir = self.root.join(TRASH).join(id);
        if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
            return Err(GcError::Store(format!("not an experiment id: {id:?}")));
        }
        remove_meta_last(&dir)
    }
}

/// Removes `dir` with everything in it, its `meta.yaml` last; a directory
/// already gone is success.
fn remove_meta_last(dir: &Path) -> Result<(), GcError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("list", dir, e)),
    };
    for e in entries {
        let e = e.map_err(|e| io_error("list", dir, e))?;
        let path = e.path();
        if e.file_name() == META {
            continue;
        }
        let is_dir = e.file_type().map_err(|err| io_error("inspect", &path, err))?.is_dir();
        let gone = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match gone {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("remove", &path, e)),
        }
    }
    let meta = dir.join(META);
    match std::fs::remove_file(&meta) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("remove", &meta, e)),
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("remove", dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_pyyaml_writes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join(META);
        std::fs::write(
            &p,
            "artifact_location: file:///tmp/mlruns/7\ncreation_time: 1796470258022\n\
             experiment_id: '729677356693918880'\nlifecycle_stage: deleted\n\
             name: my exp with a very long name that goes on and on and on and more text here to\n  wrap the line\n\
             tags: {}\ntrace_location: null\nentry_point_name: ''\nquoted: 'it''s'\n\
             nested:\n  a: 1\n  b: 2\nlist:\n- x\n- y\nlast: \"q \\\"x\\\"\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let m = read_meta(&p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.get("experiment_id").map(String::as_str), Some("729677356693918880"));
        assert_eq!(m.get("lifecycle_stage").map(String::as_str), Some("deleted"));
        assert_eq!(
            m.get("name").map(String::as_str),
            Some("my exp with a very long name that goes on and on and on and more text here to wrap the line")
        );
        assert_eq!(m.get("quoted").map(String::as_str), Some("it's"));
        assert_eq!(m.get("last").map(String::as_str), Some("q \"x\""));
        assert_eq!(m.get("entry_point_name").map(String::as_str), Some(""));
        for absent in ["tags", "trace_location", "nested", "list"] {
            assert!(!m.contains_key(absent), "{absent}: {:?}", m.get(absent));
        }
    }

    #[test]
    fn removes_meta_last_and_tolerates_a_second_pass() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let run = dir.path().join("run");
        std::fs::create_dir_all(run.join("metrics")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(run.join("metrics/m"), "1").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(run.join(META), "run_id: run\n").unwrap_or_else(|e| panic!("{e}"));
        remove_meta_last(&run).unwrap_or_else(|e| panic!("{e}"));
        assert!(!run.exists());
        remove_meta_last(&run).unwrap_or_else(|e| panic!("{e}"));
    }
}
