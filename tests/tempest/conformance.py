#!/usr/bin/env python3
"""Conformance: upstream tempest's API tests against a real oxistack.

Usage (from the project virtualenv, see scripts/test.sh and docs/conformance.md):

    .venv/bin/python tests/tempest/conformance.py --binary target/release/oxistack \
        [--label sqlite] [--results FILE] [--group identity --group image ...] \
        [--regex REGEX] [--keep]

What it does, in order:
1. starts `oxistack up` on a 127.0.0.x address with a throwaway state
   directory (the database is the default SQLite, or the inherited
   `OXISTACK_DATABASE_URL`), and a small HTTP server on the same address that
   serves the test image (the image service's `web-download` import is
   allowed to fetch from it, and only from it: nothing leaves loopback);
2. `tempest init`s a workspace; creates, as the cloud's admin, what an
   operator's cloud has before tempest is pointed at it: an external flat
   network `public` on `physnet1` with a subnet in a documentation range
   (see PUBLIC_NETWORK); then lets python-tempestconf
   (`discover-tempest-config --create`) write its `etc/tempest.conf` from the
   `clouds.yaml` the cloud wrote, discovering services, versions,
   extensions and the public network (`public_network_id`) by itself; the
   only values given are where the test image is (a local file and the
   loopback URL);
3. runs `tempest run` on the API groups of every service the cloud serves,
   concurrency 2, excluding the tests listed in skips.txt beside this file
   (each with the reason it does not apply);
4. reads the results back (`stestr last --subunit`): a failure fails the
   run, and so does a test that tempest skipped but skips.txt does not list,
   so every skip is written down with its reason;
5. stops the cloud and removes everything it made (unless --keep).

The last line is `LABEL: N passed, N failed, N skipped` (skipped = listed in
skips.txt); `--results FILE` gets `PASSED FAILED`.
"""

from __future__ import annotations

import argparse
import csv
import http.server
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "compat"))

# The runners' shared harness already knows how to start and stop one
# `oxistack up`, and how a signal becomes an exception that still lets
# cleanup run.
from harness import (  # noqa: E402
    READY_TIMEOUT,
    STOP_TIMEOUT,
    Server,
    Terminated,
    catch_signals,
    client_env,
)

SKIPS_FILE = HERE / "skips.txt"
# Every service `oxistack up` serves today, as tempest names its API groups;
# compute runs whole (`tempest.api.compute`), its volume tests skipped by
# tempest itself while no block-storage service is served.
COMPUTE_GROUPS = ["compute"]
DEFAULT_GROUPS = ["identity", "image", "object_storage", "network", *COMPUTE_GROUPS]
DISCOVER_TIMEOUT = 300
# The operator's external network, as devstack makes it: python-tempestconf
# takes the ACTIVE `router:external` network with a subnet (preferring the
# one named `public`) as `network.public_network_id`, which the router
# gateway, external network and floating IP tests need. 198.51.100.0/24 is
# TEST-NET-2 (RFC 5737): never routed, and `--dataplane none` plumbs nothing.
PUBLIC_NETWORK = [
    ["network", "create", "public", "--external", "--provider-network-type", "flat",
     "--provider-physical-network", "physnet1"],
    ["subnet", "create", "public-subnet", "--network", "public", "--subnet-range",
     "198.51.100.0/24", "--gateway", "198.51.100.1", "--no-dhcp"],
]
RUN_TIMEOUT = 1800


@dataclass
class Skip:
    pattern: re.Pattern[str]
    text: str
    reason: str
    line: int


def load_skips(path: Path) -> list[Skip]:
    """skips.txt: `REGEX  # reason` per line; blank lines and `#` lines are comments."""
    skips = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        regex, sep, reason = line.partition("#")
        regex, reason = regex.strip(), reason.strip()
        if not sep or not reason:
            raise SystemExit(f"{path}:{number}: every skip needs '# reason'")
        skips.append(Skip(re.compile(regex), regex, reason, number))
    return skips


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass


def serve_directory(directory: Path, host: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A loopback HTTP server for `directory`; returns it and its base URL."""

    def handler(*args: object, **kwargs: object) -> _QuietHandler:
        return _QuietHandler(*args, directory=str(directory), **kwargs)  # type: ignore[arg-type]

    httpd = http.server.ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://{host}:{httpd.server_address[1]}/"


def run_logged(argv: list[str], log: Path, *, cwd: Path, env: dict[str, str], timeout: float) -> int:
    """Run a command with its output into `log`; returns its exit status (-1 on timeout)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return -1
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no output)"
    return "\n".join(text[-lines:])


def test_name(test_id: str) -> str:
    """`pkg.Class.test_x[id-…,smoke]` → `pkg.Class.test_x`; `setUpClass (pkg.Class)` → `pkg.Class`."""
    if test_id.startswith(("setUpClass (", "tearDownClass (")):
        return test_id[test_id.index("(") + 1 : test_id.rindex(")")]
    return test_id.split("[", 1)[0]


