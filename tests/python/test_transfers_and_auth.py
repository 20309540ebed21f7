"""The MLflow client's parallel transfers and its credentials, against arca.

- Multipart upload (`MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true`): the client
  asks `mpu/create`, PUTs the parts in parallel to the URLs it is given (arca
  signs URLs back to itself for a local destination), then `mpu/complete`.
- Presigned download (`MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD=true`): the
  client asks `presigned/<path>` and GETs the file in ranged chunks.
- Auth: `MLFLOW_TRACKING_USERNAME`/`PASSWORD` (Basic) and
  `MLFLOW_TRACKING_TOKEN` (Bearer) against `arca serve --auth-file`.

Which path a transfer really took is read from arca's `/metrics`.
"""

import hashlib
import math
import os
import subprocess

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

MiB = 1024 * 1024
# How the client reports a refused request: uploads and downloads raise
# requests' HTTPError, listings an MlflowException.
REFUSED = (MlflowException, requests.HTTPError)

pytestmark = pytest.mark.skipif(
    os.environ.get("ARCA_REFERENCE") == "mlflow", reason="arca's metrics and auth have no MLflow counterpart"
)


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def counter(url: str, route: str) -> int:
    text = requests.get(f"{url}/metrics", timeout=10).text
    line = next(line for line in text.splitlines() if line.startswith(f'arca_requests_total{{route="{route}"}}'))
    return int(line.split()[-1])


def random_file(path, size: int):
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path


def test_multipart_upload_goes_through_parts(arca, area, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", arca.url)
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MiB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * MiB))
    src = random_file(tmp_path / "model.bin", 23 * MiB + 123)
    before = (counter(arca.url, "mpu_part"), counter(arca.url, "upload"))
    repo = MlflowArtifactsRepository(f"mlflow-artifacts:/{area}/run/artifacts")
    repo.log_artifact(str(src), "weights")
    after = (counter(arca.url, "mpu_part"), counter(arca.url, "upload"))
    assert after[0] - before[0] == math.ceil((23 * MiB + 123) / (5 * MiB)), "parts did not go through mpu-part URLs"
    assert after[1] == before[1], "the client fell back to a single PUT"
    landed = arca.dest / area / "run" / "artifacts" / "weights" / "model.bin"
    assert sha256(landed) == sha256(src)
    assert not any((arca.dest / ".arca-mpu").iterdir()), "staged parts left behind"


def test_presigned_download_uses_ranged_chunks(arca, area, tmp_path, monkeypatch):
    src = random_file(tmp_path / "data.bin", 9 * MiB + 7)
    requests.put(f"{arca.api}/{area}/data.bin", data=open(src, "rb").read(), timeout=60).raise_for_status()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", arca.url)
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE", str(2 * MiB))
    before = counter(arca.url, "signed")
    repo = MlflowArtifactsRepository(f"mlflow-artifacts:/{area}")
    (tmp_path / "out").mkdir()
    out = repo.download_artifacts("data.bin", str(tmp_path / "out"))
    assert sha256(out) == sha256(src)
    assert counter(arca.url, "signed") - before >= 5, "the download did not use ranged presigned chunks"


@pytest.mark.parametrize("switches", [[], ["--multipart-uploads", "--multipart-downloads"]])
def test_server_info_decides_the_clients_path(start_arca_with, tmp_path, monkeypatch, switches):
    """With nothing set on the client, a local destination gets one PUT and
    one GET per file (faster through this server than parts), and parts and
    ranged chunks when the server is started with the multipart switches."""
    dest = tmp_path / "dest"
    with start_arca_with(str(dest), switches) as server:
        info = requests.get(f"{server.url}/api/3.0/mlflow/server-info", timeout=10).json()
        on = bool(switches)
        assert (info["multipart_uploads_enabled"], info["multipart_downloads_enabled"]) == (on, on)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", raising=False)
        monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", raising=False)
        monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MiB))
        monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * MiB))
        monkeypatch.setenv("MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE", str(2 * MiB))
        src = random_file(tmp_path / "model.bin", 12 * MiB + 5)
        repo = MlflowArtifactsRepository("mlflow-artifacts:/exp/run/artifacts")
        counts = lambda: {r: counter(server.url, r) for r in ("mpu_part", "upload", "signed", "download")}  # noqa: E731
        before = counts()
        repo.log_artifact(str(src))
        (tmp_path / "out").mkdir()
        out = repo.download_artifacts("model.bin", str(tmp_path / "out"))
        assert sha256(out) == sha256(src) == sha256(dest / "exp" / "run" / "artifacts" / "model.bin")
        used = {r: n - before[r] for r, n in counts().items()}
        if on:
            assert used["mpu_part"] == 3 and used["upload"] == 0, used
            assert used["signed"] >= 6 and used["download"] == 0, used
        else:
            assert used == {"mpu_part": 0, "upload": 1, "signed": 0, "download": 1}, used


