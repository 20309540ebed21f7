"""The Python contenders of `cargo xtask bench s3`: one transfer per process.

    python s3_bench.py boto3-up FILE BUCKET KEY [THREADS]
    python s3_bench.py boto3-down BUCKET KEY FILE [THREADS]
    python s3_bench.py mlflow-up DIR URI
    python s3_bench.py mlflow-down URI DIR

THREADS (default 10, boto3's) is the transfer's max_concurrency.
The S3 settings come from MLflow's environment variables
(MLFLOW_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), read by MLflow's own code.
Only the transfer call is timed: the imports and the creation of the boto3
client happen before the clock starts. Prints one JSON line:
{"secs": <seconds of the call>, "cpu": <CPU seconds, user + system, of the
process during the call>}.

xtask writes this file into its work directory at run time (it is kept in
the xtask sources, next to the Rust that runs it).
"""

import json
import os
import resource
import sys
import time

from boto3.s3.transfer import TransferConfig
from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository

MIB = 1024 * 1024


def transfer(threads="10"):
    """What MLflow's S3 repository gets from boto3: it calls upload_file and
    download_file without a Config, so these are boto3's defaults, spelled
    out (the concurrency can be lowered for comparison)."""
    return TransferConfig(
        multipart_threshold=8 * MIB,
        multipart_chunksize=8 * MIB,
        max_concurrency=int(threads),
        use_threads=True,
    )


def client(bucket):
    """The boto3 client MLflow's S3 repository builds (endpoint, signature
    version, addressing style and TLS settings from MLflow's variables)."""
    return S3ArtifactRepository(f"s3://{bucket}")._get_s3_client()


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(call):
    """Seconds and CPU seconds (every thread of this process) of call()."""
    cpu_start, start = cpu(), time.perf_counter()
    call()
    return time.perf_counter() - start, cpu() - cpu_start


def main(argv):
    op, args = argv[1], argv[2:]
    if op == "boto3-up":
        path, bucket, key, *threads = args
        s3, config = client(bucket), transfer(*threads)
        secs, used = timed(lambda: s3.upload_file(path, bucket, key, Config=config))
    elif op == "boto3-down":
        bucket, key, path, *threads = args
        s3, config = client(bucket), transfer(*threads)
        secs, used = timed(lambda: s3.download_file(bucket, key, path, Config=config))
    elif op == "mlflow-up":
        path, uri = args
        repo = S3ArtifactRepository(uri)
        repo._get_s3_client()  # cached by MLflow: built here, outside the timing
        secs, used = timed(lambda: repo.log_artifacts(path))
    elif op == "mlflow-down":
        uri, path = args
        repo = S3ArtifactRepository(uri)
        repo._get_s3_client()
        os.makedirs(path)  # MLflow wants an existing directory
        secs, used = timed(lambda: repo.download_artifacts("", dst_path=path))
    else:
        sys.exit(f"unknown operation {op!r}")
    print(json.dumps({"secs": secs, "cpu": used}))


if __name__ == "__main__":
    main(sys.argv)
