//! `arca gc`: permanently removes what MLflow marked deleted (runs, logged
//! models, experiments) and their artifacts, reading MLflow's backend store
//! directly (no tracking server needed).
//!
//! Order, per entity: its artifacts (through the store's plugin), then the
//! `<exp>/<id>/` directory MLflow leaves around them if it is now empty,
//! then its metadata, in a transaction that removes whole entities (every
//! one whose artifacts are gone by then, up to [`BATCH`]) while the next
//! entities' artifacts are being removed. A gc stopped at any point leaves
//! each entity either whole in the backend store (its artifacts perhaps
//! gone: the next gc finishes it, deleting a missing path is success) or
//! gone from it; experiments go after all their runs.

mod files;
mod sql;
mod target;

use super::{CliResult, Failure, GcArgs, usage};
use arca_core::{ArtifactPath, Error, ErrorKind};
use arca_host::{Registry, Store};
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};
use target::Target;

/// A run or a logged model as the backend store has it.
#[derive(Debug, Clone)]
pub struct Entity {
    pub id: String,
    pub experiment_id: String,
    /// `artifact_uri` of a run, `artifact_location` of a model.
    pub artifact_uri: Option<String>,
    pub deleted: bool,
    /// When it was deleted (a run's `deleted_time`, a model's last update), ms.
    pub changed_ms: Option<i64>,
    /// Its directory, in a file store.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Experiment {
    pub id: String,
    pub deleted: bool,
    pub last_update_time: Option<i64>,
}

#[derive(Debug)]
pub enum GcError {
    /// The command line asks for something impossible (exit 2).
    Usage(String),
    /// The backend store refused or could not be read (exit 1).
    Store(String),
}

impl std::fmt::Display for GcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GcError::Usage(m) | GcError::Store(m) => f.write_str(m),
        }
    }
}

impl From<GcError> for Failure {
    fn from(e: GcError) -> Self {
        match e {
            GcError::Usage(m) => Failure::Usage(m),
            GcError::Store(m) => Failure::Failed(vec![Error::new(ErrorKind::UNEXPECTED, m)]),
        }
    }
}

enum Backend {
    Sql(sql::SqlStore),
    Files(files::FileStore),
}

impl Backend {
    async fn open(uri: &str, jobs: u32) -> Result<Self, GcError> {
        let scheme = arca_host::uri::scheme_of(uri);
        let is_sql = ["sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql"]
            .iter()
            .any(|d| scheme == *d || scheme.starts_with(&format!("{d}+")));
        if is_sql {
            return Ok(Backend::Sql(sql::SqlStore::open(uri, jobs).await?));
        }
        let path = if arca_host::uri::has_scheme(uri) {
            if scheme != "file" {
                return Err(GcError::Usage(format!(
                    "{}: a backend store is a database URI (sqlite:///…, postgresql://…, mysql://…) or a \
                     file store's directory",
                    arca_host::uri::redact(uri)
                )));
            }
            let (_, p) = arca_host::uri::split(uri).map_err(|e| GcError::Usage(e.message))?;
            PathBuf::from(format!("/{}", p.as_str()))
        } else {
            PathBuf::from(uri)
        };
        Ok(Backend::Files(files::FileStore::open(path)?))
    }

    async fn runs(&self, ids: Option<&[String]>) -> Result<Vec<Entity>, GcError> {
        match self {
            Backend::Sql(s) => s.runs(ids).await,
            Backend::Files(f) => Ok(select(f.runs()?, ids)),
        }
    }

    async fn models(&self, ids: Option<&[String]>) -> Result<Vec<Entity>, GcError> {
        match self {
            Backend::Sql(s) => s.models(ids).await,
            Backend::Files(f) => Ok(select(f.models()?, ids)),
        }
    }

    async fn experiments(&self, ids: Option<&[String]>) -> Result<Vec<Experiment>, GcError> {
        match self {
            Backend::Sql(s) => s.experiments(ids).await,
            Backend::Files(f) => Ok(f
                .experiments()?
                .into_iter()
                .filter(|e| ids.map_or(e.deleted, |ids| ids.contains(&e.id)))
                .collect()),
        }
    }

    async fn runs_of(&self, experiments: &[String]) -> Result<Vec<Entity>, GcError> {
        match self {
            Backend::Sql(s) => s.runs_of(experiments).await,
            Backend::Files(f) => Ok(f
                .runs()?
                .into_iter()
                .filter(|r| r.deleted && experiments.contains(&r.experiment_id))
                .collect()),
        }
    }

