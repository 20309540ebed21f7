"""`arca serve` on an `ftp://` destination (pure-ftpd where `cargo xtask
test` can run it, else pyftpdlib), driven by the real MLflow client, with
every result checked on the FTP server itself (Python's ftplib, straight to
it). MLflow's own `FTPArtifactRepository` writes, and Arca reads what it
wrote; deletes, which MLflow's FTP repository cannot do (its proxy answers
500), answer 200.
"""

import ftplib
import hashlib
import io
import os
import uuid
from urllib.parse import unquote, urlparse

import pytest
import requests
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

import servers
from conftest import artifact_server, require_server_env

MiB = 1024 * 1024
REFERENCE = os.environ.get("ARCA_REFERENCE") == "mlflow"
arca_only = pytest.mark.skipif(REFERENCE, reason="MLflow's FTP repository cannot delete")


class FtpServer:
    """`arca serve` over `<ftp uri>/<prefix>`, and ftplib straight to the server."""

    def __init__(self, url: str, base: str, prefix: str):
        self.url, self.base, self.prefix = url, base.rstrip("/"), prefix
        u = urlparse(base)
        self.host, self.port = u.hostname, u.port or 21
        self.user, self.password = u.username, unquote(u.password or "")

    def connect(self) -> ftplib.FTP:
        ftp = ftplib.FTP()
        ftp.connect(self.host, self.port, timeout=30)
        ftp.login(self.user, self.password)
        return ftp

    def get(self, path: str) -> bytes | None:
        out = io.BytesIO()
        with self.connect() as ftp:
            try:
                ftp.retrbinary(f"RETR /{self.prefix}/{path}", out.write)
            except ftplib.error_perm:
                return None
        return out.getvalue()

    def names(self, path: str) -> list[str]:
        with self.connect() as ftp:
            try:
                return sorted(name for name, facts in ftp.mlsd(f"/{self.prefix}/{path}") if facts["type"] in ("file", "dir"))
            except ftplib.error_perm:
                return []


@pytest.fixture(scope="session")
def ftp_server(logdir):
    require_server_env(("ARCA_FTP_TEST_URI",), "FTP", "pure-ftpd and pyftpdlib")
    base = os.environ["ARCA_FTP_TEST_URI"]
    prefix = f"python-{uuid.uuid4().hex[:12]}"
    with artifact_server(f"{base.rstrip('/')}/{prefix}", logdir) as server:
        yield FtpServer(server.url, base, prefix)


@pytest.fixture
def repo(ftp_server, area, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", ftp_server.url)
    return MlflowArtifactsRepository(f"mlflow-artifacts:/{area}")


def test_files_round_trip_through_the_server(ftp_server, area, repo, tmp_path):
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(3 * MiB + 7), "sub/deeper/empty.txt": b""}
    for path, data in files.items():
        (src / path).write_bytes(data)
    repo.log_artifacts(str(src), "run")
    for path, data in files.items():
        assert ftp_server.get(f"{area}/run/{path}") == data, path
    assert ftp_server.names(f"{area}/run") == ["a.txt", "sub"]

    listed = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("run")]
    assert listed == [("run/a.txt", False, 6), ("run/sub", True, None)]
    out = tmp_path / "out"
    out.mkdir()
    repo.download_artifacts("run", str(out))
    for path, data in files.items():
        assert (out / "run" / path).read_bytes() == data, path


@arca_only
def test_delete_removes_the_tree_and_deleting_nothing_succeeds(ftp_server, area, repo, tmp_path):
    src = tmp_path / "src"
    (src / "gone" / "deep").mkdir(parents=True)
    (src / "keep.txt").write_bytes(b"k")
    (src / "gone" / "a.txt").write_bytes(b"a")
    (src / "gone" / "deep" / "b.txt").write_bytes(b"b")
    repo.log_artifacts(str(src))
    repo.delete_artifacts("gone")
    assert ftp_server.names(area) == ["keep.txt"]
    r = requests.delete(f"{ftp_server.url}{servers.API}/{area}/never-written", timeout=30)
    assert r.status_code == 200, r.text


def test_what_mlflows_ftp_repository_writes_is_read_through_arca(ftp_server, area, repo, tmp_path):
    from mlflow.store.artifact.ftp_artifact_repo import FTPArtifactRepository

    src = tmp_path / "src"
    (src / "model").mkdir(parents=True)
    files = {"hello.txt": b"hello from mlflow\n", "model/w.bin": os.urandom(MiB + 3)}
    for path, data in files.items():
        (src / path).write_bytes(data)
    FTPArtifactRepository(f"{ftp_server.base}/{ftp_server.prefix}/{area}/by-mlflow").log_artifacts(str(src))
    out = tmp_path / "out"
    out.mkdir()
    repo.download_artifacts("by-mlflow", str(out))
    for path, data in files.items():
        got = (out / "by-mlflow" / path).read_bytes()
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest(), path
