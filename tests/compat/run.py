#!/usr/bin/env python3
"""Compatibility tests: the real upstream OpenStack clients against a real oxistack.

Usage (from the project virtualenv, see scripts/test.sh):

    .venv/bin/python tests/compat/run.py --binary target/release/oxistack \
        [--label sqlite] [--results FILE] [--only SUBSTRING] [--keep]

The runner starts the cloud itself (`oxistack up` on a 127.0.0.x address and a
throwaway state directory), waits for the `oxistack ready:` line, runs every
check registered by the `checks_*.py` modules beside this file, stops the
server with SIGTERM and removes the state directory. The database is whatever
`oxistack up` picks: SQLite in the state directory by default, or the
`OXISTACK_DATABASE_URL` inherited from the environment.

Each check prints `PASS name` or `FAIL name`; a failing check also prints the
commands it ran with their output and what the server logged meanwhile. The
last line is `LABEL: N passed, N failed`; `--results FILE` also writes
`N M` (passed, failed) there for scripts/test.sh to add up. Exit status is 0
only when every check passed.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import logging
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
READY_PREFIX = "oxistack ready:"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
COMMAND_TIMEOUT = 120.0


class CheckFailed(AssertionError):
    """A check's assertion failed; the message says what was expected."""


def expect(cond: Any, message: str) -> None:
    """Fail the current check with `message` unless `cond` holds."""
    if not cond:
        raise CheckFailed(message)


@dataclass
class Check:
    name: str
    func: Callable[["Cloud"], None]


CHECKS: list[Check] = []


def check(name: str) -> Callable[[Callable[["Cloud"], None]], Callable[["Cloud"], None]]:
    """Register a check; checks run in registration order (module by module)."""

    def register(func: Callable[["Cloud"], None]) -> Callable[["Cloud"], None]:
        CHECKS.append(Check(name, func))
        return func

    return register


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        text = f"$ {shlex.join(self.argv)}\n  exit status {self.returncode}\n"
        for title, body in (("stdout", self.stdout), ("stderr", self.stderr)):
            if body.strip():
                text += f"  {title}:\n" + "".join(f"    {line}\n" for line in body.splitlines())
        return text


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


