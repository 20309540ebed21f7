"""The store of `cargo xtask bench gc`, and MLflow's side of it.

    python gc_bench.py make STORE RUNS FILES   # STORE/mlflow.db + STORE/art
    python gc_bench.py copy SRC DST            # a copy, its artifact URIs pointed at DST
    python gc_bench.py count STORE             # runs left, as JSON

`make` lets MLflow create the schema, an experiment and one run (3 params, 3
metrics, 3 tags of its own, FILES artifacts of 4 KiB), deletes it, then
clones it RUNS - 1 times with SQL and file copies (rows and artifacts the
same as MLflow writes them; logging 10,000 runs through MLflow would take
most of an hour). One active run stays, so a gc that collects it is wrong.
"""

import json
import os
import shutil
import sqlite3
import sys
import uuid


def make(store, runs, files):
    import mlflow
    from mlflow import MlflowClient

    os.makedirs(store)
    uri = f"sqlite:///{store}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    exp = client.create_experiment("bench", artifact_location=f"file://{store}/art")
    src = os.path.join(store, "src")
    os.makedirs(src)
    for i in range(files):
        with open(os.path.join(src, f"f{i}.bin"), "wb") as f:
            f.write(os.urandom(4096))
    ids = []
    for name in ("active", "template"):
        with mlflow.start_run(experiment_id=exp, run_name=name) as run:
            mlflow.log_params({"a": 1, "b": 2, "c": 3})
            mlflow.log_metrics({"x": 1.0, "y": 2.0, "z": 3.0})
            mlflow.log_artifacts(src)
            ids.append(run.info.run_id)
    shutil.rmtree(src)
    template = ids[1]
    client.delete_run(template)
    con = sqlite3.connect(f"{store}/mlflow.db")
    con.row_factory = sqlite3.Row
    row = dict(con.execute("SELECT * FROM runs WHERE run_uuid = ?", (template,)).fetchone())
    art = row["artifact_uri"].removeprefix("file://")
    cols = list(row)
    insert = f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    children = {}
    for table in ("params", "tags", "metrics", "latest_metrics"):
        tcols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        rows = [dict(r) for r in con.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", (template,))]
        children[table] = (tcols, rows)
    for _ in range(runs - 1):
        new = uuid.uuid4().hex
        dst = os.path.join(os.path.dirname(os.path.dirname(art)), new, "artifacts")
        shutil.copytree(art, dst)
        con.execute(insert, [dict(row, run_uuid=new, artifact_uri=f"file://{dst}")[c] for c in cols])
        for table, (tcols, rows) in children.items():
            marks = ", ".join("?" for _ in tcols)
            for r in rows:
                con.execute(
                    f"INSERT INTO {table} ({', '.join(tcols)}) VALUES ({marks})",
                    [dict(r, run_uuid=new)[c] for c in tcols],
                )
    con.commit()
    con.close()


def copy(src, dst):
    shutil.copytree(src, dst)
    con = sqlite3.connect(f"{dst}/mlflow.db")
    con.execute("UPDATE runs SET artifact_uri = replace(artifact_uri, ?, ?)", (src, dst))
    con.execute("UPDATE experiments SET artifact_location = replace(artifact_location, ?, ?)", (src, dst))
    con.commit()
    con.close()


def count(store):
    con = sqlite3.connect(f"{store}/mlflow.db")
    (total,) = con.execute("SELECT count(*) FROM runs").fetchone()
    (deleted,) = con.execute("SELECT count(*) FROM runs WHERE lifecycle_stage = 'deleted'").fetchone()
    (metrics,) = con.execute("SELECT count(*) FROM metrics").fetchone()
    con.close()
    dirs = len(os.listdir(f"{store}/art"))
    print(json.dumps({"runs": total, "deleted": deleted, "metrics": metrics, "run_dirs": dirs}))


if __name__ == "__main__":
    op = sys.argv[1]
    if op == "make":
        make(os.path.abspath(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif op == "copy":
        copy(os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]))
    elif op == "count":
        count(os.path.abspath(sys.argv[2]))
    else:
        sys.exit(f"unknown operation {op!r}")
