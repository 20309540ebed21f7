"""`arca serve` on a `gs://` destination, driven by the real MLflow client.

Two servers, because no single one can prove both directions here:

- the project's XML-API server (`gcs-xml-server`, started by `cargo xtask
  test`), which checks bearer tokens and V4 signatures: uploads (multipart
  parts PUT straight to it through V4-signed URLs, which it verifies),
  downloads and deletes through arca, every result read back through URLs
  signed by Google's own library (google-cloud-storage's V4 signer), so the
  server's signature checks are held to Google's implementation too;
- the same server's JSON API (what google-cloud-storage speaks, with a real
  OAuth token exchange at the `token_uri` of the service-account file):
  what MLflow's own `GCSArtifactRepository` writes, Arca reads through
  `arca serve`, and the other way round;
- fake-gcs-server (JSON API, the emulator MLflow's tests use): objects that
  MLflow's own `GCSArtifactRepository` writes are listed and downloaded
  through `arca serve`. (fake-gcs-server cannot take object_store's XML
  writes: every one gets `400 invalid uploadType`.)
"""

import datetime
import hashlib
import os
import uuid
from urllib.parse import quote

import pytest
import requests
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

import servers
from conftest import require_server_env
from test_s3_proxy import CONTROL_BYTES, delta, metrics

