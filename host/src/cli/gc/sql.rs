//! MLflow's SQL backend store (SQLite, PostgreSQL, MySQL) read and purged
//! directly, with MLflow's schema (`mlflow/store/tracking/dbmodels`).
//!
//! Every purge is one transaction that first re-checks, under a write lock,
//! which entities are still deleted (an `UPDATE … WHERE lifecycle_stage =
//! 'deleted'`, then a `SELECT` of those): a run restored after the plan was
//! made is kept. Children go before their parent, as MLflow's ORM deletes
//! them, so databases that enforce foreign keys accept every statement.

use super::{Entity, Experiment, GcError, Kind};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

/// The newest schema revision this build knows: MLflow 3.17.2's head.
pub const HEAD_REVISION: &str = "dc11669786a5";

/// The revisions of MLflow's schema gc reads, newest first: from
/// [`HEAD_REVISION`] down to `97727af70f4d` (MLflow 2.2), which gave
/// experiments their `last_update_time` (runs had `deleted_time` from the
/// one before). The tables and columns gc touches mean the same in all of
/// them; tables added later are looked up, not assumed.
const KNOWN_REVISIONS: &[&str] = &[
    "dc11669786a5",
    "75868b020152",
    "b7e2c1a4d9f3",
    "17e22815139b",
    "1971f2d9a75b",
    "6f8d9c3b2a1e",
    "c3d9e7f1a2b4",
    "c1d2e3f4a5b6",
    "a8b9c0d1e2f3",
    "b7e4c1a90f23",
    "89d3d66ed43f",
    "da6fb0208061",
    "7d34483879f0",
    "ae8bbe7743c9",
    "a5b4c3d2e1f0",
    "c3d6457b6d8a",
    "76601a5f987d",
    "e1f2a3b4c5d6",
    "1b5f0d9ad7c1",
    "c8d9e0f1a2b3",
    "d0e1f2a3b4c5",
    "d3e4f5a6b7c8",
    "2c33131f4dae",
    "c9d4e5f6a7b8",
    "5d2d30f0abce",
    "b7c8d9e0f1a2",
    "1bd49d398cd23",
    "bf29a5ff90ea",
    "3da73c924c2f",
    "71994744cf8e",
    "534353b11cbc",
    "1a0cddfcaa16",
    "de4033877273",
    "a1b2c3d4e5f6",
    "770bee3ae1dd",
    "cbc13b556ace",
    "bda7b8c39065",
    "6953534de441",
    "400f98739977",
    "0584bdc529eb",
    "f5a4f2784254",
    "4465047574b1",
    "5b0e9adcef9c",
    "867495a8f9d4",
    "acf3f17fdcc7",
    "2d6e25af4d3e",
    "7f2a7d5fae7d",
    "3500859a5d39",
    "97727af70f4d",
];

