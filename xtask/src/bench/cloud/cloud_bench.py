"""The Python contenders of `cargo xtask bench azure|gcs|ftp|sftp`: MLflow's
own artifact repository for the scheme, one transfer per process.

    python cloud_bench.py azure|gcs|ftp|sftp up-file FILE URI
    python cloud_bench.py azure|gcs|ftp|sftp up-dir DIR URI
    python cloud_bench.py azure|gcs|ftp|sftp down URI DIR

Azure: `AzureBlobArtifactRepository(URI)`, which reads
AZURE_STORAGE_CONNECTION_STRING (azure-storage-blob underneath).
GCS: `GCSArtifactRepository(URI, client=…)` with a google-cloud-storage
client for the service account in GOOGLE_APPLICATION_CREDENTIALS and the
endpoint in STORAGE_EMULATOR_HOST (google-auth trades a JWT for a token at
the file's token_uri): MLflow's own `storage.Client()` would go anonymous
under STORAGE_EMULATOR_HOST.
FTP: `FTPArtifactRepository(URI)` (ftplib), the credentials in the URI.
SFTP: `SFTPArtifactRepository(URI)` (pysftp, paramiko), which reads
`~/.ssh/config` for the URI's host alias, and pysftp `~/.ssh/known_hosts`:
xtask runs this with a HOME of its own holding both.

Only the transfer call is timed: the imports and the repository's creation
happen before the clock starts. Prints one JSON line: {"secs": <seconds of
the call>, "cpu": <CPU seconds, user + system, of the process during the
call>}.

xtask writes this file into its work directory at run time.
"""

import json
import os
import resource
import sys
import time


def repository(backend, uri):
    if backend == "sftp":
        from mlflow.store.artifact.sftp_artifact_repo import SFTPArtifactRepository

        return SFTPArtifactRepository(uri)
    if backend == "ftp":
        from mlflow.store.artifact.ftp_artifact_repo import FTPArtifactRepository

        return FTPArtifactRepository(uri)
    if backend == "azure":
        from mlflow.store.artifact.azure_blob_artifact_repo import AzureBlobArtifactRepository

        return AzureBlobArtifactRepository(uri)
    from google.cloud import storage
    from google.oauth2 import service_account
    from mlflow.store.artifact.gcs_artifact_repo import GCSArtifactRepository

    credentials = service_account.Credentials.from_service_account_file(
        os.environ["GOOGLE_APPLICATION_CREDENTIALS"],
        scopes=["https://www.googleapis.com/auth/devstorage.full_control"],
    )
    client = storage.Client(
        project="arca-bench",
        credentials=credentials,
        client_options={"api_endpoint": os.environ["STORAGE_EMULATOR_HOST"]},
    )
    return GCSArtifactRepository(uri, client=client)


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv):
    backend, op, src, dst = argv[1:5]
    if op == "up-file":
        repo = repository(backend, dst)
        call = lambda: repo.log_artifact(src)  # noqa: E731
    elif op == "up-dir":
        repo = repository(backend, dst)
        call = lambda: repo.log_artifacts(src)  # noqa: E731
    elif op == "down":
        repo = repository(backend, src)
        os.makedirs(dst)  # MLflow wants an existing directory
        call = lambda: repo.download_artifacts("", dst_path=dst)  # noqa: E731
    else:
        sys.exit(f"unknown operation {op!r}")
    cpu_start, start = cpu(), time.perf_counter()
    call()
    print(json.dumps({"secs": time.perf_counter() - start, "cpu": cpu() - cpu_start}))


if __name__ == "__main__":
    main(sys.argv)