    /// Removes a run's or model's metadata; `false` if it is no longer deleted.
    /// Removes the metadata of entities of one kind (one transaction on a
    /// SQL store); returns the ids removed (one restored meanwhile is not).
    async fn purge(&self, kind: Kind, entities: &[&Entity]) -> Result<Vec<String>, GcError> {
        match self {
            Backend::Sql(s) => {
                let ids: Vec<&str> = entities.iter().map(|e| e.id.as_str()).collect();
                s.purge(kind, &ids).await
            }
            Backend::Files(f) => {
                let mut gone = Vec::new();
                for e in entities {
                    f.purge(e)?;
                    gone.push(e.id.clone());
                }
                Ok(gone)
            }
        }
    }

    async fn purge_experiment(&self, id: &str) -> Result<bool, GcError> {
        match self {
            Backend::Sql(s) => s.purge_experiment(id).await,
            Backend::Files(f) => f.purge_experiment(id).map(|()| true),
        }
    }
}

/// `all` narrowed to the deleted ones (`ids` is `None`) or to those named.
fn select(all: Vec<Entity>, ids: Option<&[String]>) -> Vec<Entity> {
    all.into_iter()
        .filter(|e| ids.map_or(e.deleted, |ids| ids.contains(&e.id)))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Run,
    Model,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Model => "logged model",
        }
    }
}

/// One entity to collect.
#[derive(Debug)]
struct Item {
    kind: Kind,
    entity: Entity,
    target: Option<Target>,
    /// Why its artifacts cannot be reached: it is kept, since collecting it
    /// without them would leave them behind for good.
    unresolved: Option<String>,
}

/// What was (or would be) removed.
#[derive(Debug, Default)]
struct Tally {
    runs: u64,
    models: u64,
    experiments: u64,
    files: u64,
    bytes: u64,
}