/// The run tables MLflow's `_hard_delete_run` empties before the run row.
const RUN_CHILDREN: [&str; 4] = ["metrics", "latest_metrics", "params", "tags"];
/// What the database does when MLflow deletes a run row (MLflow turns
/// SQLite's foreign keys on; PostgreSQL and MySQL always enforce them):
/// model metrics logged by the run go, issues found by it forget it. Done
/// here as statements (`{}` the run id), so the result is the same on a
/// connection whose foreign keys are off.
const RUN_FK_EFFECTS: [(&str, &str); 2] = [
    (
        "logged_model_metrics",
        "DELETE FROM logged_model_metrics WHERE run_id IN ({})",
    ),
    (
        "issues",
        "UPDATE issues SET source_run_id = NULL WHERE source_run_id IN ({})",
    ),
];
/// What the database does when an experiment row goes, as statements
/// (`{}` the experiment id): rows that cascade, a reference set to NULL.
const EXPERIMENT_FK_EFFECTS: [(&str, &str); 8] = [
    ("datasets", "DELETE FROM datasets WHERE experiment_id = {}"),
    ("issues", "DELETE FROM issues WHERE experiment_id = {}"),
    ("label_schemas", "DELETE FROM label_schemas WHERE experiment_id = {}"),
    (
        "review_queue_users",
        "DELETE FROM review_queue_users WHERE queue_id IN (SELECT queue_id FROM review_queues WHERE experiment_id = {})",
    ),
    (
        "review_queue_items",
        "DELETE FROM review_queue_items WHERE queue_id IN (SELECT queue_id FROM review_queues WHERE experiment_id = {})",
    ),
    (
        "review_queue_label_schemas",
        "DELETE FROM review_queue_label_schemas WHERE queue_id IN \
         (SELECT queue_id FROM review_queues WHERE experiment_id = {})",
    ),
    ("review_queues", "DELETE FROM review_queues WHERE experiment_id = {}"),
    (
        "endpoints",
        "UPDATE endpoints SET experiment_id = NULL WHERE experiment_id = {}",
    ),
];
/// A logged model's child tables.
const MODEL_CHILDREN: [&str; 3] = ["logged_model_tags", "logged_model_params", "logged_model_metrics"];
/// A trace's child tables (under `trace_info`) and the column naming the
/// trace; span metrics before the spans they belong to.
const TRACE_CHILDREN: [(&str, &str); 6] = [
    ("trace_tags", "request_id"),
    ("trace_request_metadata", "request_id"),
    ("assessments", "trace_id"),
    ("span_metrics", "trace_id"),
    ("trace_metrics", "request_id"),
    ("spans", "trace_id"),
];
/// A scorer's child tables.
const SCORER_CHILDREN: [&str; 2] = ["scorer_versions", "online_scoring_configs"];
/// Roll-up tables keyed by experiment id, emptied with the experiment.
const ROLLUPS: [&str; 4] = [
    "sql_trace_rollup_rebuild_queue",
    "sql_trace_metric_daily_rollups",
    "sql_span_cost_daily_rollups",
    "sql_assessment_daily_rollups",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

#[derive(Debug)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    tables: HashSet<String>,
    pub revision: String,
}

fn db_error(what: &str, e: sqlx::Error) -> GcError {
    GcError::Store(format!("{what}: {}", arca_host::uri::redact(&e.to_string())))
}

/// MLflow's backend store URI (SQLAlchemy's form) as sqlx's URL.
fn sqlx_url(uri: &str) -> Result<(Dialect, String), GcError> {
    let (scheme, rest) = uri
        .split_once(':')
        .ok_or_else(|| GcError::Usage(format!("not a database URI: {}", arca_host::uri::redact(uri))))?;
    // `postgresql+psycopg2://…`, `mysql+pymysql://…`: the driver is Python's.
    let dialect = scheme.split('+').next().unwrap_or_default().to_ascii_lowercase();
    match dialect.as_str() {
        "sqlite" => {
            // SQLAlchemy: `sqlite:///relative.db`, `sqlite:////absolute.db`.
            let path = rest.strip_prefix("///").ok_or_else(|| {
                GcError::Usage(format!(
                    "{uri}: write a SQLite store as sqlite:///relative/path.db or sqlite:////absolute/path.db"
                ))
            })?;
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(GcError::Usage(format!("{uri}: names no database file")));
            }
            if !std::path::Path::new(path).is_file() {
                return Err(GcError::Usage(format!("{uri}: no database file at {path}")));
            }
            // Read-write, never created: a typo must not make an empty store.
            Ok((Dialect::Sqlite, format!("sqlite://{path}?mode=rw")))
        }
        "postgresql" | "postgres" => Ok((Dialect::Postgres, format!("postgres:{rest}"))),
        "mysql" | "mariadb" => Ok((Dialect::Mysql, format!("mysql:{rest}"))),
        other => Err(GcError::Usage(format!(
            "{}: the {other} database is not supported (SQLite, PostgreSQL and MySQL are)",
            arca_host::uri::redact(uri)
        ))),
    }
}

