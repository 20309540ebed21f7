"""`arca serve` on an `sftp://` destination (OpenSSH's sshd, started by `cargo
xtask test`), driven by the real MLflow client, with every result checked on
the SFTP server itself (paramiko, straight to it).

Two ways in, both started by xtask: key auth through the host alias of an
OpenSSH client configuration (`ARCA_SFTP_SSH_CONFIG`, with the server's keys
in `ARCA_SFTP_KNOWN_HOSTS`; `arca serve` inherits both variables), and
password auth for a throw-away account (`ARCA_SFTP_PASSWORD_TEST_URI`, root
only). MLflow's own `SFTPArtifactRepository` (pysftp) reads what Arca wrote
and Arca reads what it wrote. pysftp loads only RSA keys and looks host keys
up by host name alone, so it gets a HOME of its own: `.ssh/config` naming
the RSA key xtask authorised, and `known_hosts` without the `[host]:port`
form.
"""

import contextlib
import hashlib
import os
import re
import stat
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import paramiko
import pytest
import requests
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

import servers
from conftest import artifact_server, require_server_env

MiB = 1024 * 1024
REFERENCE = os.environ.get("ARCA_REFERENCE") == "mlflow"
# The `Host` alias of xtask's ssh config (xtask/src/servers/sftp.rs).
ALIAS = "arca-sftp-test"
SFTP_ENV = (
    "ARCA_SFTP_TEST_URI",
    "ARCA_SFTP_SSH_CONFIG",
    "ARCA_SFTP_KNOWN_HOSTS",
    "ARCA_SFTP_TEST_RSA_KEY",
    "ARCA_SFTP_TEST_PORT",
)


def _require_sftp(*extra):
    require_server_env(SFTP_ENV + extra, "SFTP", "OpenSSH's sshd when openssh-server is installed")


class SftpView:
    """paramiko straight to the SFTP server, under the absolute `root` path."""

    def __init__(self, root: str, connect):
        self.root = root.rstrip("/")
        self._connect = connect

    def _full(self, path: str) -> str:
        return f"{self.root}/{path}".rstrip("/")

    def get(self, path: str) -> bytes | None:
        with self._connect() as (_, sftp):
            try:
                with sftp.open(self._full(path), "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None

    def names(self, path: str) -> list[str]:
        with self._connect() as (_, sftp):
            try:
                return sorted(a.filename for a in sftp.listdir_attr(self._full(path)))
            except FileNotFoundError:
                return []

    def put(self, path: str, data: bytes):
        with self._connect() as (_, sftp):
            parts = self._full(path).split("/")
            for i in range(2, len(parts)):
                d = "/".join(parts[:i])
                try:
                    if not stat.S_ISDIR(sftp.stat(d).st_mode):
                        raise AssertionError(f"{d} is not a directory")
                except FileNotFoundError:
                    sftp.mkdir(d)
            with sftp.open(self._full(path), "wb") as f:
                f.write(data)


class _Session:
    """An SSH connection with its SFTP channel, closed on exit."""

    def __init__(self, **connect):
        self._connect = connect

    def __enter__(self):
        self.client = paramiko.SSHClient()
        self.client.load_host_keys(os.environ["ARCA_SFTP_KNOWN_HOSTS"])
        self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self.client.connect(allow_agent=False, look_for_keys=False, timeout=30, **self._connect)
        return self.client, self.client.open_sftp()

    def __exit__(self, *exc):
        self.client.close()


def key_session() -> _Session:
    """Key auth, everything taken from the ssh config's host alias."""
    host = paramiko.SSHConfig.from_path(os.environ["ARCA_SFTP_SSH_CONFIG"]).lookup(ALIAS)
    return _Session(
        hostname=host["hostname"],
        port=int(host["port"]),
        username=host["user"],
        key_filename=host["identityfile"][0],
    )


def password_session(uri: str) -> _Session:
    u = urlparse(uri)
    return _Session(hostname=u.hostname, port=u.port, username=u.username, password=unquote(u.password or ""))


@pytest.fixture(scope="session")
def mlflow_home(tmp_path_factory) -> Path:
    """A HOME for MLflow's SFTPArtifactRepository: `.ssh/config` with the alias
    and the RSA key, `.ssh/known_hosts` keyed by the bare address (pysftp
    looks host keys up by host name only)."""
    _require_sftp()
    home = tmp_path_factory.mktemp("mlflow-home")
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700)
    port = os.environ["ARCA_SFTP_TEST_PORT"]
    user = paramiko.SSHConfig.from_path(os.environ["ARCA_SFTP_SSH_CONFIG"]).lookup(ALIAS)["user"]
    key = ssh / "id_rsa"
    key.write_bytes(Path(os.environ["ARCA_SFTP_TEST_RSA_KEY"]).read_bytes())
    key.chmod(0o600)
    (ssh / "config").write_text(
        f'Host {ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile "{key}"\n'
    )
    known = Path(os.environ["ARCA_SFTP_KNOWN_HOSTS"]).read_text()
    (ssh / "known_hosts").write_text(re.sub(r"^\[127\.0\.0\.1\]:\d+ ", "127.0.0.1 ", known, flags=re.M))
    return home


