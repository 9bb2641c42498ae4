"""What the runners that drive a real `oxistack up` share (the compat
checks beside this file, tests/fuzz/run.py, tests/tempest/conformance.py):
their common options, the server process they start, watch and stop, how
a signal becomes an exception that still lets cleanup run, and the
PASS/FAIL tally with its summary line and results file.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

READY_PREFIX = "oxistack ready:"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class Server:
    """One `oxistack up` process, its output collected line by line."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv = argv
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.ready_line = ""
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            preexec_fn=_die_with_parent,
        )
        self.threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, "out"), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, "err"), daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _pump(self, stream: Any, tag: str) -> None:
        for line in stream:
            line = line.rstrip("\n")
            with self.lock:
                self.lines.append(f"[{tag}] {line}")
            if tag == "out" and line.startswith(READY_PREFIX) and not self.ready.is_set():
                self.ready_line = line
                self.ready.set()

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready.wait(0.2):
                return True
            if self.proc.poll() is not None:
                # Let the pumps drain what the process printed before dying.
                for thread in self.threads:
                    thread.join(2)
                return self.ready.is_set()
        return False

    def mark(self) -> int:
        with self.lock:
            return len(self.lines)

    def log_since(self, mark: int) -> list[str]:
        with self.lock:
            return self.lines[mark:]

    def stop(self, timeout: float) -> tuple[bool, int | None]:
        """SIGTERM, wait; SIGKILL if it does not exit. Returns (exited_in_time, code)."""
        if self.proc.poll() is not None:
            return True, self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
            in_time = True
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            in_time = False
        for thread in self.threads:
            thread.join(2)
        return in_time, code


def _die_with_parent() -> None:
    """In the child: get SIGKILL if the runner dies, so no server outlives it."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def client_env() -> dict[str, str]:
    """The environment for clients and server: ours less any OS_* cloud settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["NO_COLOR"] = "1"
    env["PYTHONWARNINGS"] = "ignore"
    return env


class Terminated(BaseException):
    """Raised in the runner on SIGTERM/SIGHUP so that cleanup still runs."""


def on_signal(signum: int, _frame: Any) -> None:
    raise Terminated(f"signal {signum}")


def catch_signals() -> None:
    """SIGTERM and SIGHUP raise `Terminated` in the runner."""
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def runner_args(description: str, label: str, listen: str) -> argparse.ArgumentParser:
    """The options every runner takes; the runner adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--binary", required=True, help="path of the oxistack binary")
    parser.add_argument("--label", default=label, help="word printed before the summary")
    parser.add_argument("--listen", default=listen, help="loopback address for the cloud")
    parser.add_argument("--results", help="file to write 'PASSED FAILED' into")
    return parser


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The arguments, with `--listen` held to loopback (tests talk to nothing else)."""
    args = parser.parse_args()
    if not args.listen.startswith("127."):
        parser.error("--listen must be a loopback (127.x.y.z) address")
    return args


class Tally:
    """PASS/FAIL lines as results come, and the summary at the end."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def record(self, name: str, ok: bool, details: str = "") -> None:
        if ok:
            self.passed += 1
            print(f"PASS {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}", flush=True)
            if details:
                print("".join(f"    | {line}\n" for line in details.rstrip("\n").splitlines()), end="")
            sys.stdout.flush()

    def finish(self, args: argparse.Namespace) -> int:
        """`LABEL: N passed, N failed` (and `N M` into `--results`); the exit status."""
        if args.results:
            Path(args.results).write_text(f"{self.passed} {self.failed}\n", encoding="utf-8")
        print(f"{args.label}: {self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


def start_server(
    tally: Tally,
    args: argparse.Namespace,
    state_dir: Path,
    env: dict[str, str],
    announce: str = "",
) -> Server | None:
    """`oxistack up` of `--binary` on `--listen` with `state_dir`, once it is
    ready; None, with the failure recorded, when it does not get there."""
    binary = Path(args.binary).resolve()
    argv = [
        str(binary), "up",
        "--state-dir", str(state_dir),
        "--listen", args.listen,
        "--dataplane", "none",
        "--compute-driver", "fake",
    ]
    print(f"== {args.label}: {shlex.join(argv)}{announce}", flush=True)
    if not binary.is_file():
        tally.record("server: binary exists", False, f"{binary} not found")
        return None
    server = Server(argv, env)
    if not server.wait_ready(READY_TIMEOUT):
        code = server.proc.poll()
        why = f"exited with status {code}" if code is not None else f"no ready line in {READY_TIMEOUT:.0f} s"
        tally.record(
            f"server: `oxistack up` prints '{READY_PREFIX}'",
            False,
            f"{why}; server output:\n" + "\n".join(server.log_since(0)),
        )
        server.stop(STOP_TIMEOUT)
        return None
    return server
