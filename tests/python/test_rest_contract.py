"""The artifact REST API, spoken raw: what `mlflow server --artifacts-only` answers.

Ported from MLflow's `tests/tracking/test_mlflow_artifacts.py`
(`test_mlflow_artifacts_rest_apis`, `test_mime_type_for_download_artifacts_api`,
`test_server_overrides_requested_mime_type`), with the destination checked on
disk, plus the error, traversal, delete and Range cases of the contract.
Each test works under its own directory (`area`), so the order does not matter.
"""

import hashlib
from email.message import Message

import pytest
import requests

from servers import AJAX, API

TIMEOUT = 30


def put(url: str, data: bytes, **kw) -> requests.Response:
    return requests.put(url, data=data, timeout=TIMEOUT, **kw)


def get(url: str, **kw) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, **kw)


def send_raw(method: str, url: str, data: bytes | None = None) -> requests.Response:
    """Sends `url` exactly as written: requests would otherwise re-quote it (`%2E` → `.`)."""
    with requests.Session() as session:
        prepared = session.prepare_request(requests.Request(method, url, data=data))
        prepared.url = url
        return session.send(prepared, timeout=TIMEOUT)


def uploaded(resp: requests.Response):
    """A successful PUT: 200 with an empty body (uvicorn) or `{}` (Flask)."""
    assert resp.status_code == 200, resp.text
    assert resp.content in (b"", b"{}"), resp.content


def disposition(resp: requests.Response) -> tuple[str | None, str | None]:
    """The Content-Disposition type and filename."""
    msg = Message()
    msg["content-disposition"] = resp.headers["Content-Disposition"]
    return msg.get_content_disposition(), msg.get_filename()


def downloaded(resp: requests.Response, filename: str, mime: str) -> bytes:
    """A successful GET of a file, with MLflow's headers; returns the body."""
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Type"] == mime
    assert disposition(resp) == ("attachment", filename)
    return resp.content


def error(resp: requests.Response, status: int, code: str):
    assert resp.status_code == status, resp.text
    assert resp.json()["error_code"] == code


def listing(base: str, path: str | None) -> dict:
    resp = get(base, params=None if path is None else {"path": path})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_rest_apis(arca, area):
    root = f"{arca.api}/{area}"
    uploaded(put(f"{root}/a.txt", b"0"))
    uploaded(put(f"{root}/dir/b.txt", b"1"))
    assert (arca.dest / area / "a.txt").read_bytes() == b"0"
    assert (arca.dest / area / "dir" / "b.txt").read_bytes() == b"1"

    assert downloaded(get(f"{root}/a.txt"), "a.txt", "text/plain") == b"0"
    assert downloaded(get(f"{root}/dir/b.txt"), "b.txt", "text/plain") == b"1"

    assert listing(arca.api, area) == {
        "files": [
            {"path": "a.txt", "is_dir": False, "file_size": 1},
            {"path": "dir", "is_dir": True},
        ]
    }
    only_b = {"files": [{"path": "b.txt", "is_dir": False, "file_size": 1}]}
    assert listing(arca.api, f"{area}/dir") == only_b
    assert listing(arca.api, f"{area}/dir/") == only_b
    # The root lists every test's directory, this one among them.
    assert {"path": area, "is_dir": True} in listing(arca.api, None)["files"]


def test_put_overwrites_and_makes_parents(arca, area):
    url = f"{arca.api}/{area}/x/y/z/f.bin"
    uploaded(put(url, b"first"))
    uploaded(put(url, b"second, longer"))
    assert (arca.dest / area / "x" / "y" / "z" / "f.bin").read_bytes() == b"second, longer"
    assert downloaded(get(url), "f.bin", "application/octet-stream") == b"second, longer"
    assert listing(arca.api, f"{area}/x/y/z") == {"files": [{"path": "f.bin", "is_dir": False, "file_size": 14}]}


def test_empty_file_has_no_size(arca, area):
    uploaded(put(f"{arca.api}/{area}/empty.txt", b""))
    assert (arca.dest / area / "empty.txt").read_bytes() == b""
    assert listing(arca.api, area) == {"files": [{"path": "empty.txt", "is_dir": False}]}


@pytest.mark.parametrize("what", ["empty directory", "missing path", "file path"])
def test_list_of_nothing_is_an_empty_object(arca, area, what):
    (arca.dest / area / "empty").mkdir(parents=True)
    (arca.dest / area / "file.txt").write_bytes(b"x")
    path = {"empty directory": "empty", "missing path": "nope/nothing", "file path": "file.txt"}[what]
    assert listing(arca.api, f"{area}/{path}") == {}


def test_delete_is_recursive_and_idempotent(arca, area):
    root = f"{arca.api}/{area}"
    for name in ("keep.txt", "tree/a.txt", "tree/sub/b.txt", "tree/sub/deeper/c.txt"):
        uploaded(put(f"{root}/{name}", name.encode()))
    for _ in range(2):
        resp = requests.delete(f"{root}/tree", timeout=TIMEOUT)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {}
        assert not (arca.dest / area / "tree").exists()
    assert listing(arca.api, f"{area}/tree") == {}
    assert listing(arca.api, area) == {"files": [{"path": "keep.txt", "is_dir": False, "file_size": 8}]}

    resp = requests.delete(f"{root}/keep.txt", timeout=TIMEOUT)
    assert (resp.status_code, resp.json()) == (200, {})
    assert not (arca.dest / area / "keep.txt").exists()


