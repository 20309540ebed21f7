"""`arca serve` on an `s3://` destination, driven by the real MLflow client,
with every result checked in the S3 server itself (boto3, straight to it).

- Multipart upload: the client asks `mpu/create`, PUTs the parts to the
  presigned S3 URLs it is handed, then `mpu/complete`. The parts must go to
  S3 and never through arca: arca's `/metrics` shows no part request and
  only the small JSON bodies of create and complete received, and the
  object's ETag in S3 says how many parts it was made of.
- A multipart upload that fails is aborted by the client, and nothing is left
  in S3: neither the object nor the pending upload.
- Download (streamed and in presigned ranged chunks), listing and delete
  through arca of objects S3 holds.

Under ARCA_REFERENCE=mlflow the same tests run against `mlflow server
--artifacts-only --artifacts-destination s3://…`, except for those that read
arca's `/metrics` or server-info.
"""

import hashlib
import math
import os

import pytest
import requests
from botocore.exceptions import ClientError
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository

MiB = 1024 * 1024
# S3's smallest part (all but the last).
MIN_PART = 5 * MiB
# What arca may receive for a multipart upload whose parts go to S3: the
# JSON bodies of create and complete (a few hundred bytes per part at most).
CONTROL_BYTES = 64 * 1024
REFERENCE = os.environ.get("ARCA_REFERENCE") == "mlflow"
arca_only = pytest.mark.skipif(REFERENCE, reason="reads arca's /metrics, which MLflow has no counterpart of")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def metrics(url: str) -> dict[str, int]:
    """arca's counters: `route:<name>` per route, and `bytes_in`."""
    out = {}
    for line in requests.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith('arca_requests_total{route="'):
            name = line.split('"')[1]
            out[f"route:{name}"] = int(line.split()[-1])
        elif line.startswith("arca_bytes_in_total "):
            out["bytes_in"] = int(line.split()[-1])
    return out


def delta(before: dict, after: dict) -> dict:
    return {k: after[k] - before.get(k, 0) for k in after}


def s3_object(server, path: str) -> bytes:
    return server.s3.get_object(Bucket=server.bucket, Key=server.key(path))["Body"].read()


def s3_keys(server, path: str) -> list[str]:
    """Every key under `path/`, relative to the destination."""
    pages = server.s3.get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix=server.key(path) + "/")
    keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    return sorted(k.removeprefix(server.prefix + "/") for k in keys)


def s3_put(server, path: str, data: bytes):
    server.s3.put_object(Bucket=server.bucket, Key=server.key(path), Body=data)


def pending_uploads(server, path: str) -> list[str]:
    """The ids of the multipart uploads still open under `path`."""
    resp = server.s3.list_multipart_uploads(Bucket=server.bucket, Prefix=server.key(path))
    return [u["UploadId"] for u in resp.get("Uploads", [])]


def missing_in_s3(server, path: str) -> bool:
    try:
        server.s3.head_object(Bucket=server.bucket, Key=server.key(path))
    except ClientError as e:
        if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return True
        raise
    return False