@dataclass
class Cloud:
    """What a check gets: the running cloud, helpers to drive the clients, shared state."""

    tmp: Path
    listen: str
    server: Server
    env: dict[str, str]
    clouds_yaml: Path
    bin_dir: Path
    transcript: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    # --- clouds.yaml -----------------------------------------------------
    def clouds(self) -> dict[str, Any]:
        import yaml

        with open(self.clouds_yaml, encoding="utf-8") as fh:
            return yaml.safe_load(fh)

    def admin_cloud(self) -> dict[str, Any]:
        return self.clouds()["clouds"]["oxistack"]

    def write_extra_clouds(self, extra: dict[str, dict[str, Any]]) -> Path:
        """A clouds.yaml with the `oxistack` cloud plus `extra` clouds; returns its path.

        Extra clouds inherit everything but `auth`/`auth_type` from `oxistack`
        (region, interface, identity_api_version, verify, ...).
        """
        import yaml

        base = {k: v for k, v in self.admin_cloud().items() if k not in ("auth", "auth_type")}
        clouds = {"oxistack": self.admin_cloud()}
        for name, cfg in extra.items():
            merged = dict(base)
            merged.update(cfg)
            clouds[name] = merged
        path = self.tmp / f"compat-clouds-{secrets.token_hex(4)}.yaml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump({"clouds": clouds}, fh)
        return path

    # --- running clients -------------------------------------------------
    def run(
        self, argv: list[str], *, env: dict[str, str] | None = None, timeout: float = COMMAND_TIMEOUT
    ) -> Result:
        try:
            proc = subprocess.run(
                argv,
                env=env or self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
            result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
            result = Result(argv, -1, out, err + f"\n(timed out after {timeout:.0f} s)")
        self.transcript.append(result.describe())
        return result

    def openstack(
        self, *args: str, cloud: str = "oxistack", config: Path | None = None
    ) -> Result:
        """`openstack --os-cloud CLOUD ARGS...` with OS_CLIENT_CONFIG_FILE set."""
        env = dict(self.env)
        env["OS_CLIENT_CONFIG_FILE"] = str(config or self.clouds_yaml)
        argv = [str(self.bin_dir / "openstack"), "--os-cloud", cloud, *args]
        return self.run(argv, env=env)

    def openstack_ok(self, *args: str, **kw: Any) -> Result:
        result = self.openstack(*args, **kw)
        expect(
            result.returncode == 0,
            f"`openstack {' '.join(args)}` exited {result.returncode}: {_last_line(result)}",
        )
        return result

    def openstack_json(self, *args: str, **kw: Any) -> Any:
        import json

        result = self.openstack_ok(*args, "-f", "json", **kw)
        try:
            return json.loads(result.stdout)
        except ValueError as exc:
            raise CheckFailed(f"`openstack {' '.join(args)} -f json` printed no JSON: {exc}")

    def note(self, text: str) -> None:
        self.transcript.append(text.rstrip("\n") + "\n")

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{secrets.token_hex(4)}"


def _last_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def client_env() -> dict[str, str]:
    """The environment for clients and server: ours less any OS_* cloud settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["NO_COLOR"] = "1"
    env["PYTHONWARNINGS"] = "ignore"
    return env


class _TranscriptLog(logging.Handler):
    """Client-library log records (keystoneauth, openstacksdk) go into the check's transcript."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.cloud: Cloud | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.cloud is not None:
            self.cloud.note(f"log {record.name}: {record.getMessage()}")


LOG_HANDLER = _TranscriptLog()


def load_checks(only: str | None) -> list[Check]:
    sys.path.insert(0, str(HERE))
    # The check modules `from run import ...`: give them this module, not a second copy.
    sys.modules.setdefault("run", sys.modules[__name__])
    for path in sorted(HERE.glob("checks_*.py")):
        importlib.import_module(path.stem)
    if only:
        return [c for c in CHECKS if only in c.name]
    return list(CHECKS)


class Terminated(BaseException):
    """Raised in the runner on SIGTERM/SIGHUP so that cleanup still runs."""


def _on_signal(signum: int, _frame: Any) -> None:
    raise Terminated(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="path of the oxistack binary")
    parser.add_argument("--label", default="compat", help="word printed before the summary")
    parser.add_argument("--listen", default="127.0.0.7", help="loopback address for the cloud")
    parser.add_argument("--results", help="file to write 'PASSED FAILED' into")
    parser.add_argument("--only", help="run only checks whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    args = parser.parse_args()

    logging.basicConfig(level=logging.WARNING, handlers=[LOG_HANDLER])
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    binary = Path(args.binary).resolve()
    if not args.listen.startswith("127."):
        parser.error("--listen must be a loopback (127.x.y.z) address")
    checks = load_checks(args.only)
    passed = failed = 0

    def record(name: str, ok: bool, details: str = "") -> None:
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"PASS {name}", flush=True)
        else:
            failed += 1
            print(f"FAIL {name}", flush=True)
            if details:
                print("".join(f"    | {line}\n" for line in details.rstrip("\n").splitlines()), end="")
            sys.stdout.flush()

    tmp = Path(tempfile.mkdtemp(prefix="oxistack-compat-"))
    server: Server | None = None
    try:
        env = client_env()
        argv = [
            str(binary), "up",
            "--state-dir", str(tmp),
            "--listen", args.listen,
            "--dataplane", "none",
            "--compute-driver", "fake",
        ]
        db = os.environ.get("OXISTACK_DATABASE_URL")
        print(f"== {args.label}: {shlex.join(argv)} (database: {db or 'default (SQLite)'})", flush=True)
        if not binary.is_file():
            record("server: binary exists", False, f"{binary} not found")
            return finish(args, passed, failed)
        started = time.monotonic()
        server = Server(argv, env)
        if not server.wait_ready(READY_TIMEOUT):
            code = server.proc.poll()
            why = f"exited with status {code}" if code is not None else f"no ready line in {READY_TIMEOUT:.0f} s"
            record(
                f"server: `oxistack up` prints '{READY_PREFIX}'",
                False,
                f"{why}; server output:\n" + "\n".join(server.log_since(0)),
            )
            return finish(args, passed, failed)
        record(f"server: `oxistack up` ready in {time.monotonic() - started:.1f} s", True)
        print(f"    {server.ready_line}", flush=True)

        cloud = Cloud(
            tmp=tmp,
            listen=args.listen,
            server=server,
            env=env,
            clouds_yaml=tmp / "clouds.yaml",
            bin_dir=Path(sys.executable).parent,
        )
        LOG_HANDLER.cloud = cloud
        for chk in checks:
            cloud.transcript = []
            mark = server.mark()
            try:
                chk.func(cloud)
            except Terminated:
                raise
            except CheckFailed as exc:
                record(chk.name, False, _failure_details(cloud, server, mark, str(exc)))
            except Exception as exc:  # noqa: BLE001 - a client exception is a failed check
                record(chk.name, False, _failure_details(cloud, server, mark, _brief_traceback(exc)))
            else:
                record(chk.name, True)
            if server.proc.poll() is not None:
                record(
                    "server: still running after the checks above",
                    False,
                    f"exited with status {server.proc.returncode}; last output:\n"
                    + "\n".join(server.log_since(mark)),
                )
                return finish(args, passed, failed)

        mark = server.mark()
        in_time, code = server.stop(STOP_TIMEOUT)
        server = None
        record(
            f"server: exits cleanly within {STOP_TIMEOUT:.0f} s of SIGTERM",
            in_time and code == 0,
            "" if in_time and code == 0 else (
                ("exited" if in_time else "had to be killed") + f" with status {code}; output:\n"
                + "\n".join(cloud.server.log_since(mark))
            ),
        )
        return finish(args, passed, failed)
    except Terminated as exc:
        print(f"compat runner stopped by {exc}", file=sys.stderr)
        failed += 1
        return finish(args, passed, failed)
    finally:
        if server is not None:
            server.stop(STOP_TIMEOUT)
        if args.keep:
            print(f"kept state directory {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _brief_traceback(exc: BaseException) -> str:
    """The check's own frames and the exception, without the client library's depths."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).parent == HERE]
    text = "".join(traceback.format_list(frames[1:] or frames))
    return text + "".join(traceback.format_exception_only(type(exc), exc))


def _failure_details(cloud: Cloud, server: Server, mark: int, message: str) -> str:
    text = message.rstrip("\n") + "\n"
    if cloud.transcript:
        text += "transcript:\n" + "".join(cloud.transcript)
    log = server.log_since(mark)
    if log:
        text += "server output meanwhile:\n" + "\n".join(log[-80:]) + "\n"
    return text


def finish(args: argparse.Namespace, passed: int, failed: int) -> int:
    if args.results:
        Path(args.results).write_text(f"{passed} {failed}\n", encoding="utf-8")
    print(f"{args.label}: {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