fn split_ids(list: &Option<String>) -> Option<Vec<String>> {
    list.as_ref().map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The plan: checked against the backend store before anything is deleted.
async fn plan(backend: &Backend, a: &GcArgs) -> Result<(Vec<Item>, Vec<String>), GcError> {
    let older = a
        .older_than
        .as_deref()
        .map(target::parse_older_than)
        .transpose()
        .map_err(GcError::Usage)?;
    let cutoff = now_ms() - older.unwrap_or(0);
    let run_ids = split_ids(&a.run_ids);
    let exp_ids = split_ids(&a.experiment_ids);
    let model_ids = split_ids(&a.logged_model_ids);
    let named = run_ids.is_some() || exp_ids.is_some() || model_ids.is_some();
    let old_enough = |e: &Entity| e.changed_ms.is_some_and(|t| t <= cutoff);
    let mut problems = Vec::new();

    // Runs: those named, or every deleted one old enough.
    let mut runs: BTreeMap<String, Entity> = BTreeMap::new();
    let age = a.older_than.as_deref().unwrap_or_default();
    // The named entities of a kind that may go; a problem for each other one.
    let check_named = |kind: Kind, ids: &[String], found: Vec<Entity>, problems: &mut Vec<String>| {
        let name = kind.name();
        let mut ok = Vec::new();
        for id in ids {
            match found.iter().find(|e| &e.id == id) {
                None => problems.push(format!("{name} {id} does not exist")),
                Some(e) if !e.deleted => problems.push(format!(
                    "{name} {id} is not deleted (only {name}s in the deleted lifecycle stage can be collected)"
                )),
                Some(e) if older.is_some() && !old_enough(e) => {
                    problems.push(format!("{name} {id} was deleted less than {age} ago"));
                }
                Some(e) => ok.push(e.clone()),
            }
        }
        ok
    };
    if let Some(ids) = &run_ids {
        let found = backend.runs(Some(ids)).await?;
        for r in check_named(Kind::Run, ids, found, &mut problems) {
            runs.insert(r.id.clone(), r);
        }
    } else if !named {
        for r in backend.runs(None).await? {
            if old_enough(&r) {
                runs.insert(r.id.clone(), r);
            }
        }
    }

    // Experiments: those named, or every deleted one (last updated before
    // the cut-off, with --older-than), then their deleted runs.
    let experiments: Vec<Experiment> = if let Some(ids) = &exp_ids {
        let found = backend.experiments(Some(ids)).await?;
        let mut out = Vec::new();
        for id in ids {
            match found.iter().find(|e| &e.id == id) {
                None => problems.push(format!("experiment {id} does not exist")),
                Some(e) if !e.deleted => problems.push(format!(
                    "experiment {id} is not deleted (only experiments in the deleted lifecycle stage can be collected)"
                )),
                Some(e) if older.is_some() && e.last_update_time.is_none_or(|t| t >= cutoff) => {
                    problems.push(format!("experiment {id} was deleted less than {age} ago"));
                }
                Some(e) => out.push(e.clone()),
            }
        }
        out
    } else if !named {
        backend
            .experiments(None)
            .await?
            .into_iter()
            .filter(|e| older.is_none() || e.last_update_time.is_some_and(|t| t < cutoff))
            .collect()
    } else {
        Vec::new()
    };
    let exp_list: Vec<String> = experiments.iter().map(|e| e.id.clone()).collect();
    if !exp_list.is_empty() {
        for r in backend.runs_of(&exp_list).await? {
            if older.is_some() && !old_enough(&r) {
                problems.push(format!(
                    "run {} of experiment {} was deleted less than {age} ago",
                    r.id, r.experiment_id
                ));
                continue;
            }
            runs.insert(r.id.clone(), r);
        }
    }

    // Logged models: those named, or every deleted one old enough.
    let mut models = Vec::new();
    if let Some(ids) = &model_ids {
        let found = backend.models(Some(ids)).await?;
        models = check_named(Kind::Model, ids, found, &mut problems);
    } else if !named {
        models = backend.models(None).await?.into_iter().filter(old_enough).collect();
    }

    if !problems.is_empty() {
        return Err(GcError::Usage(format!("nothing was deleted: {}", problems.join("; "))));
    }
    let destination = a.artifacts_destination.as_deref();
    let items = runs
        .into_values()
        .map(|e| (Kind::Run, e))
        .chain(models.into_iter().map(|e| (Kind::Model, e)))
        .map(|(kind, entity)| {
            let resolved = entity
                .artifact_uri
                .as_deref()
                .filter(|u| !u.is_empty())
                .map(|u| target::resolve(u, destination))
                .transpose();
            let (target, unresolved) = match resolved {
                Ok(t) => (t, None),
                Err(e) => (None, Some(e)),
            };
            Item {
                kind,
                entity,
                target,
                unresolved,
            }
        })
        .collect();
    Ok((items, exp_list))
}

/// Opened stores, one per store URI.
#[derive(Default)]
struct Stores {
    open: tokio::sync::Mutex<HashMap<String, Store>>,
}

impl Stores {
    async fn get(&self, reg: &Registry, uri: &str) -> Result<Store, Error> {
        let mut open = self.open.lock().await;
        if let Some(s) = open.get(uri) {
            return Ok(s.clone());
        }
        let s = reg.open(uri).await?;
        open.insert(uri.to_owned(), s.clone());
        Ok(s)
    }
}

/// Counts the files and bytes under `t` (nothing if it is gone).
async fn measure(store: &Store, path: &ArtifactPath) -> Result<(u64, u64), Error> {
    match store.walk(path).await {
        Ok(files) => Ok((files.len() as u64, files.iter().map(|f| f.size).sum())),
        Err(e) if e.kind == ErrorKind::NOT_FOUND => Ok((0, 0)),
        Err(e) => Err(e),
    }
}

/// Removes one entity's artifacts (and the directory MLflow leaves around
/// them, if now empty); returns the files and bytes removed.
async fn remove_artifacts(reg: &Registry, stores: &Stores, item: &Item) -> Result<(u64, u64), String> {
    let what = format!("{} {}", item.kind.name(), item.entity.id);
    if let Some(err) = &item.unresolved {
        return Err(format!("{what} kept: {err}"));
    }
    let Some(t) = &item.target else {
        return Ok((0, 0));
    };
    let fail = |e: Error| format!("{what} kept: its artifacts at {}: {e}", t.shown);
    let store = stores.get(reg, &t.store).await.map_err(fail)?;
    let path = ArtifactPath::parse(&t.path).map_err(|e| format!("{what} kept: {}: {e}", t.shown))?;
    let counted = measure(&store, &path).await.map_err(fail)?;
    store.delete(&path).await.map_err(fail)?;
    if let Some(dir) = target::leftover_dir(&t.path, &item.entity.id)
        && let Ok(dir) = ArtifactPath::parse(&dir)
    {
        // Only if nothing else is in it (a file store's run directory
        // holds its metadata; that goes with the metadata).
        if store.list(&dir).await.is_ok_and(|entries| entries.is_empty()) {
            store.delete(&dir).await.map_err(fail)?;
        }
    }
    Ok(counted)
}

/// Most entities whose metadata one transaction removes.
const BATCH: usize = 500;

/// What the collection came to.
#[derive(Default)]
struct Outcome {
    tally: Tally,
    errors: Vec<String>,
    kept: Vec<String>,
    /// Experiments some of whose runs stayed: they stay too.
    blocked: BTreeSet<String>,
}

impl Outcome {
    fn failed(&mut self, item: &Item, message: String) {
        self.blocked.insert(item.entity.experiment_id.clone());
        self.errors.push(message);
    }
}

/// Collects `items`: artifacts `jobs` at a time; metadata as the artifacts
/// of entities are gone, every entity that is ready by then in one
/// transaction (each whole), while the next artifacts are being removed.
async fn collect(
    reg: &Registry,
    stores: &Stores,
    backend: &Backend,
    items: &[Item],
    jobs: usize,
    pb: &indicatif::ProgressBar,
) -> Outcome {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, Result<(u64, u64), String>)>(BATCH * 2);
    let producer = async move {
        let tx = tx;
        let mut done = futures_util::stream::iter(items.iter().enumerate())
            .map(|(i, item)| async move { (i, remove_artifacts(reg, stores, item).await) })
            .buffer_unordered(jobs);
        while let Some(r) = done.next().await {
            if tx.send(r).await.is_err() {
                break;
            }
        }
    };
    let consumer = async {
        let mut out = Outcome::default();
        let mut buf = Vec::with_capacity(BATCH);
        while rx.recv_many(&mut buf, BATCH).await > 0 {
            let mut ready: BTreeMap<Kind, Vec<(usize, u64, u64)>> = BTreeMap::new();
            for (i, r) in buf.drain(..) {
                match r {
                    Ok((files, bytes)) => ready.entry(items[i].kind).or_default().push((i, files, bytes)),
                    Err(e) => out.failed(&items[i], e),
                }
                pb.inc(1);
            }
            for (kind, batch) in ready {
                let entities: Vec<&Entity> = batch.iter().map(|(i, ..)| &items[*i].entity).collect();
                // A batch that fails is retried one entity at a time, so one
                // bad entity keeps only itself.
                let results: Vec<(usize, Result<Vec<String>, GcError>)> = match backend.purge(kind, &entities).await {
                    Ok(gone) => vec![(usize::MAX, Ok(gone))],
                    Err(_) if entities.len() > 1 => {
                        let mut each = Vec::new();
                        for (n, e) in entities.iter().enumerate() {
                            each.push((n, backend.purge(kind, &[e]).await));
                        }
                        each
                    }
                    Err(e) => vec![(0, Err(e))],
                };
                let mut gone = BTreeSet::new();
                for (n, r) in results {
                    match r {
                        Ok(ids) => gone.extend(ids),
                        Err(e) => {
                            let item = &items[batch[n].0];
                            out.failed(item, format!("{} {}: {e}", kind.name(), item.entity.id));
                        }
                    }
                }
                for (i, files, bytes) in batch {
                    let item = &items[i];
                    if gone.contains(&item.entity.id) {
                        match kind {
                            Kind::Run => out.tally.runs += 1,
                            Kind::Model => out.tally.models += 1,
                        }
                        out.tally.files += files;
                        out.tally.bytes += bytes;
                    } else if !out.errors.iter().any(|e| e.contains(&item.entity.id)) {
                        out.blocked.insert(item.entity.experiment_id.clone());
                        out.kept.push(format!(
                            "{} {} kept: it is no longer deleted",
                            kind.name(),
                            item.entity.id
                        ));
                    }
                }
            }
        }
        out
    };
    let ((), out) = futures_util::future::join(producer, consumer).await;
    out
}