@pytest.fixture
def repo(arca_s3, area, monkeypatch):
    """An MLflow client repository at `<area>` on the S3-backed server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", arca_s3.url)
    return MlflowArtifactsRepository(f"mlflow-artifacts:/{area}")


@pytest.mark.skipif(REFERENCE, reason="`mlflow server --artifacts-only` answers server-info with a 500 (no tracking store)")
def test_server_info_advertises_multipart_uploads(arca_s3):
    info = requests.get(f"{arca_s3.url}/api/3.0/mlflow/server-info", timeout=10)
    assert info.status_code == 200, info.text
    # Parts go straight to S3 on upload; downloads are one GET through the
    # server unless the operator asks for chunks (faster with this client).
    assert info.json()["multipart_uploads_enabled"] is True
    assert info.json()["multipart_downloads_enabled"] is False


@arca_only
@pytest.mark.parametrize("enabled_by", ["env", "server-info"])
def test_multipart_upload_parts_go_straight_to_s3(arca_s3, area, repo, tmp_path, monkeypatch, enabled_by):
    # "env": MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true; "server-info": unset,
    # so the client decides from what the server advertises.
    if enabled_by == "env":
        monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    else:
        monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", raising=False)
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MIN_PART))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(MIN_PART))
    size = 3 * MIN_PART + 12345
    parts = math.ceil(size / MIN_PART)
    assert parts == 4
    data = os.urandom(size)
    (tmp_path / "model.bin").write_bytes(data)

    before = metrics(arca_s3.url)
    repo.log_artifact(str(tmp_path / "model.bin"), "weights")
    moved = delta(before, metrics(arca_s3.url))

    assert moved["route:mpu_create"] == 1 and moved["route:mpu_complete"] == 1, moved
    assert moved["route:mpu_part"] == 0, f"parts went through arca's staging route: {moved}"
    assert moved["route:upload"] == 0, f"the client fell back to a single PUT through arca: {moved}"
    assert moved["route:mpu_abort"] == 0, moved
    assert moved["bytes_in"] < CONTROL_BYTES, f"arca received {moved['bytes_in']} bytes of a {size}-byte upload"

    # In S3: the content, made of `parts` parts, and no upload left open.
    assert sha256(s3_object(arca_s3, f"{area}/weights/model.bin")) == sha256(data)
    head = arca_s3.s3.head_object(Bucket=arca_s3.bucket, Key=arca_s3.key(f"{area}/weights/model.bin"))
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith(f"-{parts}"), f"not a {parts}-part upload: ETag {head['ETag']}"
    assert pending_uploads(arca_s3, area) == []
    # And the client sees it.
    [info] = repo.list_artifacts("weights")
    assert (info.path, info.is_dir, info.file_size) == ("weights/model.bin", False, size)


@arca_only
def test_failed_multipart_upload_is_aborted_by_the_client(arca_s3, area, repo, tmp_path, monkeypatch):
    # 1 MiB parts: S3 takes each part, then refuses to complete an upload
    # whose non-final parts are under 5 MiB (EntityTooSmall). The client then
    # aborts the upload; nothing may be left in S3.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MiB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(MiB))
    (tmp_path / "small-parts.bin").write_bytes(os.urandom(3 * MiB + 1))

    before = metrics(arca_s3.url)
    with pytest.raises((MlflowException, requests.HTTPError)) as failure:
        repo.log_artifact(str(tmp_path / "small-parts.bin"), "out")
    moved = delta(before, metrics(arca_s3.url))

    assert moved["route:mpu_create"] == 1 and moved["route:mpu_complete"] == 1, moved
    assert moved["route:mpu_abort"] == 1, f"the client did not abort: {moved}"
    assert moved["route:mpu_part"] == 0 and moved["bytes_in"] < CONTROL_BYTES, moved
    # The S3 server's reason, and which file, reach the client.
    message = str(failure.value)
    assert "EntityTooSmall" in message and "out/small-parts.bin" in message, message
    assert missing_in_s3(arca_s3, f"{area}/out/small-parts.bin")
    assert pending_uploads(arca_s3, area) == [], "the aborted upload is still open in S3"


def test_abort_through_the_client_api_leaves_nothing(arca_s3, area, repo, tmp_path):
    # The client's MultipartUploadMixin calls, as `log_artifact` makes them,
    # stopped after one part has reached S3.
    local = tmp_path / "partial.bin"
    local.write_bytes(os.urandom(MIN_PART + 10))
    create = repo.create_multipart_upload(str(local), num_parts=2, artifact_path="big")
    assert create.upload_id and [c.part_number for c in create.credentials] == [1, 2]
    for credential in create.credentials:
        assert credential.url.startswith(os.environ["MLFLOW_S3_ENDPOINT_URL"]), "part URLs must point at S3"
    first = create.credentials[0]
    put = requests.put(first.url, data=local.read_bytes()[:MIN_PART], headers=first.headers or {}, timeout=60)
    assert put.status_code == 200, put.text
    assert pending_uploads(arca_s3, f"{area}/big/partial.bin") == [create.upload_id]

    repo.abort_multipart_upload(str(local), create.upload_id, artifact_path="big")

    assert pending_uploads(arca_s3, f"{area}/big/partial.bin") == []
    assert missing_in_s3(arca_s3, f"{area}/big/partial.bin")


@pytest.mark.parametrize("presigned", ["false", "true"])
def test_download_through_the_server(arca_s3, area, repo, tmp_path, monkeypatch, presigned):
    # "false": streamed by the server; "true": the client's ranged chunks
    # from the URL `presigned/<path>` hands out.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", presigned)
    monkeypatch.setenv("MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE", str(MiB))
    files = {
        "big.bin": os.urandom(3 * MiB + 17),
        "sub/small.txt": b"hello from s3\n",
        "sub/deeper/empty.txt": b"",
    }
    for path, data in files.items():
        s3_put(arca_s3, f"{area}/{path}", data)

    out = tmp_path / "out"
    out.mkdir()
    got = repo.download_artifacts("", str(out))
    for path, data in files.items():
        local = os.path.join(got, path)
        assert os.path.isfile(local), f"{path} not downloaded"
        assert sha256(open(local, "rb").read()) == sha256(data), path
    (tmp_path / "single").mkdir()
    single = repo.download_artifacts("big.bin", str(tmp_path / "single"))
    assert sha256(open(single, "rb").read()) == sha256(files["big.bin"])


def test_listing_shows_sizes_and_directories(arca_s3, area, repo):
    s3_put(arca_s3, f"{area}/a.txt", b"abc")
    s3_put(arca_s3, f"{area}/sub/b.bin", b"x" * 1000)
    s3_put(arca_s3, f"{area}/sub/deeper/c.txt", b"c")
    # A zero-byte "directory marker", as S3 consoles make: a directory, not a file.
    s3_put(arca_s3, f"{area}/marked/", b"")

    top = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts()]
    assert top == [("a.txt", False, 3), ("marked", True, None), ("sub", True, None)]
    sub = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("sub")]
    assert sub == [("sub/b.bin", False, 1000), ("sub/deeper", True, None)]
    assert repo.list_artifacts("marked") == []
    assert repo.list_artifacts("a.txt") == []
    assert repo.list_artifacts("nothing-here") == []


def test_delete_removes_the_directory_and_not_its_prefix_siblings(arca_s3, area, repo, tmp_path):
    src = tmp_path / "src"
    for path, data in {
        "run1/a.txt": b"a",
        "run1/sub/b.txt": b"b",
        "run10/c.txt": b"c",
        "run1.txt": b"d",
    }.items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_bytes(data)
    repo.log_artifacts(str(src))
    assert s3_keys(arca_s3, area) == [f"{area}/{p}" for p in ["run1.txt", "run1/a.txt", "run1/sub/b.txt", "run10/c.txt"]]

    repo.delete_artifacts("run1")

    assert s3_keys(arca_s3, f"{area}/run1") == []
    assert s3_keys(arca_s3, area) == [f"{area}/run1.txt", f"{area}/run10/c.txt"]
    assert s3_object(arca_s3, f"{area}/run10/c.txt") == b"c"
    assert [(f.path, f.is_dir) for f in repo.list_artifacts()] == [("run1.txt", False), ("run10", True)]


def test_delete_of_one_file(arca_s3, area, repo, tmp_path):
    (tmp_path / "keep.txt").write_bytes(b"keep")
    (tmp_path / "drop.txt").write_bytes(b"drop")
    repo.log_artifact(str(tmp_path / "keep.txt"))
    repo.log_artifact(str(tmp_path / "drop.txt"))

    repo.delete_artifacts("drop.txt")

    assert missing_in_s3(arca_s3, f"{area}/drop.txt")
    assert s3_object(arca_s3, f"{area}/keep.txt") == b"keep"
    assert [f.path for f in repo.list_artifacts()] == ["keep.txt"]
