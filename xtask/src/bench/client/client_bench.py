"""The MLflow client's side of `cargo xtask bench client`:

    python client_bench.py mlflow ORIGIN up-file FILE PREFIX
    python client_bench.py mlflow ORIGIN up-dir DIR PREFIX
    python client_bench.py mlflow ORIGIN down PREFIX[/FILE] DIR
    python client_bench.py files ORIGIN up-file|up-dir|down …

`mlflow`: an MLflow artifact server (`arca serve`, `mlflow server
--artifacts-only`) through `MlflowArtifactsRepository("mlflow-artifacts:/PREFIX")`
with MLFLOW_TRACKING_URI=ORIGIN, exactly as a user's code logs artifacts:
the client reads the server's server-info and picks its paths itself.
`files`: a plain HTTP file server (nginx) through the same client's
`HttpArtifactRepository(ORIGIN/PREFIX)`, which PUTs and GETs one request per
file; its listing API is MLflow's, so a download names the file.

Prints {"secs", "cpu"}: the call alone, timed inside the process.
"""

import json
import os
import resource
import sys
import time


def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def main(argv):
    kind, origin, op, a, b = argv[1:6]
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    if kind == "mlflow":
        os.environ["MLFLOW_TRACKING_URI"] = origin
        from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

        def repo(prefix):
            return MlflowArtifactsRepository(f"mlflow-artifacts:/{prefix}")
    else:
        from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

        def repo(prefix):
            return HttpArtifactRepository(f"{origin}/{prefix}")

    if op == "up-file":
        r = repo(b)
        call = lambda: r.log_artifact(a)  # noqa: E731
    elif op == "up-dir":
        r = repo(b)
        call = lambda: r.log_artifacts(a)  # noqa: E731
    elif op == "down":
        os.makedirs(b, exist_ok=True)
        prefix, _, name = a.rpartition("/") if kind == "files" else (a, "", "")
        r = repo(prefix)
        if kind == "files":
            call = lambda: r._download_file(name, os.path.join(b, name))  # noqa: E731
        else:
            call = lambda: r.download_artifacts("", dst_path=b)  # noqa: E731
    else:
        sys.exit(f"unknown operation {op!r}")
    c, t = cpu(), time.perf_counter()
    call()
    print(json.dumps({"secs": time.perf_counter() - t, "cpu": cpu() - c}))


if __name__ == "__main__":
    main(sys.argv)