class SftpServer:
    """`arca serve` over `<sftp uri>/<prefix>`, and a view straight into the server."""

    def __init__(self, url: str, base: str, prefix: str, view: SftpView):
        self.url, self.base, self.prefix, self.view = url, base.rstrip("/"), prefix, view

    @property
    def destination(self) -> str:
        return f"{self.base}/{self.prefix}"


@pytest.fixture(scope="session")
def sftp_server(mlflow_home, logdir):
    """Key auth through the ssh config alias. Under ARCA_REFERENCE=mlflow the
    reference server runs with `mlflow_home` as its HOME (how MLflow finds
    its SFTP settings)."""
    base = os.environ["ARCA_SFTP_TEST_URI"]
    prefix = f"python-{uuid.uuid4().hex[:12]}"
    view = SftpView(f"{unquote(urlparse(base).path)}/{prefix}", key_session)
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as mp:
            if REFERENCE:
                mp.setenv("HOME", str(mlflow_home))
            server = stack.enter_context(artifact_server(f"{base.rstrip('/')}/{prefix}", logdir))
        yield SftpServer(server.url, base, prefix, view)


@pytest.fixture
def repo(sftp_server, area, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sftp_server.url)
    return MlflowArtifactsRepository(f"mlflow-artifacts:/{area}")


@pytest.fixture
def mlflow_sftp(mlflow_home, monkeypatch):
    """`mlflow_sftp(uri)`: MLflow's own SFTPArtifactRepository (pysftp), made with `mlflow_home` as HOME."""
    from mlflow.store.artifact.sftp_artifact_repo import SFTPArtifactRepository

    def make(uri: str):
        with monkeypatch.context() as mp:
            mp.setenv("HOME", str(mlflow_home))
            return SFTPArtifactRepository(uri)

    return make


def _tree(root: Path) -> dict:
    src = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(3 * MiB + 7), "sub/deeper/empty.txt": b""}
    for path, data in src.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return src


def test_files_round_trip_through_the_server(sftp_server, area, repo, tmp_path):
    src = tmp_path / "src"
    files = _tree(src)
    repo.log_artifacts(str(src), "run")
    repo.log_artifact(str(src / "a.txt"), "single")
    for path, data in files.items():
        assert sftp_server.view.get(f"{area}/run/{path}") == data, path
    assert sftp_server.view.get(f"{area}/single/a.txt") == b"alpha\n"
    assert sftp_server.view.names(f"{area}/run") == ["a.txt", "sub"]

    listed = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("run")]
    assert listed == [("run/a.txt", False, 6), ("run/sub", True, None)]
    assert [(f.path, f.is_dir) for f in repo.list_artifacts()] == [("run", True), ("single", True)]
    out = tmp_path / "out"
    out.mkdir()
    repo.download_artifacts("run", str(out))
    for path, data in files.items():
        assert (out / "run" / path).read_bytes() == data, path
    (tmp_path / "one").mkdir()
    one = repo.download_artifacts("run/sub/b.bin", str(tmp_path / "one"))
    assert Path(one).read_bytes() == files["sub/b.bin"]