def test_ajax_api_mirror(arca, area):
    ajax = arca.url + AJAX
    uploaded(put(f"{ajax}/{area}/dir/c.txt", b"ajax"))
    assert (arca.dest / area / "dir" / "c.txt").read_bytes() == b"ajax"
    assert downloaded(get(f"{ajax}/{area}/dir/c.txt"), "c.txt", "text/plain") == b"ajax"
    assert downloaded(get(f"{arca.api}/{area}/dir/c.txt"), "c.txt", "text/plain") == b"ajax"
    assert listing(ajax, area) == {"files": [{"path": "dir", "is_dir": True}]}
    assert listing(ajax, f"{area}/dir") == {"files": [{"path": "c.txt", "is_dir": False, "file_size": 4}]}
    resp = requests.delete(f"{ajax}/{area}/dir", timeout=TIMEOUT)
    assert (resp.status_code, resp.json()) == (200, {})
    assert not (arca.dest / area / "dir").exists()


MIME_TYPES = [
    ("a.txt", "text/plain"),
    ("b.pkl", "application/octet-stream"),
    ("c.png", "image/png"),
    ("d.pdf", "application/pdf"),
    ("MLmodel", "text/plain"),
    ("mlproject", "text/plain"),
]


@pytest.mark.parametrize(("filename", "mime"), MIME_TYPES)
def test_mime_type_for_download(arca, area, filename, mime):
    body = f"contents of {filename}\n".encode()
    uploaded(put(f"{arca.api}/{area}/dir/{filename}", body))
    assert downloaded(get(f"{arca.api}/{area}/dir/{filename}"), filename, mime) == body


@pytest.mark.parametrize(("filename", "mime"), [m for m in MIME_TYPES if m[0] in ("b.pkl", "c.png", "d.pdf")])
def test_server_ignores_requested_mime_type(arca, area, filename, mime):
    body = bytes(range(256))
    uploaded(put(f"{arca.api}/{area}/dir/{filename}", body))
    resp = get(f"{arca.api}/{area}/dir/{filename}", headers={"Accept": "text/html"})
    assert downloaded(resp, filename, mime) == body


def test_missing_file_is_404(arca, area):
    error(get(f"{arca.api}/{area}/no-such-file.txt"), 404, "RESOURCE_DOES_NOT_EXIST")


# `../canary.txt` after one, two and three rounds of percent-decoding (CVE-2023-6831, CVE-2024-1560).
TRAVERSALS = ["%2E%2E%2Fcanary.txt", "%252E%252E%252Fcanary.txt", "%25252E%25252E%25252Fcanary.txt"]


@pytest.fixture
def canary(arca):
    """A file beside the destination directory, where `../canary.txt` would lead."""
    path = arca.dest.parent / "canary.txt"
    path.write_bytes(b"canary: must survive")
    yield path
    assert path.read_bytes() == b"canary: must survive", "a request escaped the destination"


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
@pytest.mark.parametrize("path", TRAVERSALS)
@pytest.mark.parametrize("prefix", [API, AJAX])
def test_traversal_is_refused(arca, canary, prefix, path, method):
    resp = send_raw(method, f"{arca.url}{prefix}/{path}", data=b"overwritten" if method == "PUT" else None)
    error(resp, 400, "INVALID_PARAMETER_VALUE")
    assert b"must survive" not in resp.content
    assert canary.exists()


@pytest.mark.parametrize("path", ["..", "../", "dir/../..", "%2E%2E", "/abs", "C:/", "a#b"])
def test_list_refuses_unsafe_paths(arca, canary, path):
    error(get(arca.api, params={"path": path}), 400, "INVALID_PARAMETER_VALUE")


def test_range_request(arca, area):
    url = f"{arca.api}/{area}/digits.bin"
    uploaded(put(url, b"0123456789"))
    resp = get(url, headers={"Range": "bytes=1-3"})
    assert resp.status_code == 206, resp.text
    assert resp.content == b"123"
    assert resp.headers["Content-Range"] == "bytes 1-3/10"


def test_large_file_streams_intact(arca, area):
    body = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32 + 7)  # a little over 3 MiB
    url = f"{arca.api}/{area}/big.bin"
    uploaded(put(url, body))
    assert (arca.dest / area / "big.bin").read_bytes() == body
    assert hashlib.sha256(get(url).content).hexdigest() == hashlib.sha256(body).hexdigest()
    assert listing(arca.api, area)["files"][0]["file_size"] == len(body)


def test_service_endpoints(arca):
    health = get(f"{arca.url}/health")
    assert (health.status_code, health.text) == (200, "OK")
    version = get(f"{arca.url}/version")
    assert version.status_code == 200 and version.text.strip(), version.text
    info = get(f"{arca.url}/api/3.0/mlflow/server-info")
    assert info.status_code == 200, info.text
    assert isinstance(info.json(), dict)


def test_file_uri_destination(tmp_path, start_artifact_server):
    dest = tmp_path / "dest"
    dest.mkdir()
    with start_artifact_server(dest.as_uri()) as server:
        uploaded(put(f"{server.url}{API}/x/y.txt", b"via file://"))
        assert (dest / "x" / "y.txt").read_bytes() == b"via file://"
        assert listing(server.url + API, "x") == {"files": [{"path": "y.txt", "is_dir": False, "file_size": 11}]}