MiB = 1024 * 1024
GCS_ENV = ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "ARCA_GCS_TEST_BUCKET")
arca_only = pytest.mark.skipif(
    os.environ.get("ARCA_REFERENCE") == "mlflow", reason="the XML-API server is arca's test server"
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class XmlServer:
    """`arca serve` over `gs://<bucket>/<prefix>` on the XML-API server, and
    Google-signed reads straight from that server."""

    def __init__(self, url: str, bucket: str, prefix: str):
        from google.oauth2 import service_account

        self.url, self.bucket, self.prefix = url, bucket, prefix
        self.endpoint = os.environ["STORAGE_EMULATOR_HOST"]
        self.credentials = service_account.Credentials.from_service_account_file(
            os.environ["GOOGLE_APPLICATION_CREDENTIALS"]
        )

    def signed(self, path: str, method: str = "GET") -> str:
        from google.cloud.storage._signing import generate_signed_url_v4

        resource = f"/{self.bucket}/{quote(f'{self.prefix}/{path}', safe='/~')}"
        return generate_signed_url_v4(
            self.credentials,
            resource,
            expiration=datetime.timedelta(minutes=5),
            api_access_endpoint=self.endpoint,
            method=method,
        )

    def get(self, path: str) -> requests.Response:
        return requests.get(self.signed(path), timeout=60)


@pytest.fixture(scope="session")
def gcs_xml(logdir):
    require_server_env(GCS_ENV, "GCS", "gcs-xml-server")
    prefix = f"python-{uuid.uuid4().hex[:12]}"
    bucket = os.environ["ARCA_GCS_TEST_BUCKET"]
    server = servers.start_arca(os.environ["ARCA_BIN"], os.environ["ARCA_PLUGINS"], f"gs://{bucket}/{prefix}", logdir)
    try:
        yield XmlServer(server.url, bucket, prefix)
    finally:
        server.stop()


@pytest.fixture
def repo(gcs_xml, area, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", gcs_xml.url)
    return MlflowArtifactsRepository(f"mlflow-artifacts:/{area}")


@arca_only
def test_google_signs_what_the_test_server_checks(gcs_xml, area, repo, tmp_path):
    (tmp_path / "a.txt").write_bytes(b"signed by google\n")
    repo.log_artifact(str(tmp_path / "a.txt"))
    r = gcs_xml.get(f"{area}/a.txt")
    assert r.status_code == 200 and r.content == b"signed by google\n", r.text
    # The same URL with its signature changed is refused.
    url = gcs_xml.signed(f"{area}/a.txt")
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    r = requests.get(tampered, timeout=30)
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text, r.text


@arca_only
def test_multipart_upload_parts_go_straight_to_the_server(gcs_xml, area, repo, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(5 * MiB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * MiB))
    size = 3 * 5 * MiB + 4321
    data = os.urandom(size)
    (tmp_path / "model.bin").write_bytes(data)

    before = metrics(gcs_xml.url)
    repo.log_artifact(str(tmp_path / "model.bin"), "weights")
    moved = delta(before, metrics(gcs_xml.url))

    assert moved["route:mpu_create"] == 1 and moved["route:mpu_complete"] == 1, moved
    assert moved["route:mpu_part"] == 0 and moved["route:upload"] == 0, f"parts went through arca: {moved}"
    assert moved["bytes_in"] < CONTROL_BYTES, f"arca received {moved['bytes_in']} bytes of a {size}-byte upload"
    r = gcs_xml.get(f"{area}/weights/model.bin")
    assert r.status_code == 200 and sha256(r.content) == sha256(data)
    [info] = repo.list_artifacts("weights")
    assert (info.path, info.is_dir, info.file_size) == ("weights/model.bin", False, size)


@arca_only
@pytest.mark.parametrize("presigned", ["false", "true"])
def test_files_round_trip_and_delete(gcs_xml, area, repo, tmp_path, monkeypatch, presigned):
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", presigned)
    monkeypatch.setenv("MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE", str(MiB))
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(3 * MiB + 7), "sub/empty.txt": b""}
    for path, data in files.items():
        (src / path).write_bytes(data)
    repo.log_artifacts(str(src), "run")
    for path, data in files.items():
        r = gcs_xml.get(f"{area}/run/{path}")
        assert r.status_code == 200 and r.content == data, path
    out = tmp_path / "out"
    out.mkdir()
    repo.download_artifacts("run", str(out))
    for path, data in files.items():
        assert (out / "run" / path).read_bytes() == data, path

    repo.delete_artifacts("run/sub")
    assert gcs_xml.get(f"{area}/run/sub/b.bin").status_code == 404
    assert gcs_xml.get(f"{area}/run/a.txt").status_code == 200
    assert [f.path for f in repo.list_artifacts("run")] == ["run/a.txt"]


def mlflow_repository(uri: str):
    """MLflow's GCSArtifactRepository for `uri` on the XML-API server's JSON
    API, authenticated with its service account (google-auth trades a JWT
    for a token at the file's `token_uri`)."""
    from google.cloud import storage
    from google.oauth2 import service_account
    from mlflow.store.artifact.gcs_artifact_repo import GCSArtifactRepository

    credentials = service_account.Credentials.from_service_account_file(
        os.environ["GOOGLE_APPLICATION_CREDENTIALS"],
        scopes=["https://www.googleapis.com/auth/devstorage.full_control"],
    )
    client = storage.Client(
        project="arca-test", credentials=credentials, client_options={"api_endpoint": os.environ["STORAGE_EMULATOR_HOST"]}
    )
    return GCSArtifactRepository(uri, client=client)


@arca_only
def test_mlflow_and_arca_read_what_the_other_wrote(gcs_xml, area, repo, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(9 * MiB + 5), "sub/empty.txt": b""}
    for path, data in files.items():
        (src / path).write_bytes(data)
    base = f"gs://{gcs_xml.bucket}/{gcs_xml.prefix}/{area}"

    mlflow_repository(f"{base}/by-mlflow").log_artifacts(str(src))
    out = tmp_path / "through-arca"
    out.mkdir()
    repo.download_artifacts("by-mlflow", str(out))
    for path, data in files.items():
        assert (out / "by-mlflow" / path).read_bytes() == data, path

    repo.log_artifacts(str(src), "by-arca")
    theirs = mlflow_repository(f"{base}/by-arca")
    listed = [(f.path, f.is_dir, f.file_size) for f in theirs.list_artifacts()]
    assert listed == [("a.txt", False, 6), ("sub", True, None)]
    out = tmp_path / "through-mlflow"
    out.mkdir()
    theirs.download_artifacts("", str(out))
    for path, data in files.items():
        assert (out / path).read_bytes() == data, path


@pytest.fixture
def fake_gcs(logdir, monkeypatch):
    """fake-gcs-server with a bucket, and the environment MLflow's
    GCSArtifactRepository and arca use for it (anonymous, as
    google-cloud-storage is under STORAGE_EMULATOR_HOST)."""
    try:
        server = servers.start_fake_gcs(logdir)
    except servers.StartError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        r = requests.post(f"{server.url}/storage/v1/b", json={"name": "mlflow-bkt"}, timeout=10)
        assert r.status_code == 200, r.text
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
        yield server
    finally:
        server.stop()


@arca_only
def test_what_mlflows_gcs_repository_writes_is_listed_and_read_through_arca(fake_gcs, logdir, tmp_path, monkeypatch):
    from mlflow.store.artifact.gcs_artifact_repo import GCSArtifactRepository

    src = tmp_path / "src"
    (src / "model" / "sub").mkdir(parents=True)
    files = {"hello.txt": b"hello from mlflow\n", "model/w.bin": os.urandom(2 * MiB + 3), "model/sub/x.txt": b"x"}
    for path, data in files.items():
        (src / path).write_bytes(data)
    GCSArtifactRepository("gs://mlflow-bkt/exp1/run1/artifacts").log_artifacts(str(src))

    server = servers.start_arca(
        os.environ["ARCA_BIN"], os.environ["ARCA_PLUGINS"], "gs://mlflow-bkt/exp1/run1", logdir
    )
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        repo = MlflowArtifactsRepository("mlflow-artifacts:/artifacts")
        listed = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts()]
        assert listed == [("hello.txt", False, len(files["hello.txt"])), ("model", True, None)]
        listed = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("model")]
        assert listed == [("model/sub", True, None), ("model/w.bin", False, len(files["model/w.bin"]))]
        out = tmp_path / "out"
        out.mkdir()
        repo.download_artifacts("", str(out))
        for path, data in files.items():
            assert (out / path).read_bytes() == data, path
    finally:
        server.stop()