@pytest.mark.skipif(REFERENCE, reason="MLflow's SFTP repository answers a missing file with a 500")
def test_a_missing_artifact_is_a_404(sftp_server, area):
    r = requests.get(f"{sftp_server.url}{servers.API}/{area}/never-written", timeout=30)
    assert r.status_code == 404, r.text


def test_delete_removes_the_tree_and_deleting_nothing_succeeds(sftp_server, area, repo, tmp_path):
    src = tmp_path / "src"
    (src / "gone" / "deep").mkdir(parents=True)
    (src / "keep.txt").write_bytes(b"k")
    (src / "gone" / "a.txt").write_bytes(b"a")
    (src / "gone" / "deep" / "b.txt").write_bytes(b"b")
    repo.log_artifacts(str(src))
    repo.delete_artifacts("gone")
    assert sftp_server.view.names(area) == ["keep.txt"]
    assert sftp_server.view.get(f"{area}/keep.txt") == b"k"
    r = requests.delete(f"{sftp_server.url}{servers.API}/{area}/never-written", timeout=30)
    assert r.status_code == 200, r.text


def test_what_mlflows_sftp_repository_writes_is_read_through_arca(sftp_server, area, repo, mlflow_sftp, tmp_path):
    src = tmp_path / "src"
    (src / "model").mkdir(parents=True)
    files = {"hello.txt": b"hello from mlflow\n", "model/w.bin": os.urandom(MiB + 3)}
    for path, data in files.items():
        (src / path).write_bytes(data)
    mlflow_sftp(f"{sftp_server.destination}/{area}/by-mlflow").log_artifacts(str(src))
    listed = [(f.path, f.is_dir) for f in repo.list_artifacts("by-mlflow")]
    assert listed == [("by-mlflow/hello.txt", False), ("by-mlflow/model", True)]
    out = tmp_path / "out"
    out.mkdir()
    repo.download_artifacts("by-mlflow", str(out))
    for path, data in files.items():
        got = (out / "by-mlflow" / path).read_bytes()
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest(), path


def test_what_arca_writes_is_read_by_mlflows_sftp_repository(sftp_server, area, repo, mlflow_sftp, tmp_path):
    src = tmp_path / "src"
    files = _tree(src)
    repo.log_artifacts(str(src), "by-arca")
    theirs = mlflow_sftp(f"{sftp_server.destination}/{area}")
    listed = [(f.path, f.is_dir, f.file_size) for f in theirs.list_artifacts("by-arca")]
    assert listed == [("by-arca/a.txt", False, 6), ("by-arca/sub", True, None)]
    out = tmp_path / "out"
    out.mkdir()
    theirs.download_artifacts("by-arca", str(out))
    for path, data in files.items():
        assert (out / "by-arca" / path).read_bytes() == data, path


@pytest.mark.skipif(REFERENCE, reason="MLflow's SFTP repository sends the password still percent-encoded")
def test_password_auth_destination_round_trips(logdir, tmp_path, monkeypatch):
    _require_sftp("ARCA_SFTP_PASSWORD_TEST_URI")
    base = os.environ["ARCA_SFTP_PASSWORD_TEST_URI"].rstrip("/")
    prefix = f"python-{uuid.uuid4().hex[:12]}"
    view = SftpView(f"{unquote(urlparse(base).path)}/{prefix}", lambda: password_session(base))
    src = tmp_path / "src"
    files = _tree(src)
    with artifact_server(f"{base}/{prefix}", logdir) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        repo = MlflowArtifactsRepository("mlflow-artifacts:/pw")
        repo.log_artifacts(str(src), "run")
        for path, data in files.items():
            assert view.get(f"pw/run/{path}") == data, path
        view.put("pw/planted/x.txt", b"planted by paramiko")
        out = tmp_path / "out"
        out.mkdir()
        repo.download_artifacts("", str(out))
        for path, data in files.items():
            assert (out / "run" / path).read_bytes() == data, path
        assert (out / "planted" / "x.txt").read_bytes() == b"planted by paramiko"
        repo.delete_artifacts("run")
        assert view.names("pw") == ["planted"]