def results(workspace: Path, env: dict[str, str], bin_dir: Path) -> list[dict[str, str]]:
    """The last run's results as rows of (test, status) from stestr's subunit stream."""
    stream = subprocess.run(
        [str(bin_dir / "stestr"), "last", "--subunit"], cwd=workspace, env=env,
        capture_output=True, check=False,
    ).stdout
    rows = subprocess.run(
        [str(bin_dir / "subunit2csv")], input=stream, env=env, capture_output=True, check=False,
    ).stdout.decode("utf-8", errors="replace")
    return list(csv.DictReader(io.StringIO(rows)))


def failure_details(workspace: Path, env: dict[str, str], bin_dir: Path) -> str:
    """Tracebacks of the failed tests, as `stestr last` prints them, without the passes."""
    stream = subprocess.run(
        [str(bin_dir / "stestr"), "last", "--subunit"], cwd=workspace, env=env,
        capture_output=True, check=False,
    ).stdout
    failed = subprocess.run(
        [str(bin_dir / "subunit-filter"), "--no-passthrough", "-s", "--no-skip"],
        input=stream, env=env, capture_output=True, check=False,
    ).stdout
    text = subprocess.run(
        [str(bin_dir / "subunit2pyunit"), "--no-passthrough"], input=failed, env=env,
        capture_output=True, check=False,
    )
    return (text.stdout + text.stderr).decode("utf-8", errors="replace")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="path of the oxistack binary")
    parser.add_argument("--label", default="tempest", help="word printed before the summary")
    parser.add_argument("--listen", default="127.0.0.9", help="loopback address for the cloud")
    parser.add_argument("--results", help="file to write 'PASSED FAILED' into")
    parser.add_argument(
        "--group", action="append", dest="groups",
        help=f"tempest API group (tempest.api.GROUP); repeatable; default {DEFAULT_GROUPS}",
    )
    parser.add_argument("--regex", help="run only tests matching this regex (instead of --group)")
    parser.add_argument("--keep", action="store_true", help="keep the workspace and state directory")
    args = parser.parse_args()

    catch_signals()
    if not args.listen.startswith("127."):
        parser.error("--listen must be a loopback (127.x.y.z) address")
    binary = Path(args.binary).resolve()
    bin_dir = Path(sys.executable).parent
    groups = args.groups or DEFAULT_GROUPS
    regex = args.regex or r"^tempest\.api\.(%s)\." % "|".join(re.escape(g) for g in groups)
    skips = load_skips(SKIPS_FILE)

    tmp = Path(tempfile.mkdtemp(prefix="oxistack-tempest-"))
    server: Server | None = None
    httpd: http.server.ThreadingHTTPServer | None = None
    passed = failed = skipped = 0
    try:
        env = client_env()
        # The test image: an empty 16 MiB qcow2 is all the API tests upload and
        # download (none boots it), made locally so nothing is fetched.
        www = tmp / "www"
        www.mkdir()
        image = www / "tiny.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", str(image), "16M"], check=True, env=env
        )
        httpd, base_url = serve_directory(www, args.listen)

        server_env = dict(env)
        # web-download may fetch from the runner's loopback server and nowhere else.
        server_env["OXISTACK_IMAGE_WEB_DOWNLOAD_ALLOWED"] = base_url
        # A fake snapshot takes as long as a small real one, so a server is
        # seen saving (test_create_second_image_when_first_image_is_being_saved).
        server_env["OXISTACK_COMPUTE_FAKE_SNAPSHOT_DELAY_MS"] = "1000"
        argv = [
            str(binary), "up", "--state-dir", str(tmp / "state"), "--listen", args.listen,
            "--dataplane", "none", "--compute-driver", "fake",
        ]
        db = os.environ.get("OXISTACK_DATABASE_URL")
        print(f"== {args.label}: {shlex.join(argv)} (database: {db or 'default (SQLite)'})", flush=True)
        started = time.monotonic()
        server = Server(argv, server_env)
        if not server.wait_ready(READY_TIMEOUT):
            print("FAIL `oxistack up` did not become ready:\n" + "\n".join(server.log_since(0)))
            return finish(args, passed, failed + 1, skipped)
        print(f"cloud ready in {time.monotonic() - started:.1f} s: {server.ready_line}", flush=True)

        clouds_yaml = tmp / "state" / "clouds.yaml"
        if "oxistack:" not in (clouds_yaml.read_text(encoding="utf-8") if clouds_yaml.exists() else ""):
            # A database bootstrapped by another run keeps its admin password:
            # a new state dir then gets no clouds.yaml. Each run needs its own.
            print(f"FAIL {clouds_yaml} has no `oxistack` cloud; is the database shared with another run?")
            return finish(args, passed, failed + 1, skipped)

        workspace = tmp / "workspace"
        tool_env = dict(env)
        tool_env["OS_CLIENT_CONFIG_FILE"] = str(tmp / "state" / "clouds.yaml")
        tool_env["HOME"] = str(tmp)  # tempest and tempestconf look for files under ~
        code = run_logged(
            [str(bin_dir / "tempest"), "init", str(workspace)], tmp / "init.log",
            cwd=tmp, env=tool_env, timeout=120,
        )
        if code != 0:
            print(f"FAIL tempest init exited {code}:\n{tail(tmp / 'init.log')}")
            return finish(args, passed, failed + 1, skipped)

        for number, command in enumerate(PUBLIC_NETWORK):
            log = tmp / f"public-network-{number}.log"
            code = run_logged(
                [str(bin_dir / "openstack"), "--os-cloud", "oxistack", *command],
                log, cwd=tmp, env=tool_env, timeout=120,
            )
            if code != 0:
                print(f"FAIL openstack {shlex.join(command)} exited {code}:\n{tail(log)}")
                return finish(args, passed, failed + 1, skipped)

        started = time.monotonic()
        discover = [
            str(bin_dir / "discover-tempest-config"), "--os-cloud", "oxistack", "--create",
            "--no-default-deployer", "--image", str(image), "--out", "etc/tempest.conf",
            # Where the test image lives for the tests that import it by URL.
            "image.http_image", f"{base_url}tiny.qcow2",
            "image.http_qcow2_image", f"{base_url}tiny.qcow2",
            # The fake compute driver boots no guest and `--dataplane none`
            # plumbs no network, so there is nothing to log in to: tempest's
            # guest SSH checks (on by default) are off, as for any cloud
            # whose guests the test node cannot reach.
            "validation.run_validation", "False",
            # One compute host resizes in place (allow_resize_to_same_host,
            # as an all-in-one needs); python-tempestconf turns resize on
            # only when it finds two hosts.
            "compute-feature-enabled.resize", "True",
        ]
        code = run_logged(
            discover, tmp / "discover.log", cwd=workspace, env=tool_env, timeout=DISCOVER_TIMEOUT
        )
        if code != 0:
            print(f"FAIL python-tempestconf exited {code}:\n{tail(tmp / 'discover.log')}")
            return finish(args, passed, failed + 1, skipped)
        print(f"tempest.conf discovered in {time.monotonic() - started:.1f} s", flush=True)

        exclude = tmp / "exclude.txt"
        exclude.write_text("".join(f"{s.text}\n" for s in skips), encoding="utf-8")
        started = time.monotonic()
        run = [
            str(bin_dir / "tempest"), "run", "--regex", regex, "--exclude-list", str(exclude),
            "--concurrency", "2",
        ]
        print(f"$ {shlex.join(run)}", flush=True)
        code = run_logged(run, tmp / "run.log", cwd=workspace, env=tool_env, timeout=RUN_TIMEOUT)
        elapsed = time.monotonic() - started

        rows = results(workspace, tool_env, bin_dir)
        unexplained: list[str] = []
        failures: list[str] = []
        for row in rows:
            status, name = row["status"], test_name(row["test"])
            if status == "success":
                passed += 1
            elif status == "skip":
                if any(s.pattern.search(name) for s in skips):
                    skipped += 1
                else:
                    unexplained.append(name)
            elif status in ("fail", "failure", "uxsuccess"):
                failures.append(name)
            # "exists" rows are listing artefacts, "xfail" none here.
        # Tests that skips.txt excludes never run: count them as the listed skips they are.
        listed = listed_tests(workspace, tool_env, bin_dir, regex, skips)
        skipped += listed
        print(f"tempest run: exit {code}, {len(rows)} results in {elapsed:.0f} s", flush=True)
        for name in failures:
            print(f"FAIL {name}")
        for name in sorted(set(unexplained)):
            print(f"FAIL {name} (skipped by tempest, but not listed in {SKIPS_FILE.name})")
        if failures:
            print(failure_details(workspace, tool_env, bin_dir)[-20000:])
        if code != 0 and not failures and not unexplained:
            print(f"FAIL tempest run exited {code} without a failed test:\n{tail(tmp / 'run.log')}")
            failures.append("tempest run")
        if not rows:
            failures.append("tempest ran no test")
        failed += len(failures) + len(set(unexplained))
        if server.proc.poll() is not None:
            print(f"FAIL the cloud exited during the run (status {server.proc.returncode})")
            failed += 1
        return finish(args, passed, failed, skipped)
    except Terminated as exc:
        print(f"tempest runner stopped by {exc}", file=sys.stderr)
        return finish(args, passed, failed + 1, skipped)
    finally:
        if server is not None:
            server.stop(STOP_TIMEOUT)
        if httpd is not None:
            httpd.shutdown()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def listed_tests(
    workspace: Path, env: dict[str, str], bin_dir: Path, regex: str, skips: list[Skip]
) -> int:
    """How many tests of the selection skips.txt excludes (from `tempest run --list-tests`)."""
    listing = subprocess.run(
        [str(bin_dir / "stestr"), "list", regex], cwd=workspace, env=env,
        capture_output=True, check=False, text=True,
    ).stdout.splitlines()
    return sum(
        1 for line in listing
        if line.startswith("tempest.") and any(s.pattern.search(test_name(line)) for s in skips)
    )


def finish(args: argparse.Namespace, passed: int, failed: int, skipped: int) -> int:
    if args.results:
        Path(args.results).write_text(f"{passed} {failed} {skipped}\n", encoding="utf-8")
    print(f"{args.label}: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