def hash_secret(secret: str, token: bool = False) -> str:
    cmd = [os.environ["ARCA_BIN"], "hash-password"] + (["--token"] if token else [])
    return subprocess.run(cmd, input=secret + "\n", capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def auth_arca(start_arca_with, tmp_path):
    auth = tmp_path / "auth.toml"
    auth.write_text(
        f'[[user]]\nname = "writer"\npassword_hash = "{hash_secret("w-pass")}"\npermission = "read-write"\n\n'
        f'[[user]]\nname = "reader"\npassword_hash = "{hash_secret("r-pass")}"\npermission = "read"\n\n'
        f'[[token]]\nname = "ci"\nsha256 = "{hash_secret("ci-token", token=True)}"\npermission = "read-write"\n'
    )
    dest = tmp_path / "dest"
    with start_arca_with(str(dest), ["--auth-file", str(auth)]) as server:
        yield server, dest


def test_a_refused_large_upload_is_answered_not_reset(auth_arca, tmp_path, monkeypatch):
    """A reader's upload of a large file gets the server's 403 with its
    message, and the same client then uploads with other credentials.

    The server reads and discards a body it refused (lingering close). This
    client copes without that too (urllib3 reads the answer after a broken
    pipe); the raw-socket tests in tests/http/auth.rs are the ones a server
    without it fails."""
    server, dest = auth_arca
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "false")
    src = random_file(tmp_path / "big.bin", 64 * MiB)
    repo = MlflowArtifactsRepository("mlflow-artifacts:/exp/run/artifacts")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "r-pass")
    for _ in range(2):
        with pytest.raises(REFUSED) as refused:
            repo.log_artifact(str(src))
        assert "403" in str(refused.value) and "may only read" in str(refused.value), refused.value
    assert not (dest / "exp" / "run" / "artifacts" / "big.bin").exists()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "writer")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "w-pass")
    repo.log_artifact(str(src))
    assert sha256(dest / "exp" / "run" / "artifacts" / "big.bin") == sha256(src)


def test_basic_and_bearer_auth_with_the_client(auth_arca, tmp_path, monkeypatch):
    server, dest = auth_arca
    src = random_file(tmp_path / "a.bin", 1000)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    repo = lambda: MlflowArtifactsRepository("mlflow-artifacts:/exp/run/artifacts")  # noqa: E731

    # No credentials: refused.
    with pytest.raises(REFUSED):
        repo().log_artifact(str(src))
    assert not (dest / "exp").exists()

    # Basic, as MLFLOW_TRACKING_USERNAME/PASSWORD send it.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "writer")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "w-pass")
    repo().log_artifact(str(src))
    assert sha256(dest / "exp" / "run" / "artifacts" / "a.bin") == sha256(src)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    with pytest.raises(REFUSED):
        repo().list_artifacts()

    # A reader lists and downloads, but cannot write.
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "r-pass")
    assert [f.path for f in repo().list_artifacts()] == ["a.bin"]
    (tmp_path / "down").mkdir()
    out = repo().download_artifacts("a.bin", str(tmp_path / "down"))
    assert sha256(out) == sha256(src)
    with pytest.raises(REFUSED):
        repo().log_artifact(str(random_file(tmp_path / "b.bin", 10)))
    assert not (dest / "exp" / "run" / "artifacts" / "b.bin").exists()

    # Bearer, as MLFLOW_TRACKING_TOKEN sends it.
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "ci-token")
    repo().log_artifact(str(random_file(tmp_path / "c.bin", 10)))
    assert (dest / "exp" / "run" / "artifacts" / "c.bin").exists()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "not-the-token")
    with pytest.raises(REFUSED):
        repo().list_artifacts()
