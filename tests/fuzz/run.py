#!/usr/bin/env python3
"""Fuzz each service against its own OpenAPI document with schemathesis.

Usage (from the project virtualenv, see scripts/test.sh):

    .venv/bin/python tests/fuzz/run.py --binary target/release/oxistack \
        [--label fuzz] [--listen 127.0.0.10] [--max-examples 20] \
        [--only SERVICE] [--results FILE] [--seed N] [--keep]

The runner starts the cloud itself as the compat runner does (`oxistack up`
on a loopback address and a throwaway state directory, SQLite unless
`OXISTACK_DATABASE_URL` says otherwise), gets an admin token with the
password from the written clouds.yaml, finds each service's address in the
token's catalog, and runs `st run docs/openapi/<service>.json` against it
with the token as `X-Auth-Token`, a bounded number of examples per
operation, and these checks only:

- `not_a_server_error`: no 5xx, whatever the input;
- connection errors (a dropped connection, a timeout) are reported by
  schemathesis as errors of the operation and fail it the same way.

The conformance checks (`status_code_conformance`, `content_type_conformance`,
`response_schema_conformance`, `negative_data_rejection`,
`positive_data_acceptance`, `missing_required_header`, `unsupported_method`,
`use_after_free`, `ensure_resource_availability`, `ignored_auth`, ...) are
not run: OpenStack's APIs answer what the upstream services answer (Glance
accepts unknown properties and unknown query parameters, Swift ignores
unknown headers and answers 200/204 where a generic API would 4xx, both
refuse no method with the status a generic checker expects), and the
upstream clients, the compat checks and tempest pin those answers; the fuzz
run is there to find crashes, not to re-judge them. Schemathesis'
`ensure_resource_availability`/`use_after_free` need links the documents do
not declare.

Each operation is one result: `PASS service METHOD PATH` or `FAIL ...` with
schemathesis' failure text (an operation schemathesis skipped is printed as
`SKIP` with its reason and counted in neither). The last line is `LABEL: N passed, N failed`;
`--results FILE` also writes `N M` there for scripts/test.sh. Exit status is
0 only when every operation passed and the server stayed up.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent / "compat"))

from harness import (  # noqa: E402
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

DOCS = ROOT / "docs" / "openapi"
# Wall-clock bound of one service's run, so a hang fails instead of stalling CI.
SERVICE_TIMEOUT = 600.0
REQUEST_TIMEOUT = 30.0


def admin_token(clouds_yaml: Path) -> tuple[str, str, dict[str, str]]:
    """Token, project id and {service type: public URL} for the admin cloud."""
    import yaml

    with open(clouds_yaml, encoding="utf-8") as fh:
        auth = yaml.safe_load(fh)["clouds"]["oxistack"]["auth"]
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": auth["username"],
                        "password": auth["password"],
                        "domain": {"name": auth["user_domain_name"]},
                    }
                },
            },
            "scope": {
                "project": {
                    "name": auth["project_name"],
                    "domain": {"name": auth["project_domain_name"]},
                }
            },
        }
    }
    url = auth["auth_url"].rstrip("/")
    if not url.endswith("/v3"):
        url += "/v3"
    req = urllib.request.Request(
        url + "/auth/tokens",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        token = resp.headers["X-Subject-Token"]
        doc = json.load(resp)["token"]
    endpoints = {}
    for entry in doc.get("catalog", []):
        for ep in entry.get("endpoints", []):
            if ep.get("interface") == "public":
                endpoints[entry["type"]] = ep["url"]
    return token, doc["project"]["id"], endpoints


def status_tally(lines: list[str]) -> str:
    """Requests by status class, from the server's access log lines."""
    counts: dict[str, int] = {}
    for line in lines:
        _, sep, rest = line.partition(" access: ")
        fields = rest.split()
        if sep and len(fields) >= 3 and fields[2].isdigit():
            key = fields[2][0] + "xx"
            counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none logged"


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def junit_results(path: Path) -> list[tuple[str, bool | None, str]]:
    """(operation, passed, text) per test case of a JUnit report; passed is
    None for an operation schemathesis skipped (no failure, nothing run)."""
    results: list[tuple[str, bool | None, str]] = []
    for case in ET.parse(path).getroot().iter("testcase"):
        problems = [el for el in case if el.tag in ("failure", "error")]
        skips = [el for el in case if el.tag == "skipped"]
        shown = problems or skips
        text = "\n".join(
            (el.get("message") or "") + ("\n" + el.text if el.text else "") for el in shown
        )
        verdict: bool | None = False if problems else (None if skips else True)
        results.append((case.get("name") or "?", verdict, text))
    return results


