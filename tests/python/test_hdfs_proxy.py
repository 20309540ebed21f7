"""`arca serve` on an `hdfs://` destination (a MiniDFSCluster: a real NameNode
and DataNode, started by `cargo xtask test`), driven by the real MLflow
client, with every result checked on the cluster itself through WebHDFS, the
NameNode's own REST API, which does not go through Arca.

MLflow's own HDFS repository needs pyarrow's `libhdfs`, which ships only with
a Hadoop distribution (not a package registry), so its side is not run here:
these tests run against Arca only.
"""

import os
import uuid
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
import requests
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

import servers
from conftest import artifact_server, require_server_env

MiB = 1024 * 1024
REFERENCE = os.environ.get("ARCA_REFERENCE") == "mlflow"
HDFS_ENV = ("ARCA_HDFS_TEST_URI", "ARCA_HDFS_WEBHDFS", "ARCA_HDFS_SUPERUSER")

pytestmark = pytest.mark.skipif(REFERENCE, reason="MLflow's HDFS repository needs libhdfs from a Hadoop distribution")


class WebHdfs:
    """WebHDFS straight to the NameNode (reads follow its redirect to the DataNode)."""

    def __init__(self, base: str, root: str, user: str):
        self.base, self.root, self.user = base.rstrip("/"), root.rstrip("/"), user

    def _url(self, path: str, op: str) -> str:
        full = f"{self.root}/{path}".rstrip("/")
        return f"{self.base}{quote(full)}?op={op}&user.name={self.user}"

    def get(self, path: str) -> bytes | None:
        r = requests.get(self._url(path, "OPEN"), timeout=60)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.content

    def names(self, path: str) -> list[str] | None:
        """The children's names, sorted; None when the path does not exist."""
        r = requests.get(self._url(path, "LISTSTATUS"), timeout=60)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return sorted(s["pathSuffix"] for s in r.json()["FileStatuses"]["FileStatus"])

    def put(self, path: str, data: bytes):
        r = requests.put(self._url(path, "CREATE") + "&overwrite=true", allow_redirects=False, timeout=60)
        assert r.status_code == 307, r.text
        r = requests.put(r.headers["Location"], data=data, timeout=60)
        assert r.status_code == 201, r.text


class HdfsServer:
    def __init__(self, url: str, view: WebHdfs):
        self.url, self.view = url, view


@pytest.fixture(scope="session")
def hdfs_server(logdir):
    require_server_env(HDFS_ENV, "HDFS", "a MiniDFSCluster when java and mvn are installed")
    base = os.environ["ARCA_HDFS_TEST_URI"].rstrip("/")
    prefix = f"python-{uuid.uuid4().hex[:12]}"
    view = WebHdfs(os.environ["ARCA_HDFS_WEBHDFS"], f"{urlparse(base).path}/{prefix}", os.environ["ARCA_HDFS_SUPERUSER"])
    with artifact_server(f"{base}/{prefix}", logdir) as server:
        yield HdfsServer(server.url, view)


@pytest.fixture
def repo(hdfs_server, area, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", hdfs_server.url)
    return MlflowArtifactsRepository(f"mlflow-artifacts:/{area}")


def _tree(root: Path) -> dict:
    # b.bin spans two 16 MiB blocks of the test cluster.
    src = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(17 * MiB + 5), "sub/deeper/empty.txt": b""}
    for path, data in src.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return src


def test_files_round_trip_through_the_server(hdfs_server, area, repo, tmp_path):
    src = tmp_path / "src"
    files = _tree(src)
    repo.log_artifacts(str(src), "run")
    repo.log_artifact(str(src / "a.txt"), "single")
    for path, data in files.items():
        assert hdfs_server.view.get(f"{area}/run/{path}") == data, path
    assert hdfs_server.view.get(f"{area}/single/a.txt") == b"alpha\n"
    # No temporary file of the uploads is left beside them.
    assert hdfs_server.view.names(f"{area}/run") == ["a.txt", "sub"]
    assert hdfs_server.view.names(f"{area}/run/sub") == ["b.bin", "deeper"]

    listed = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("run")]
    assert listed == [("run/a.txt", False, 6), ("run/sub", True, None)]
    out = tmp_path / "out"
    out.mkdir()
    repo.download_artifacts("run", str(out))
    for path, data in files.items():
        assert (out / "run" / path).read_bytes() == data, path


def test_ranged_reads_cross_block_boundaries(hdfs_server, area, repo, tmp_path):
    data = os.urandom(33 * MiB + 11)
    (tmp_path / "big.bin").write_bytes(data)
    repo.log_artifact(str(tmp_path / "big.bin"))
    url = f"{hdfs_server.url}{servers.API}/{area}/big.bin"
    for start, end in [(0, 9), (16 * MiB - 3, 16 * MiB + 2), (33 * MiB, 33 * MiB + 10)]:
        r = requests.get(url, headers={"Range": f"bytes={start}-{end}"}, timeout=60)
        assert r.status_code == 206, r.text
        assert r.content == data[start : end + 1], (start, end)


def test_a_missing_artifact_is_a_404(hdfs_server, area):
    r = requests.get(f"{hdfs_server.url}{servers.API}/{area}/never-written", timeout=30)
    assert r.status_code == 404, r.text


def test_delete_removes_the_directory_itself(hdfs_server, area, repo, tmp_path):
    src = tmp_path / "src"
    (src / "gone" / "deep").mkdir(parents=True)
    (src / "keep.txt").write_bytes(b"k")
    (src / "gone" / "a.txt").write_bytes(b"a")
    (src / "gone" / "deep" / "b.txt").write_bytes(b"b")
    repo.log_artifacts(str(src))
    repo.delete_artifacts("gone")
    # MLflow's HDFS repository would keep an empty `gone/`.
    assert hdfs_server.view.names(area) == ["keep.txt"]
    assert hdfs_server.view.names(f"{area}/gone") is None
    assert hdfs_server.view.get(f"{area}/keep.txt") == b"k"
    r = requests.delete(f"{hdfs_server.url}{servers.API}/{area}/never-written", timeout=30)
    assert r.status_code == 200, r.text


def test_files_written_by_another_client_are_served(hdfs_server, area, repo, tmp_path):
    blob = os.urandom(MiB + 3)
    hdfs_server.view.put(f"{area}/planted/x.bin", blob)
    hdfs_server.view.put(f"{area}/planted/note.txt", b"from webhdfs")
    listed = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("planted")]
    assert listed == [("planted/note.txt", False, 12), ("planted/x.bin", False, MiB + 3)]
    out = tmp_path / "out"
    out.mkdir()
    repo.download_artifacts("planted", str(out))
    assert (out / "planted" / "x.bin").read_bytes() == blob
    assert (out / "planted" / "note.txt").read_bytes() == b"from webhdfs"
