"""Creates a container on an Azure Blob endpoint with Shared Key auth.

Usage: python3 azurite_container.py <blob endpoint> <account> <base64 key> <container>

`cargo xtask test` runs it after starting Azurite: Arca, like MLflow, never
creates containers, and object_store cannot. Standard library only, so it
runs before the test venv exists. An existing container is success.
"""

import base64
import hashlib
import hmac
import sys
import urllib.error
import urllib.parse
import urllib.request
from email.utils import formatdate


def main() -> int:
    endpoint, account, key, container = sys.argv[1:5]
    url = f"{endpoint.rstrip('/')}/{container}?restype=container"
    path = urllib.parse.urlsplit(url).path
    date = formatdate(usegmt=True)
    version = "2021-08-06"
    # Verb, then Content-Encoding, -Language, -Length (empty for 0), -MD5,
    # Content-Type, Date, If-Modified-Since, If-Match, If-None-Match,
    # If-Unmodified-Since, Range; then the x-ms- headers and the resource.
    ctype = "application/octet-stream"
    to_sign = "PUT\n" + "\n" * 4 + ctype + "\n" * 7 + f"x-ms-date:{date}\nx-ms-version:{version}\n/{account}{path}\nrestype:container"
    sig = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
    req = urllib.request.Request(
        url,
        method="PUT",
        data=b"",
        headers={"Content-Type": ctype, "x-ms-date": date, "x-ms-version": version, "Authorization": f"SharedKey {account}:{sig}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return 0 if resp.status == 201 else 1
    except urllib.error.HTTPError as e:
        if e.code == 409:
            return 0
        print(f"cannot create container {container}: HTTP {e.code}: {e.read()[:300]!r}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