impl SqlStore {
    pub async fn open(uri: &str, connections: u32) -> Result<Self, GcError> {
        sqlx::any::install_default_drivers();
        let (dialect, url) = sqlx_url(uri)?;
        let options = AnyConnectOptions::from_str(&url).map_err(|e| db_error("cannot read the database URI", e))?;
        // SQLite takes one writer at a time: one connection, no lock waits.
        let max = if dialect == Dialect::Sqlite {
            1
        } else {
            connections.max(1)
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .map_err(|e| db_error(&format!("cannot connect to {}", arca_host::uri::redact(uri)), e))?;
        let mut store = Self {
            pool,
            dialect,
            tables: HashSet::new(),
            revision: String::new(),
        };
        store.tables = store.table_names().await?;
        for needed in ["alembic_version", "experiments", "runs"] {
            if !store.tables.contains(needed) {
                return Err(GcError::Store(format!(
                    "{} is not an MLflow backend store: it has no {needed} table",
                    arca_host::uri::redact(uri)
                )));
            }
        }
        let row = sqlx::query("SELECT version_num FROM alembic_version")
            .fetch_optional(&store.pool)
            .await
            .map_err(|e| db_error("cannot read the schema revision", e))?;
        let revision: String = match row {
            Some(r) => r
                .try_get(0)
                .map_err(|e| db_error("cannot read the schema revision", e))?,
            None => String::new(),
        };
        if !KNOWN_REVISIONS.contains(&revision.as_str()) {
            return Err(GcError::Store(format!(
                "the backend store's schema is at revision {revision:?}, which this arca does not know \
                 (it reads MLflow's revisions 97727af70f4d, MLflow 2.2, to {HEAD_REVISION}, MLflow 3.17.2; an older \
                 store can be brought up to date with `mlflow db upgrade`); nothing was deleted"
            )));
        }
        store.revision = revision;
        Ok(store)
    }

    async fn table_names(&self) -> Result<HashSet<String>, GcError> {
        let sql = match self.dialect {
            Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
            Dialect::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema()"
            }
            Dialect::Mysql => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()"
            }
        };
        let rows = sqlx::query(safe(sql))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_error("cannot list the tables", e))?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map(|s| s.to_ascii_lowercase()))
            .collect::<Result<_, _>>()
            .map_err(|e| db_error("cannot list the tables", e))
    }

    fn has(&self, table: &str) -> bool {
        self.tables.contains(table)
    }

    /// The `n`th (1-based) bind placeholder.
    fn p(&self, n: usize) -> String {
        match self.dialect {
            Dialect::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        }
    }

    /// An integer column read as text.
    fn text(&self, column: &str) -> String {
        match self.dialect {
            Dialect::Mysql => format!("CAST({column} AS CHAR)"),
            _ => format!("CAST({column} AS TEXT)"),
        }
    }

    fn entity(row: &AnyRow) -> Result<Entity, sqlx::Error> {
        let stage: Option<String> = row.try_get(3)?;
        Ok(Entity {
            id: row.try_get(0)?,
            experiment_id: row.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
            artifact_uri: row.try_get(2)?,
            deleted: stage.as_deref() == Some("deleted"),
            changed_ms: row.try_get(4)?,
            dir: None,
        })
    }

    /// Runs: every deleted one (`None`), or those named.
    pub async fn runs(&self, ids: Option<&[String]>) -> Result<Vec<Entity>, GcError> {
        let base = format!(
            "SELECT run_uuid, {}, artifact_uri, lifecycle_stage, deleted_time FROM runs",
            self.text("experiment_id")
        );
        self.entities(&base, "run_uuid", ids, "the runs").await
    }

    pub async fn models(&self, ids: Option<&[String]>) -> Result<Vec<Entity>, GcError> {
        if !self.has("logged_models") {
            return Ok(Vec::new());
        }
        let base = format!(
            "SELECT model_id, {}, artifact_location, lifecycle_stage, last_updated_timestamp_ms FROM logged_models",
            self.text("experiment_id")
        );
        self.entities(&base, "model_id", ids, "the logged models").await
    }

    async fn entities(
        &self,
        base: &str,
        key: &str,
        ids: Option<&[String]>,
        what: &str,
    ) -> Result<Vec<Entity>, GcError> {
        let mut out = Vec::new();
        match ids {
            None => {
                let sql = format!("{base} WHERE lifecycle_stage = 'deleted'");
                for r in sqlx::query(safe(&sql))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| db_error(&format!("cannot read {what}"), e))?
                {
                    out.push(Self::entity(&r).map_err(|e| db_error(&format!("cannot read {what}"), e))?);
                }
            }
            Some(ids) => {
                for chunk in ids.chunks(500) {
                    let marks: Vec<String> = (1..=chunk.len()).map(|i| self.p(i)).collect();
                    let sql = format!("{base} WHERE {key} IN ({})", marks.join(", "));
                    let mut q = sqlx::query(safe(&sql));
                    for id in chunk {
                        q = q.bind(id.as_str());
                    }
                    for r in q
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| db_error(&format!("cannot read {what}"), e))?
                    {
                        out.push(Self::entity(&r).map_err(|e| db_error(&format!("cannot read {what}"), e))?);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Experiments: every deleted one, or those named.
    pub async fn experiments(&self, ids: Option<&[String]>) -> Result<Vec<Experiment>, GcError> {
        let base = format!(
            "SELECT {}, lifecycle_stage, last_update_time FROM experiments",
            self.text("experiment_id")
        );
        let sql = match ids {
            None => format!("{base} WHERE lifecycle_stage = 'deleted'"),
            Some(_) => base,
        };
        let rows = sqlx::query(safe(&sql))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_error("cannot read the experiments", e))?;
        let mut out = Vec::new();
        for r in rows {
            let read = |r: &AnyRow| -> Result<Experiment, sqlx::Error> {
                let stage: Option<String> = r.try_get(1)?;
                Ok(Experiment {
                    id: r.try_get(0)?,
                    deleted: stage.as_deref() == Some("deleted"),
                    last_update_time: r.try_get(2)?,
                })
            };
            let e = read(&r).map_err(|e| db_error("cannot read the experiments", e))?;
            if ids.is_none_or(|ids| ids.contains(&e.id)) {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Deleted runs of the experiments named.
    pub async fn runs_of(&self, experiment_ids: &[String]) -> Result<Vec<Entity>, GcError> {
        let mut out = Vec::new();
        for exp in experiment_ids {
            let id = experiment_number(exp)?;
            let sql = format!(
                "SELECT run_uuid, {}, artifact_uri, lifecycle_stage, deleted_time FROM runs \
                 WHERE experiment_id = {} AND lifecycle_stage = 'deleted'",
                self.text("experiment_id"),
                self.p(1)
            );
            for r in sqlx::query(safe(&sql))
                .bind(id)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| db_error("cannot read the runs", e))?
            {
                out.push(Self::entity(&r).map_err(|e| db_error("cannot read the runs", e))?);
            }
        }
        Ok(out)
    }

    /// Deletes the rows of runs (`Kind::Run`) or logged models in one
    /// transaction, each entity whole: first a write lock on those still
    /// deleted (an entity restored meanwhile is left as it is), then their
    /// children, what the database's foreign keys would take with them, and
    /// their rows. Returns the ids removed.
    pub async fn purge(&self, kind: Kind, ids: &[&str]) -> Result<Vec<String>, GcError> {
        let (table, key, what) = match kind {
            Kind::Run => ("runs", "run_uuid", "runs"),
            Kind::Model => ("logged_models", "model_id", "logged models"),
        };
        let what = format!("cannot delete {} {what}", ids.len());
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=ids.len()).map(|i| self.p(i)).collect();
        let list = marks.join(", ");
        let mut tx = self.pool.begin().await.map_err(|e| db_error(&what, e))?;
        let bind_all = |sql: &str| {
            let mut q = sqlx::query(safe(sql));
            for id in ids {
                q = q.bind(*id);
            }
            q
        };
        // The lock: PostgreSQL and MySQL lock the rows, SQLite the database.
        let lock = format!(
            "UPDATE {table} SET lifecycle_stage = 'deleted' WHERE {key} IN ({list}) AND lifecycle_stage = 'deleted'"
        );
        bind_all(&lock)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error(&what, e))?;
        let still = format!("SELECT {key} FROM {table} WHERE {key} IN ({list}) AND lifecycle_stage = 'deleted'");
        let rows = bind_all(&still)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| db_error(&what, e))?;
        let gone: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()
            .map_err(|e| db_error(&what, e))?;
        if gone.is_empty() {
            tx.rollback().await.map_err(|e| db_error(&what, e))?;
            return Ok(gone);
        }
        let marks: Vec<String> = (1..=gone.len()).map(|i| self.p(i)).collect();
        let list = marks.join(", ");
        let mut statements = Vec::new();
        match kind {
            Kind::Run => {
                for child in RUN_CHILDREN.iter().filter(|t| self.has(t)) {
                    statements.push(format!("DELETE FROM {child} WHERE run_uuid IN ({list})"));
                }
                for (_, template) in RUN_FK_EFFECTS.iter().filter(|(t, _)| self.has(t)) {
                    statements.push(template.replace("{}", &list));
                }
            }
            Kind::Model => {
                for child in MODEL_CHILDREN.iter().filter(|t| self.has(t)) {
                    statements.push(format!("DELETE FROM {child} WHERE model_id IN ({list})"));
                }
            }
        }
        statements.push(format!("DELETE FROM {table} WHERE {key} IN ({list})"));
        for sql in &statements {
            let mut q = sqlx::query(safe(sql));
            for id in &gone {
                q = q.bind(id.as_str());
            }
            q.execute(&mut *tx).await.map_err(|e| db_error(&what, e))?;
        }
        tx.commit().await.map_err(|e| db_error(&what, e))?;
        Ok(gone)
    }

    /// Deletes an experiment and what MLflow's ORM deletes with it (its
    /// runs, tags, traces, logged models, scorers, roll-ups) in one
    /// transaction.
    pub async fn purge_experiment(&self, id: &str) -> Result<bool, GcError> {
        let what = format!("cannot delete experiment {id}");
        let n = experiment_number(id)?;
        let mut tx = self.pool.begin().await.map_err(|e| db_error(&what, e))?;
        let lock = format!(
            "UPDATE experiments SET lifecycle_stage = 'deleted' WHERE experiment_id = {} AND lifecycle_stage = 'deleted'",
            self.p(1)
        );
        let locked = sqlx::query(safe(&lock))
            .bind(n)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error(&what, e))?;
        if locked.rows_affected() == 0 {
            tx.rollback().await.map_err(|e| db_error(&what, e))?;
            return Ok(false);
        }
        let mut statements = Vec::new();
        let of = |parent: &str, key: &str| format!("SELECT {key} FROM {parent} WHERE experiment_id = {}", self.p(1));
        for table in RUN_CHILDREN.iter().filter(|t| self.has(t)) {
            statements.push(format!(
                "DELETE FROM {table} WHERE run_uuid IN ({})",
                of("runs", "run_uuid")
            ));
        }
        for (_, template) in RUN_FK_EFFECTS.iter().filter(|(t, _)| self.has(t)) {
            statements.push(template.replace("{}", &of("runs", "run_uuid")));
        }
        statements.push(format!("DELETE FROM runs WHERE experiment_id = {}", self.p(1)));
        if self.has("experiment_tags") {
            statements.push(format!(
                "DELETE FROM experiment_tags WHERE experiment_id = {}",
                self.p(1)
            ));
        }
        if self.has("trace_info") {
            for (table, column) in TRACE_CHILDREN.iter().filter(|(t, _)| self.has(t)) {
                statements.push(format!(
                    "DELETE FROM {table} WHERE {column} IN ({})",
                    of("trace_info", "request_id")
                ));
            }
            statements.push(format!("DELETE FROM trace_info WHERE experiment_id = {}", self.p(1)));
        }
        if self.has("logged_models") {
            for table in MODEL_CHILDREN.iter().filter(|t| self.has(t)) {
                statements.push(format!(
                    "DELETE FROM {table} WHERE model_id IN ({})",
                    of("logged_models", "model_id")
                ));
            }
            statements.push(format!("DELETE FROM logged_models WHERE experiment_id = {}", self.p(1)));
        }
        if self.has("scorers") {
            for table in SCORER_CHILDREN.iter().filter(|t| self.has(t)) {
                statements.push(format!(
                    "DELETE FROM {table} WHERE scorer_id IN ({})",
                    of("scorers", "scorer_id")
                ));
            }
            statements.push(format!("DELETE FROM scorers WHERE experiment_id = {}", self.p(1)));
        }
        for table in ROLLUPS.iter().filter(|t| self.has(t)) {
            statements.push(format!("DELETE FROM {table} WHERE experiment_id = {}", self.p(1)));
        }
        for (_, template) in EXPERIMENT_FK_EFFECTS.iter().filter(|(t, _)| self.has(t)) {
            statements.push(template.replace("{}", &self.p(1)));
        }
        statements.push(format!("DELETE FROM experiments WHERE experiment_id = {}", self.p(1)));
        for sql in &statements {
            sqlx::query(safe(sql))
                .bind(n)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error(&what, e))?;
        }
        tx.commit().await.map_err(|e| db_error(&what, e))?;
        Ok(true)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Every SQL text of this module is built from its own constants (table
/// and column names) and bind placeholders; values are always bound, never
/// written into the text.
fn safe(sql: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.to_owned())
}

