"""`arca gc` against backend stores the real `mlflow` package made.

Each test lets MLflow create experiments, runs (params, metrics, tags, two
artifacts each) and logged models, and delete some, then collects them with
`arca gc`, and checks the result three ways:

- in MLflow: `MlflowClient().get_run` fails for collected runs, works for the
  others;
- on disk (or in S3): the collected entities' artifacts are gone, with the
  `<exp>/<run>/` directories MLflow leaves behind, and every other artifact
  is unchanged (sha256);
- against MLflow's own `mlflow gc` run on a copy of the same store: every
  table holds the same rows (SQL), or the same files remain (file store).

Also: refusals of ids that are not deleted (nothing removed), `--dry-run`
with sizes, `--older-than`, runs logged through an artifact proxy onto S3,
and a `kill -9` in the middle followed by a second `arca gc`.
"""

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REFERENCE = os.environ.get("ARCA_REFERENCE") == "mlflow"
pytestmark = pytest.mark.skipif(REFERENCE, reason="arca gc has no counterpart in an artifact server")
PY = os.environ.get("PYTHON", "python")
GC_TIMEOUT = 300


def arca_gc(*args, check=True, env=None, timeout=GC_TIMEOUT):
    cmd = [os.environ["ARCA_BIN"], "--plugins", os.environ["ARCA_PLUGINS"], "--quiet", "gc", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"arca gc failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def mlflow_gc(store_uri: str, cwd: Path):
    """MLflow's own gc, in a process of its own (it wants a tracking URI)."""
    env = dict(os.environ, MLFLOW_TRACKING_URI=store_uri, MLFLOW_ALLOW_FILE_STORE="true")
    import sys

    p = subprocess.run(
        [sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", store_uri],
        capture_output=True,
        text=True,
        timeout=GC_TIMEOUT,
        cwd=cwd,
        env=env,
    )
    assert p.returncode == 0, f"mlflow gc failed:\n{p.stdout}\n{p.stderr}"


def sha256_tree(root: Path) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def populate(tracking_uri: str, artifact_root, workdir: Path) -> dict:
    """See `_populate`; the process's tracking URI is put back afterwards,
    so the tests that follow keep their own."""
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(tracking_uri):
        return _populate(tracking_uri, artifact_root, workdir)


def _populate(tracking_uri: str, artifact_root, workdir: Path) -> dict:
    """Experiments `keep` (runs a: active, b and c: deleted; models m-active,
    m-gone: deleted) and `gone` (deleted, with run d), each run with params,
    a metric, a tag and two artifacts, under `artifact_root` (None: the
    store's default). Returns their ids."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    suffix = uuid.uuid4().hex[:8]
    def location(name):
        return f"{artifact_root}/{name}-{suffix}" if artifact_root else None

    keep = client.create_experiment(f"keep-{suffix}", artifact_location=location("keep"))
    gone = client.create_experiment(f"gone-{suffix}", artifact_location=location("gone"))
    ids = {"keep": keep, "gone": gone}
    src = workdir / "src"
    src.mkdir(exist_ok=True)
    for name in ("m-active", "m-gone"):
        model = mlflow.initialize_logged_model(name=name, experiment_id=keep)
        client.set_logged_model_tags(model.model_id, {"k": name})
        ids[name] = model.model_id
    for name, exp in [("a", keep), ("b", keep), ("c", keep), ("d", gone)]:
        with mlflow.start_run(experiment_id=exp, run_name=name) as run:
            mlflow.log_param("p", name)
            mlflow.log_metric("m", 1.5, step=1)
            mlflow.set_tag("t", name)
            (src / f"{name}.txt").write_text(name * 1000)
            mlflow.log_artifact(str(src / f"{name}.txt"))
            mlflow.log_artifact(str(src / f"{name}.txt"), artifact_path="sub")
            # A model metric logged by a run that goes: the database drops
            # it with the run (a foreign key MLflow's gc relies on).
            mlflow.log_metric("model-m", 2.5, model_id=ids["m-active"])
            ids[name] = run.info.run_id
    client.delete_run(ids["b"])
    client.delete_run(ids["c"])
    client.delete_logged_model(ids["m-gone"])
    client.delete_experiment(gone)
    return ids


def sqlite_rows(db: Path, rewrite=("", "")) -> dict:
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        out = {}
        for t in tables:
            rows = con.execute(f'SELECT * FROM "{t}"').fetchall()
            out[t] = sorted(
                tuple(v.replace(*rewrite) if isinstance(v, str) else v for v in row) for row in rows
            )
        return out
    finally:
        con.close()


def copy_sqlite_store(src: Path, dst: Path):
    """The store in `src` (mlflow.db and artifacts) copied to `dst`, its
    artifact URIs pointed at the copy."""
    shutil.copytree(src, dst)
    con = sqlite3.connect(dst / "mlflow.db")
    a, b = str(src), str(dst)
    con.execute("UPDATE runs SET artifact_uri = replace(artifact_uri, ?, ?)", (a, b))
    con.execute("UPDATE experiments SET artifact_location = replace(artifact_location, ?, ?)", (a, b))
    con.execute("UPDATE logged_models SET artifact_location = replace(artifact_location, ?, ?)", (a, b))
    con.commit()
    con.close()


def assert_collected(tracking_uri: str, ids: dict):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri)
    for name in ("b", "c", "d"):
        with pytest.raises(MlflowException):
            client.get_run(ids[name])
    assert client.get_run(ids["a"]).data.params == {"p": "a"}
    assert client.get_logged_model(ids["m-active"]).name == "m-active"
    # The store itself, which can show deleted models too.
    from mlflow.tracking._tracking_service.utils import _get_store

    with pytest.raises(MlflowException):
        _get_store(tracking_uri).get_logged_model(ids["m-gone"], allow_deleted=True)
    with pytest.raises(MlflowException):
        client.get_experiment(ids["gone"])


def test_sqlite_store_with_local_artifacts_matches_mlflow_gc(tmp_path):
    store = tmp_path / "s1"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    ids = populate(uri, f"file://{store / 'art'}", tmp_path)
    art = store / "art"
    active = sha256_tree(art / next(p.name for p in art.iterdir() if p.name.startswith("keep")) / ids["a"])
    copy_sqlite_store(store, tmp_path / "s2")

    p = arca_gc("--backend-store-uri", uri, "--json")
    summary = json.loads(p.stdout.strip().splitlines()[-1])["summary"]
    assert summary == {"runs": 3, "experiments": 1, "logged_models": 1, "files": 6, "bytes": 6000}, p.stdout
    assert_collected(uri, ids)

    keep_dir = next(p for p in art.iterdir() if p.name.startswith("keep"))
    assert sha256_tree(keep_dir / ids["a"]) == active
    for name in ("b", "c"):
        assert not (keep_dir / ids[name]).exists(), "the run's directory MLflow leaves behind is removed too"
    gone_dir = next(p for p in art.iterdir() if p.name.startswith("gone"))
    assert list(gone_dir.iterdir()) == []

    mlflow_gc(f"sqlite:///{tmp_path / 's2' / 'mlflow.db'}", tmp_path / "s2")
    ours = sqlite_rows(store / "mlflow.db")
    theirs = sqlite_rows(tmp_path / "s2" / "mlflow.db", rewrite=(str(tmp_path / "s2"), str(store)))
    assert ours == theirs
    assert sum(len(v) for v in ours.values()) > 10, "the comparison compares something"


def test_file_store_matches_mlflow_gc(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    root = tmp_path / "s1" / "mlruns"
    root.mkdir(parents=True)
    ids = populate(f"file://{root}", None, tmp_path)
    run_a = root / ids["keep"] / ids["a"]
    active = sha256_tree(run_a)
    shutil.copytree(tmp_path / "s1", tmp_path / "s2")

    p = arca_gc("--backend-store-uri", str(root))
    assert "removed 3 runs, 1 experiments, 1 logged models" in p.stdout, p.stdout
    assert_collected(f"file://{root}", ids)
    assert sha256_tree(run_a) == active
    assert not (root / ".trash" / ids["gone"]).exists()

    copy = tmp_path / "s2" / "mlruns"
    mlflow_gc(f"file://{copy}", tmp_path / "s2")
    ours = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    theirs = sorted(str(p.relative_to(copy)) for p in copy.rglob("*"))
    assert ours == theirs
    assert any(ids["a"] in p for p in ours)


def test_ids_that_are_not_deleted_are_refused_and_nothing_goes(tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    ids = populate(uri, f"file://{store / 'art'}", tmp_path)
    before = sqlite_rows(store / "mlflow.db")
    files = sha256_tree(store / "art")
    for args, said in [
        (["--run-ids", f"{ids['b']},{ids['a']}"], f"run {ids['a']} is not deleted"),
        (["--experiment-ids", ids["keep"]], f"experiment {ids['keep']} is not deleted"),
        (["--logged-model-ids", ids["m-active"]], f"logged model {ids['m-active']} is not deleted"),
        (["--run-ids", "0" * 32], "does not exist"),
        (["--older-than", "3w"], "cannot read --older-than"),
    ]:
        p = arca_gc("--backend-store-uri", uri, *args, check=False)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert said in p.stderr, (args, p.stderr)
        assert "panicked" not in p.stderr
    assert sqlite_rows(store / "mlflow.db") == before
    assert sha256_tree(store / "art") == files


def test_unknown_schema_revision_is_refused(tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    db = store / "mlflow.db"
    uri = f"sqlite:///{db}"
    populate(uri, f"file://{store / 'art'}", tmp_path)
    con = sqlite3.connect(db)
    con.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    con.commit()
    con.close()
    before = sqlite_rows(db)
    p = arca_gc("--backend-store-uri", uri, check=False)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "revision \"ffffffffffff\"" in p.stderr and "nothing was deleted" in p.stderr, p.stderr
    assert sqlite_rows(db) == before


def test_named_ids_and_dry_run(tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    ids = populate(uri, f"file://{store / 'art'}", tmp_path)
    before = sqlite_rows(store / "mlflow.db")
    p = arca_gc("--backend-store-uri", uri, "--dry-run", "--json")
    doc = json.loads(p.stdout)
    listed = {(e["kind"], e["id"]): (e["files"], e["bytes"]) for e in doc["entities"]}
    assert listed == {
        ("run", ids["b"]): (2, 2000),
        ("run", ids["c"]): (2, 2000),
        ("run", ids["d"]): (2, 2000),
        ("logged_model", ids["m-gone"]): (0, 0),
    }
    assert doc["experiments"] == [ids["gone"]]
    assert sqlite_rows(store / "mlflow.db") == before, "a dry run changes nothing"

    # Only the run named goes; the other deleted run, model and experiment stay.
    arca_gc("--backend-store-uri", uri, "--run-ids", ids["b"])
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(uri)
    with pytest.raises(MlflowException):
        client.get_run(ids["b"])
    assert client.get_run(ids["c"]).info.lifecycle_stage == "deleted"
    assert client.get_run(ids["d"]).info.lifecycle_stage == "deleted"


def test_older_than_keeps_what_was_deleted_recently(tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    db = store / "mlflow.db"
    uri = f"sqlite:///{db}"
    ids = populate(uri, f"file://{store / 'art'}", tmp_path)
    day = 86_400_000
    con = sqlite3.connect(db)
    now = int(time.time() * 1000)
    con.execute("UPDATE runs SET deleted_time = ? WHERE run_uuid = ?", (now - 3 * day, ids["b"]))
    con.commit()
    con.close()
    p = arca_gc("--backend-store-uri", uri, "--older-than", "2d", "--json")
    summary = json.loads(p.stdout.strip().splitlines()[-1])["summary"]
    assert summary["runs"] == 1 and summary["experiments"] == 0, p.stdout
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(uri)
    with pytest.raises(MlflowException):
        client.get_run(ids["b"])
    assert client.get_run(ids["c"]).info.lifecycle_stage == "deleted"
    # Named but too young: refused.
    p = arca_gc("--backend-store-uri", uri, "--older-than", "2d", "--run-ids", ids["c"], check=False)
    assert p.returncode == 2 and "less than 2d ago" in p.stderr, p.stderr


def test_proxied_runs_on_s3(arca_s3, tmp_path):
    """Runs logged through `arca serve` onto S3 (artifact URIs of the proxy's
    REST route) are collected from the destination the proxy writes to."""
    store = tmp_path / "s"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    root = f"{arca_s3.url}/api/2.0/mlflow-artifacts/artifacts/gc-{uuid.uuid4().hex[:8]}"
    ids = populate(uri, root, tmp_path)
    s3, bucket, prefix = arca_s3.s3, arca_s3.bucket, arca_s3.prefix

    def keys_of(run_id):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/")
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []) if f"/{run_id}/" in o["Key"])

    assert len(keys_of(ids["b"])) == 2 and len(keys_of(ids["a"])) == 2
    active = {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys_of(ids["a"])}

    p = arca_gc("--backend-store-uri", uri, check=False)
    assert p.returncode == 1 and "--artifacts-destination" in p.stderr, "a proxied run needs the destination"
    arca_gc("--backend-store-uri", uri, "--artifacts-destination", f"s3://{bucket}/{prefix}")
    for name in ("b", "c", "d"):
        assert keys_of(ids[name]) == [], name
    assert {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys_of(ids["a"])} == active
    assert_collected(uri, ids)


def clone_deleted_runs(db: Path, template: str, count: int) -> list:
    """`count` copies of the deleted run `template` (its row, params, tags
    and artifacts), made with SQL and file copies: MLflow would take minutes
    to log them."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    row = dict(con.execute("SELECT * FROM runs WHERE run_uuid = ?", (template,)).fetchone())
    src = Path(row["artifact_uri"].removeprefix("file://"))
    cols = list(row)
    insert = f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    ids = []
    for _ in range(count):
        new = uuid.uuid4().hex
        dst = src.parent.parent / new / "artifacts"
        shutil.copytree(src, dst)
        values = dict(row, run_uuid=new, artifact_uri=f"file://{dst}")
        con.execute(insert, [values[c] for c in cols])
        for table in ("params", "tags"):
            con.execute(
                f"INSERT INTO {table} (key, value, run_uuid) SELECT key, value, ? FROM {table} WHERE run_uuid = ?",
                (new, template),
            )
        ids.append(new)
    con.commit()
    con.close()
    return ids


def test_kill_9_then_a_second_gc_finishes(tmp_path):
    store = tmp_path / "s1"
    store.mkdir()
    db = store / "mlflow.db"
    uri = f"sqlite:///{db}"
    ids = populate(uri, f"file://{store / 'art'}", tmp_path)
    extra = clone_deleted_runs(db, ids["b"], 1500)
    copy_sqlite_store(store, tmp_path / "s2")
    keep_dir = next(p for p in (store / "art").iterdir() if p.name.startswith("keep"))
    active = sha256_tree(keep_dir / ids["a"])

    cmd = [os.environ["ARCA_BIN"], "--plugins", os.environ["ARCA_PLUGINS"], "--quiet", "gc"]
    proc = subprocess.Popen([*cmd, "--backend-store-uri", uri, "-j", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Wait (bounded) until some, not all, of the clones are collected.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            left = sum(1 for r in extra if (keep_dir / r).exists())
            if left < len(extra) - 20:
                break
        assert proc.poll() is None, "gc finished before it could be interrupted"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    left = sum(1 for r in extra if (keep_dir / r).exists())
    assert 0 < left < len(extra), left

    arca_gc("--backend-store-uri", uri)
    assert not any((keep_dir / r).exists() for r in extra)
    assert sha256_tree(keep_dir / ids["a"]) == active
    mlflow_gc(f"sqlite:///{tmp_path / 's2' / 'mlflow.db'}", tmp_path / "s2")
    assert sqlite_rows(db) == sqlite_rows(tmp_path / "s2" / "mlflow.db", rewrite=(str(tmp_path / "s2"), str(store)))


def pg_admin(base: str, sql: str):
    import psycopg2

    con = psycopg2.connect(base + "postgres")
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute(sql)
    finally:
        con.close()


def pg_rows(uri: str, rewrite=("", "")) -> dict:
    import psycopg2

    con = psycopg2.connect(uri)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            out = {}
            for (t,) in sorted(cur.fetchall()):
                cur.execute(f'SELECT * FROM "{t}"')
                out[t] = sorted(
                    repr(tuple(v.replace(*rewrite) if isinstance(v, str) else v for v in row)) for row in cur.fetchall()
                )
            return out
    finally:
        con.close()


def test_postgresql_store_matches_mlflow_gc(tmp_path):
    from conftest import require_server_env

    require_server_env(["ARCA_PG_URI"], "PostgreSQL", "PostgreSQL when it is installed")
    base = os.environ["ARCA_PG_URI"]
    import psycopg2

    def admin(sql):
        pg_admin(base, sql)

    def rows(db, rewrite=("", "")):
        return pg_rows(base + db, rewrite)

    def connect(db):
        return psycopg2.connect(base + db)

    def copy_db(name):
        # No session may use the template of a copy.
        admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        admin(f"CREATE DATABASE {name}_copy TEMPLATE {name}")

    sql_store_matches_mlflow_gc(
        tmp_path, base.replace("postgresql://", "postgresql+psycopg2://"), "arca-pg-pw", admin, rows, connect, copy_db
    )


def my_connect(base: str, db: str = ""):
    """A PyMySQL connection from `mysql://user:pass@host:port/`."""
    import urllib.parse

    import pymysql

    u = urllib.parse.urlsplit(base)
    return pymysql.connect(
        host=u.hostname, port=u.port, user=u.username, password=u.password, database=db or None, autocommit=True
    )


def my_rows(base: str, db: str, rewrite=("", "")) -> dict:
    con = my_connect(base, db)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (db,))
            out = {}
            for (t,) in sorted(cur.fetchall()):
                cur.execute(f"SELECT * FROM `{t}`")
                out[t] = sorted(
                    repr(tuple(v.replace(*rewrite) if isinstance(v, str) else v for v in row)) for row in cur.fetchall()
                )
            return out
    finally:
        con.close()


def test_mysql_store_matches_mlflow_gc(tmp_path):
    from conftest import require_server_env

    require_server_env(["ARCA_MYSQL_URI"], "MySQL", "MariaDB when it is installed")
    base = os.environ["ARCA_MYSQL_URI"]

    def admin(sql):
        con = my_connect(base)
        try:
            with con.cursor() as cur:
                cur.execute(sql)
        finally:
            con.close()

    def copy_db(name):
        # MySQL has no database templates: the copy is made table by table.
        admin(f"CREATE DATABASE {name}_copy")
        con = my_connect(base, name)
        try:
            with con.cursor() as cur:
                cur.execute("SET FOREIGN_KEY_CHECKS = 0")
                # Experiment 0 stays 0 (not the next AUTO_INCREMENT value).
                cur.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (name,))
                tables = [t for (t,) in cur.fetchall()]
                # SHOW CREATE TABLE keeps the foreign keys (CREATE TABLE …
                # LIKE drops them, and MLflow's gc relies on their cascades).
                cur.execute(f"USE {name}_copy")
                for t in tables:
                    cur.execute(f"SHOW CREATE TABLE {name}.`{t}`")
                    cur.execute(cur.fetchone()[1])
                for t in tables:
                    cur.execute(f"INSERT INTO {name}_copy.`{t}` SELECT * FROM {name}.`{t}`")
        finally:
            con.close()

    sql_store_matches_mlflow_gc(
        tmp_path,
        base.replace("mysql://", "mysql+pymysql://"),
        "arca-my-pw",
        admin,
        lambda db, rewrite=("", ""): my_rows(base, db, rewrite),
        lambda db: my_connect(base, db),
        copy_db,
    )


def sql_store_matches_mlflow_gc(tmp_path, base, password, admin, rows, connect, copy_db):
    """The SQLite test's checks on a database server: `base` is MLflow's
    URI of the server without a database, `password` its password (never
    to be printed)."""
    name = f"gc_{uuid.uuid4().hex[:10]}"
    admin(f"CREATE DATABASE {name}")
    uri = base + name
    store = tmp_path / "s1"
    store.mkdir()
    ids = populate(uri, f"file://{store / 'art'}", tmp_path)
    keep_dir = next(p for p in (store / "art").iterdir() if p.name.startswith("keep"))
    active = sha256_tree(keep_dir / ids["a"])
    # A copy for MLflow's gc: the database and the artifacts, its URIs
    # pointed at the copy.
    copy_db(name)
    shutil.copytree(store, tmp_path / "s2")
    con = connect(name + "_copy")
    try:
        with con.cursor() as cur:
            a, b = str(store), str(tmp_path / "s2")
            cur.execute("UPDATE runs SET artifact_uri = replace(artifact_uri, %s, %s)", (a, b))
            cur.execute("UPDATE experiments SET artifact_location = replace(artifact_location, %s, %s)", (a, b))
            cur.execute("UPDATE logged_models SET artifact_location = replace(artifact_location, %s, %s)", (a, b))
        con.commit()
    finally:
        con.close()

    p = arca_gc("--backend-store-uri", uri, "--json")
    summary = json.loads(p.stdout.strip().splitlines()[-1])["summary"]
    assert summary == {"runs": 3, "experiments": 1, "logged_models": 1, "files": 6, "bytes": 6000}, p.stdout
    assert password not in p.stdout + p.stderr
    assert_collected(uri, ids)
    assert sha256_tree(keep_dir / ids["a"]) == active
    for n in ("b", "c"):
        assert not (keep_dir / ids[n]).exists()

    mlflow_gc(uri + "_copy", tmp_path / "s2")
    ours = rows(name)
    assert ours == rows(name + "_copy", rewrite=(str(tmp_path / "s2"), str(store)))
    assert len(ours["runs"]) == 1 and len(ours["params"]) == 1, ours["runs"]

    # A wrong password is one clear line, without the password.
    p = arca_gc("--backend-store-uri", uri.replace(password, "wrong-pw"), check=False)
    assert p.returncode == 1 and "cannot connect" in p.stderr and "wrong-pw" not in p.stderr, p.stderr