pub async fn gc(reg: &Registry, a: &GcArgs, progress: bool) -> CliResult {
    let backend = Backend::open(&a.backend_store_uri, u32::from(a.jobs)).await?;
    let (items, experiments) = plan(&backend, a).await?;
    let stores = Stores::default();
    if a.dry_run {
        return dry_run(reg, &stores, &items, &experiments, a.json).await;
    }
    let pb = progress_bar(progress, items.len() as u64);
    let Outcome {
        mut tally,
        mut errors,
        kept,
        blocked,
    } = collect(reg, &stores, &backend, &items, usize::from(a.jobs), &pb).await;
    pb.finish_and_clear();
    for id in &experiments {
        if blocked.contains(id) {
            errors.push(format!("experiment {id} kept: not all of its runs could be collected"));
            continue;
        }
        match backend.purge_experiment(id).await {
            Ok(true) => tally.experiments += 1,
            Ok(false) => errors.push(format!("experiment {id} kept: it is no longer deleted")),
            Err(e) => errors.push(format!("experiment {id}: {e}")),
        }
    }
    if let Backend::Sql(s) = &backend {
        s.close().await;
    }
    for k in kept {
        eprintln!("arca: {k}");
    }
    report(&tally, a.json, false);
    if errors.is_empty() {
        Ok(())
    } else {
        errors.sort();
        Err(Failure::Failed(
            errors
                .into_iter()
                .map(|m| Error::new(ErrorKind::UNEXPECTED, m))
                .collect(),
        ))
    }
}