/// An SQL experiment id (an integer).
fn experiment_number(id: &str) -> Result<i64, GcError> {
    id.parse()
        .map_err(|_| GcError::Usage(format!("not an experiment id of an SQL store: {id:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlflow_uris_become_sqlx_urls() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("mlflow.db");
        std::fs::write(&db, b"").unwrap_or_else(|e| panic!("{e}"));
        let uri = format!("sqlite:///{}", db.display());
        let (d, url) = sqlx_url(&uri).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d, Dialect::Sqlite);
        assert_eq!(url, format!("sqlite://{}?mode=rw", db.display()));
        let (d, url) = sqlx_url("postgresql+psycopg2://u:p@127.0.0.1:5432/mlflow").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (d, url.as_str()),
            (Dialect::Postgres, "postgres://u:p@127.0.0.1:5432/mlflow")
        );
        let (d, _) = sqlx_url("mysql+pymysql://u:p@h/db").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d, Dialect::Mysql);
        let Err(e) = sqlx_url("mssql://u:secret@h/db") else {
            panic!("accepted: {}", "mssql");
        };
        assert!(
            e.to_string().contains("not supported") && !e.to_string().contains("secret"),
            "{e}"
        );
        let Err(e) = sqlx_url("sqlite:///nowhere/at/all.db") else {
            panic!("accepted: {}", "missing file");
        };
        assert!(e.to_string().contains("no database file"), "{e}");
    }

    #[test]
    fn revisions_are_unique_and_headed() {
        assert_eq!(KNOWN_REVISIONS.first(), Some(&HEAD_REVISION));
        let unique: HashSet<&str> = KNOWN_REVISIONS.iter().copied().collect();
        assert_eq!(unique.len(), KNOWN_REVISIONS.len());
        assert_eq!(KNOWN_REVISIONS.last(), Some(&"97727af70f4d"));
    }
}