def fuzz_service(
    service: str,
    base: str,
    token: str,
    project: str,
    work: Path,
    args: argparse.Namespace,
) -> tuple[list[tuple[str, bool | None, str]], str]:
    """Runs schemathesis on one service; returns per-operation results and its output."""
    doc = DOCS / f"{service}.json"
    config = work / f"{service}.toml"
    # Swift's account is the caller's: fuzzing other account names only
    # exercises the 403 path.
    config.write_text(
        '[parameters]\n"path.account" = "AUTH_%s"\n' % project if service == "object-store" else "",
        encoding="utf-8",
    )
    junit = work / f"{service}.junit.xml"
    argv = [
        str(Path(sys.executable).parent / "st"),
        "--config-file", str(config),
        "run", str(doc),
        "--url", base,
        "--header", f"X-Auth-Token: {token}",
        "--checks", "not_a_server_error",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(args.max_examples),
        "--seed", str(args.seed),
        "--workers", "1",
        "--request-timeout", str(REQUEST_TIMEOUT),
        "--suppress-health-check", "all",
        "--generation-database", "none",
        "--report", "junit",
        "--report-junit-path", str(junit),
        "--no-color",
    ]
    shown = [a if not a.startswith("X-Auth-Token") else "X-Auth-Token: ***" for a in argv]
    print(f"   {shlex.join(shown)}", flush=True)
    try:
        env = client_env()
        env["SCHEMATHESIS_HOOKS"] = str(HERE / "hooks.py")
        proc = subprocess.run(
            argv, cwd=work, env=env, capture_output=True, text=True,
            errors="replace", timeout=SERVICE_TIMEOUT, check=False,
        )
        output = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        return [(f"{service}: schemathesis finishes in {SERVICE_TIMEOUT:.0f} s", False, str(exc))], ""
    if not junit.is_file():
        return [(f"{service}: schemathesis runs (exit {proc.returncode})", False, output[-4000:])], output
    results = junit_results(junit)
    if not results:
        return [(f"{service}: schemathesis tested some operation", False, output[-4000:])], output
    if proc.returncode != 0 and all(ok is not False for _, ok, _ in results):
        results.append((f"{service}: schemathesis exits 0 (got {proc.returncode})", False, output[-4000:]))
    return results, output


def main() -> int:
    parser = runner_args(__doc__.split("\n\n")[0], label="fuzz", listen="127.0.0.10")
    parser.add_argument("--max-examples", type=int, default=20, help="examples per operation")
    parser.add_argument("--seed", type=int, default=20261206, help="schemathesis' random seed")
    parser.add_argument("--only", help="fuzz only this service type")
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    args = parse_runner_args(parser)

    catch_signals()
    services = sorted(p.stem for p in DOCS.glob("*.json"))
    if args.only:
        services = [s for s in services if s == args.only]
        if not services:
            parser.error(f"no document docs/openapi/{args.only}.json")

    tally = Tally()
    record = tally.record
    skipped = 0

    tmp = Path(tempfile.mkdtemp(prefix="oxistack-fuzz-"))
    server: Server | None = None
    try:
        server = start_server(tally, args, tmp / "state", client_env())
        if server is None:
            return tally.finish(args)
        token, project, endpoints = admin_token(tmp / "state" / "clouds.yaml")
        for service in services:
            if service not in endpoints:
                record(f"{service}: in the catalog", False, f"catalog has {sorted(endpoints)}")
                continue
            base = origin(endpoints[service])
            print(f"== {service}: {DOCS / (service + '.json')} against {base}", flush=True)
            mark = server.mark()
            started = time.monotonic()
            work = tmp / f"fuzz-{service}"
            work.mkdir()
            results, _ = fuzz_service(service, base, token, project, work, args)
            for name, ok, text in results:
                if ok is None:
                    # Not a failure, but not a pass either: say so.
                    skipped += 1
                    print(f"SKIP {service} {name}: {text.strip().splitlines()[0] if text.strip() else 'skipped'}",
                          flush=True)
                    continue
                details = text
                if not ok:
                    # Warnings and errors only: the access log of a fuzz run
                    # is thousands of 404s.
                    log = [line for line in server.log_since(mark) if " INFO " not in line]
                    if log:
                        details += "\nserver output meanwhile (last 40 lines):\n" + "\n".join(log[-40:])
                record(f"{service} {name}", ok, details)
            print(
                f"   {service}: {len(results)} operations in {time.monotonic() - started:.0f} s; "
                f"answers {status_tally(server.log_since(mark))}",
                flush=True,
            )
            if server.proc.poll() is not None:
                record(f"server: still running after fuzzing {service}", False,
                       "\n".join(server.log_since(mark)[-80:]))
                return tally.finish(args)
        in_time, code = server.stop(STOP_TIMEOUT)
        server = None
        record(f"server: exits cleanly within {STOP_TIMEOUT:.0f} s of SIGTERM",
               in_time and code == 0, f"status {code}")
        if skipped:
            print(f"{skipped} operations skipped by schemathesis (not counted)", flush=True)
        return tally.finish(args)
    except Terminated as exc:
        print(f"fuzz runner stopped by {exc}", file=sys.stderr)
        tally.failed += 1
        return tally.finish(args)
    finally:
        if server is not None:
            server.stop(STOP_TIMEOUT)
        if args.keep:
            print(f"kept state directory {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