async fn dry_run(reg: &Registry, stores: &Stores, items: &[Item], experiments: &[String], json: bool) -> CliResult {
    let mut tally = Tally::default();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        let (mut files, mut bytes) = (0, 0);
        if let Some(err) = &item.unresolved {
            errors.push(format!("{} {} would be kept: {err}", item.kind.name(), item.entity.id));
            continue;
        }
        if let Some(t) = &item.target {
            let counted = async {
                let store = stores.get(reg, &t.store).await?;
                let path = ArtifactPath::parse(&t.path).map_err(|e| Error::invalid_input(e.to_string()))?;
                measure(&store, &path).await
            };
            match counted.await {
                Ok(c) => (files, bytes) = c,
                Err(e) => {
                    errors.push(format!(
                        "{} {}: its artifacts at {}: {e}",
                        item.kind.name(),
                        item.entity.id,
                        t.shown
                    ));
                    continue;
                }
            }
        }
        match item.kind {
            Kind::Run => tally.runs += 1,
            Kind::Model => tally.models += 1,
        }
        tally.files += files;
        tally.bytes += bytes;
        let shown = item.target.as_ref().map_or("-", |t| t.shown.as_str());
        rows.push((
            item.kind,
            item.entity.id.clone(),
            item.entity.experiment_id.clone(),
            files,
            bytes,
            shown.to_owned(),
        ));
    }
    tally.experiments = experiments.len() as u64;
    let mut out = String::new();
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(kind, id, exp, files, bytes, uri)| {
                serde_json::json!({
                    "kind": if *kind == Kind::Run { "run" } else { "logged_model" },
                    "id": id, "experiment_id": exp, "files": files, "bytes": bytes, "artifacts": uri,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "dry_run": true,
            "entities": list,
            "experiments": experiments,
            "summary": summary_json(&tally),
        });
        out.push_str(&doc.to_string());
        out.push('\n');
    } else {
        for (kind, id, exp, files, bytes, uri) in &rows {
            out.push_str(&format!(
                "would remove {} {id} (experiment {exp}): {files} files, {bytes} bytes, {uri}\n",
                kind.name()
            ));
        }
        for id in experiments {
            out.push_str(&format!("would remove experiment {id}\n"));
        }
    }
    print!("{out}");
    report(&tally, json, true);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::Failed(
            errors
                .into_iter()
                .map(|m| Error::new(ErrorKind::UNEXPECTED, m))
                .collect(),
        ))
    }
}

fn summary_json(t: &Tally) -> serde_json::Value {
    serde_json::json!({
        "runs": t.runs, "experiments": t.experiments, "logged_models": t.models,
        "files": t.files, "bytes": t.bytes,
    })
}

fn report(t: &Tally, json: bool, dry: bool) {
    if json {
        if !dry {
            println!(
                "{}",
                serde_json::json!({ "dry_run": false, "summary": summary_json(t) })
            );
        }
        return;
    }
    let verb = if dry { "would remove" } else { "removed" };
    println!(
        "{verb} {} runs, {} experiments, {} logged models: {} files, {} bytes",
        t.runs, t.experiments, t.models, t.files, t.bytes
    );
}

fn progress_bar(enabled: bool, total: u64) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    let style =
        indicatif::ProgressStyle::with_template("{spinner} [{bar:24}] {pos}/{len} collected, {per_sec}, eta {eta}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

/// Usage errors of the options alone.
pub fn check(a: &GcArgs) -> CliResult {
    if a.backend_store_uri.trim().is_empty() {
        return Err(usage("--backend-store-uri is empty"));
    }
    Ok(())
}
