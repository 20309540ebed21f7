"""Fixtures: real servers, started once per session, and a clean MLflow client per test.

`cargo xtask test` runs this suite (it builds `arca`, makes the venv and sets
the variables). By hand, from the workspace root, after `cargo xtask build`:

    ARCA_BIN=target/debug/arca ARCA_PLUGINS=target/debug/plugins.toml \\
        target/py-venv/bin/python -m pytest tests/python -q -p no:cacheprovider

`ARCA_REFERENCE=mlflow` runs the same tests against `mlflow server
--artifacts-only` instead of `arca serve`: a test that fails there asserts
something MLflow does not do.

The S3 tests (`test_s3_proxy.py`) need an S3 server: `cargo xtask test` starts
radosgw and sets MLflow's variables for it (`MLFLOW_S3_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`) and
`ARCA_S3_TEST_BUCKET`, a bucket the tests may write to. Without them the S3
tests skip, saying why, except under `CI`, where they fail.
"""

import contextlib
import os
import signal
import uuid
from pathlib import Path
from typing import NamedTuple

# Before mlflow is imported anywhere, and inherited by the servers we start:
# nothing in this suite may talk to anything but loopback.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"

import pytest  # noqa: E402

import servers  # noqa: E402


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# A SIGTERM (xtask's timeout) becomes an interrupt, so pytest still tears the
# session fixtures down and no server outlives the run.
signal.signal(signal.SIGTERM, _interrupt)


class ArtifactServer(NamedTuple):
    """An artifact server: its base URL and the local directory it stores into."""

    url: str
    dest: Path

    @property
    def api(self) -> str:
        return self.url + servers.API


class S3ArtifactServer(NamedTuple):
    """An artifact server over `s3://<bucket>/<prefix>`, and a boto3 client
    that talks to the S3 server directly (never through the artifact server)."""

    url: str
    bucket: str
    prefix: str
    s3: object

    @property
    def api(self) -> str:
        return self.url + servers.API

    def key(self, path: str) -> str:
        """The S3 key of the artifact `path` (relative to the destination)."""
        return f"{self.prefix}/{path}"


class TrackingServer(NamedTuple):
    """A tracking-only `mlflow server` whose runs keep their artifacts in `artifacts`."""

    url: str
    artifacts: ArtifactServer


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: run this suite through `cargo xtask test`, or set ARCA_BIN to the "
            "`arca` binary and ARCA_PLUGINS to its plugins.toml (both in target/debug after `cargo xtask build`)",
            pytrace=False,
        )
    if not Path(value).is_file():
        pytest.fail(f"{name}={value} is not a file; run `cargo xtask build` first", pytrace=False)
    return value


def _started(start, *args) -> servers.Server:
    """`start(*args)`, or a test failure that says why the server did not start (and no traceback)."""
    try:
        return start(*args)
    except servers.StartError as e:
        failure = str(e)
    pytest.fail(failure, pytrace=False)


@contextlib.contextmanager
def artifact_server(destination: str, logdir: Path):
    """An artifact server storing into `destination` (a path or a file:// URI), stopped on exit."""
    if os.environ.get("ARCA_REFERENCE") == "mlflow":
        args = ["--artifacts-only", "--artifacts-destination", destination]
        server = _started(servers.start_mlflow, args, logdir, "mlflow server --artifacts-only")
    else:
        binary, plugins = _required_env("ARCA_BIN"), _required_env("ARCA_PLUGINS")
        server = _started(servers.start_arca, binary, plugins, destination, logdir)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def _arca_server(destination: str, logdir: Path, extra: tuple):
    """`arca serve` with extra options (auth, …), stopped on exit; arca only."""
    binary, plugins = _required_env("ARCA_BIN"), _required_env("ARCA_PLUGINS")
    server = _started(lambda: servers.start_arca(binary, plugins, destination, logdir, extra=extra))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_arca_with(logdir):
    """`with start_arca_with(destination, [options]) as server:` an arca server with options."""
    return lambda destination, extra: _arca_server(destination, logdir, tuple(extra))


@pytest.fixture(scope="session")
def logdir(tmp_path_factory) -> Path:
    """Where the servers' output goes (printed in start-up failures)."""
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def arca(tmp_path_factory, logdir):
    """`arca serve` over a fresh destination directory `<tmp>/dest`.

    The destination has a parent of its own, so a test can plant a canary
    beside it and prove that `..` never reaches it.
    """
    dest = tmp_path_factory.mktemp("arca") / "dest"
    dest.mkdir()
    with artifact_server(str(dest), logdir) as server:
        yield ArtifactServer(server.url, dest)


@pytest.fixture
def start_artifact_server(logdir):
    """`with start_artifact_server(destination) as server:` another server, for one test."""
    return lambda destination: artifact_server(destination, logdir)


def require_server_env(names, backend: str, started: str):
    """Skips the test (fails it under CI) unless every variable in `names` is
    set: what `cargo xtask test` sets for the server it starts."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        why = f"no {backend} test server: {', '.join(missing)} not set (`cargo xtask test` starts {started})"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must test the {backend} destination", pytrace=False)
        pytest.skip(why)


# What the S3 tests need from `cargo xtask test` (or whoever runs radosgw).
S3_ENV = ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ARCA_S3_TEST_BUCKET")


@pytest.fixture(scope="session")
def s3_client():
    """A boto3 client for the test S3 server, or a skip (a failure under CI) without one."""
    require_server_env(S3_ENV, "S3", "radosgw when Ceph is installed")
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 2},
            connect_timeout=10,
            read_timeout=60,
        ),
    )
    bucket = os.environ["ARCA_S3_TEST_BUCKET"]
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as e:
        pytest.fail(f"the S3 test server does not serve bucket {bucket}: {e}", pytrace=False)
    return client


@pytest.fixture(scope="session")
def arca_s3(s3_client, logdir):
    """`arca serve --artifacts-destination s3://<bucket>/<fresh prefix>`
    (`mlflow server --artifacts-only` under ARCA_REFERENCE=mlflow)."""
    bucket = os.environ["ARCA_S3_TEST_BUCKET"]
    prefix = f"python-{uuid.uuid4().hex[:12]}"
    with artifact_server(f"s3://{bucket}/{prefix}", logdir) as server:
        yield S3ArtifactServer(server.url, bucket, prefix, s3_client)


@pytest.fixture(scope="session")
def tracking(arca, tmp_path_factory, logdir):
    """A tracking-only `mlflow server` (sqlite, `--no-serve-artifacts`) whose
    default artifact root is arca's REST root: the split deployment."""
    home = tmp_path_factory.mktemp("tracking")
    args = [
        "--backend-store-uri",
        f"sqlite:///{home / 'mlflow.db'}",
        "--no-serve-artifacts",
        "--default-artifact-root",
        arca.api,
    ]
    server = _started(servers.start_mlflow, args, logdir, "mlflow tracking server")
    try:
        yield TrackingServer(server.url, arca)
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def quick_client(monkeypatch):
    """MLflow client settings for a test: no retries (a failure shows at once
    instead of after minutes of backoff), short timeouts, no progress bars."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture
def area() -> str:
    """A fresh directory name under the destination root, so tests share a server but not files."""
    return f"t-{uuid.uuid4().hex[:12]}"
