"""`arca serve` on a `wasbs://` destination (Azurite), driven by the real
MLflow client, with every result checked in the blob service itself
(azure-storage-blob, straight to it).

- Multipart upload with more than ten parts: the client PUTs each part to
  the Put Block URL it is handed, straight to the blob service (arca sees
  only the JSON of create and complete), and the committed block list has
  one block per part, every id of one width (MLflow's own Azure repository
  names blocks `mlflow_block_{i}` and fails at part 10).
- Upload, download (streamed and presigned), listing and delete through arca
  of blobs the service holds; deleting a path with nothing under it answers
  200 (MLflow's Azure proxy answers 500, which stops `mlflow gc`).

Under ARCA_REFERENCE=mlflow the same tests run against `mlflow server
--artifacts-only --artifacts-destination wasbs://…`, except those marked
arca-only.
"""

import hashlib
import os
import uuid

import pytest
import requests
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

import servers
from conftest import artifact_server, require_server_env
from test_s3_proxy import CONTROL_BYTES, delta, metrics

MiB = 1024 * 1024
REFERENCE = os.environ.get("ARCA_REFERENCE") == "mlflow"
arca_only = pytest.mark.skipif(REFERENCE, reason="reads arca's /metrics, or asserts what MLflow gets wrong")
AZURE_ENV = ("AZURE_STORAGE_CONNECTION_STRING", "ARCA_AZURE_TEST_CONTAINER")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="session")
def container():
    """A ContainerClient for the test container, or a skip (a failure under CI) without one."""
    require_server_env(AZURE_ENV, "Azure", "Azurite")
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
    client = service.get_container_client(os.environ["ARCA_AZURE_TEST_CONTAINER"])
    if not client.exists():
        pytest.fail("the Azure test server has no test container", pytrace=False)
    return client


class AzureServer:
    def __init__(self, url: str, prefix: str, container):
        self.url, self.prefix, self.container = url, prefix, container

    def name(self, path: str) -> str:
        return f"{self.prefix}/{path}"

    def get(self, path: str) -> bytes:
        return self.container.download_blob(self.name(path)).readall()

    def put(self, path: str, data: bytes):
        self.container.upload_blob(self.name(path), data, overwrite=True)

    def names(self, path: str) -> list[str]:
        start = self.name(path) + "/"
        return sorted(b.name.removeprefix(self.prefix + "/") for b in self.container.list_blobs(name_starts_with=start))


@pytest.fixture(scope="session")
def arca_azure(container, logdir):
    """`arca serve --artifacts-destination wasbs://<container>@devstoreaccount1.blob.core.windows.net/<fresh prefix>`."""
    prefix = f"python-{uuid.uuid4().hex[:12]}"
    destination = f"wasbs://{container.container_name}@devstoreaccount1.blob.core.windows.net/{prefix}"
    with artifact_server(destination, logdir) as server:
        yield AzureServer(server.url, prefix, container)


@pytest.fixture
def repo(arca_azure, area, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", arca_azure.url)
    return MlflowArtifactsRepository(f"mlflow-artifacts:/{area}")


@arca_only
def test_multipart_upload_of_thirteen_parts_goes_straight_to_the_blob_service(arca_azure, area, repo, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MiB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(MiB))
    size = 12 * MiB + 4321
    data = os.urandom(size)
    (tmp_path / "model.bin").write_bytes(data)

    before = metrics(arca_azure.url)
    repo.log_artifact(str(tmp_path / "model.bin"), "weights")
    moved = delta(before, metrics(arca_azure.url))

    assert moved["route:mpu_create"] == 1 and moved["route:mpu_complete"] == 1, moved
    assert moved["route:mpu_part"] == 0 and moved["route:upload"] == 0, f"parts went through arca: {moved}"
    assert moved["bytes_in"] < CONTROL_BYTES, f"arca received {moved['bytes_in']} bytes of a {size}-byte upload"
    # In the service: the content, committed as 13 blocks of one id width.
    name = arca_azure.name(f"{area}/weights/model.bin")
    assert sha256(arca_azure.get(f"{area}/weights/model.bin")) == sha256(data)
    committed, uncommitted = arca_azure.container.get_blob_client(name).get_block_list("all")
    assert len(committed) == 13 and uncommitted == [], (len(committed), len(uncommitted))
    assert len({len(b.id) for b in committed}) == 1, [b.id for b in committed]
    assert [b.size for b in committed] == [MiB] * 12 + [4321]
    [info] = repo.list_artifacts("weights")
    assert (info.path, info.is_dir, info.file_size) == ("weights/model.bin", False, size)


def test_files_round_trip_through_the_server(arca_azure, area, repo, tmp_path):
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(3 * MiB + 7), "sub/deeper/empty.txt": b""}
    for path, data in files.items():
        (src / path).write_bytes(data)
    repo.log_artifacts(str(src), "run")
    assert arca_azure.names(f"{area}/run") == sorted(f"{area}/run/{p}" for p in files)
    for path, data in files.items():
        assert arca_azure.get(f"{area}/run/{path}") == data, path

    listed = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("run")]
    assert listed == [("run/a.txt", False, 6), ("run/sub", True, None)]

    out = tmp_path / "out"
    out.mkdir()
    repo.download_artifacts("run", str(out))
    for path, data in files.items():
        assert (out / "run" / path).read_bytes() == data, path


@pytest.mark.parametrize("presigned", ["false", "true"])
def test_blobs_the_service_holds_download_through_the_server(arca_azure, area, repo, tmp_path, monkeypatch, presigned):
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", presigned)
    monkeypatch.setenv("MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE", str(MiB))
    data = os.urandom(5 * MiB + 3)
    arca_azure.put(f"{area}/big.bin", data)
    out = tmp_path / "out"
    out.mkdir()
    local = repo.download_artifacts("big.bin", str(out))
    assert sha256(open(local, "rb").read()) == sha256(data)


@arca_only
def test_deleting_a_path_with_nothing_under_it_succeeds(arca_azure, area):
    # MLflow's Azure repository raises here, and its proxy answers 500.
    r = requests.delete(f"{arca_azure.url}{servers.API}/{area}/never-written", timeout=30)
    assert r.status_code == 200, r.text


def test_delete_removes_the_blobs(arca_azure, area, repo, tmp_path):
    for path in ("keep.txt", "gone/a.txt", "gone/b/c.txt"):
        arca_azure.put(f"{area}/{path}", path.encode())
    repo.delete_artifacts("gone")
    assert arca_azure.names(area) == [f"{area}/keep.txt"]
