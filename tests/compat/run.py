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

import importlib
import logging
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness import (
    STOP_TIMEOUT,
    Server,
    Tally,
    Terminated,
    catch_signals,
    client_env,
    parse_runner_args,
    runner_args,
    start_server,
)

HERE = Path(__file__).resolve().parent
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


def main() -> int:
    parser = runner_args(__doc__.split("\n\n")[0], label="compat", listen="127.0.0.7")
    parser.add_argument("--only", help="run only checks whose name contains this")
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    args = parse_runner_args(parser)

    logging.basicConfig(level=logging.WARNING, handlers=[LOG_HANDLER])
    catch_signals()

    checks = load_checks(args.only)
    tally = Tally()
    record = tally.record

    tmp = Path(tempfile.mkdtemp(prefix="oxistack-compat-"))
    server: Server | None = None
    try:
        env = client_env()
        db = os.environ.get("OXISTACK_DATABASE_URL")
        started = time.monotonic()
        server = start_server(tally, args, tmp, env, f" (database: {db or 'default (SQLite)'})")
        if server is None:
            return tally.finish(args)
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
                return tally.finish(args)

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
        return tally.finish(args)
    except Terminated as exc:
        print(f"compat runner stopped by {exc}", file=sys.stderr)
        tally.failed += 1
        return tally.finish(args)
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


if __name__ == "__main__":
    sys.exit(main())
