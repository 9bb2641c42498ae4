"""Object storage (Swift v1) compatibility checks.

python-swiftclient (`swift stat/post/upload/download/list/delete/tempurl`,
segmented uploads as DLO and SLO) and python-openstackclient (`container` and
`object` commands) against a running oxistack, plus plain HTTP where a client
would use one (temp URLs, public containers), a kill -9 in the middle of an
upload and the server's memory while a large object streams. Expectations are
upstream Swift's with keystoneauth (accounts `AUTH_<project id>`).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from run import Cloud, CheckFailed, Result, check, expect

SEGMENT = 1024 * 1024


def _swift_env(cloud: Cloud) -> dict[str, str]:
    """The environment `swift` reads its Keystone v3 credentials from."""
    auth = cloud.admin_cloud()["auth"]
    env = dict(cloud.env)
    env.update(
        OS_AUTH_URL=auth["auth_url"],
        OS_USERNAME=auth["username"],
        OS_PASSWORD=auth["password"],
        OS_PROJECT_NAME=auth["project_name"],
        OS_USER_DOMAIN_NAME=auth.get("user_domain_name", "Default"),
        OS_PROJECT_DOMAIN_NAME=auth.get("project_domain_name", "Default"),
        OS_IDENTITY_API_VERSION="3",
        OS_AUTH_VERSION="3",
    )
    return env


def _swift(cloud: Cloud, *args: str, cwd: Path | None = None) -> Result:
    argv = [str(cloud.bin_dir / "swift"), *args]
    if cwd is None:
        return cloud.run(argv, env=_swift_env(cloud))
    # `swift upload/download` name objects after paths relative to the cwd.
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return cloud.run(argv, env=_swift_env(cloud))
    finally:
        os.chdir(old)


def _swift_ok(cloud: Cloud, *args: str, cwd: Path | None = None) -> Result:
    result = _swift(cloud, *args, cwd=cwd)
    expect(result.returncode == 0, f"`swift {' '.join(args)}` exited {result.returncode}: {result.output.strip()[-400:]}")
    return result


def _storage(cloud: Cloud) -> tuple[str, str]:
    """(storage URL, token) as `swift auth` prints them."""
    if "storage_url" not in cloud.state:
        out = _swift_ok(cloud, "auth").stdout
        url = re.search(r"OS_STORAGE_URL=(\S+)", out)
        token = re.search(r"OS_AUTH_TOKEN=(\S+)", out)
        expect(url and token, f"`swift auth` printed no storage URL/token: {out}")
        cloud.state.update(storage_url=url.group(1), token=token.group(1))
    return cloud.state["storage_url"], cloud.state["token"]


def _http(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, 1 << 20)
            fh.write(secrets.token_bytes(n))
            left -= n
    return path


def _workdir(cloud: Cloud) -> Path:
    d = Path(tempfile.mkdtemp(prefix="object-", dir=cloud.tmp))
    return d


# --- catalog and account ----------------------------------------------------------


@check("object: catalog has object-store/swift at …/v1/AUTH_%(project_id)s on port 8080")
def catalog(cloud: Cloud) -> None:
    rows = cloud.openstack_json("catalog", "list")
    entry = next((r for r in rows if r.get("Type") == "object-store"), None)
    expect(entry is not None, f"no object-store in the catalog: {rows}")
    expect(entry.get("Name") == "swift", f"object-store is named {entry.get('Name')!r}")
    text = json.dumps(entry.get("Endpoints"))
    expect(re.search(r":8080/v1/AUTH_[0-9a-f]{32}", text) is not None, f"endpoints {text}")
    url, _ = _storage(cloud)
    expect(url.endswith("/v1/AUTH_" + url.rsplit("AUTH_", 1)[1]) and ":8080/v1/AUTH_" in url, url)
    status, _, body = _http("GET", url.split("/v1/")[0] + "/info")
    info = json.loads(body)
    expect(status == 200 and "slo" in info and "tempurl" in info and "bulk_delete" in info, f"/info: {info}")


@check("object: swift stat (account), swift post -m, swift stat shows the metadata")
def account_stat(cloud: Cloud) -> None:
    out = _swift_ok(cloud, "stat").stdout
    expect(re.search(r"Account: AUTH_[0-9a-f]{32}", out) is not None, out)
    expect(re.search(r"Containers: \d+", out) is not None, out)
    _swift_ok(cloud, "post", "-m", "Color:blue")
    out = _swift_ok(cloud, "stat").stdout
    expect(re.search(r"Meta Color: blue", out) is not None, out)


# --- containers and objects ---------------------------------------------------------


@check("object: swift upload, list --prefix --delimiter, download (md5 match), stat, delete")
def upload_list_download(cloud: Cloud) -> None:
    work = _workdir(cloud)
    (work / "docs" / "a").mkdir(parents=True)
    files = {
        "docs/readme.txt": 1000,
        "docs/a/one.bin": 70_000,
        "docs/a/two.bin": 3,
        "top.bin": 12_345,
    }
    for name, size in files.items():
        _random_file(work / name, size)
    _swift_ok(cloud, "post", "-m", "Owner:compat", "photos")
    _swift_ok(cloud, "upload", "photos", *files.keys(), cwd=work)
    listed = _swift_ok(cloud, "list", "photos").stdout.split()
    expect(sorted(listed) == sorted(files), f"swift list: {listed}")
    pre = _swift_ok(cloud, "list", "photos", "--prefix", "docs/", "--delimiter", "/").stdout.split()
    expect(pre == ["docs/a/", "docs/readme.txt"], f"--prefix docs/ --delimiter /: {pre}")
    top = _swift_ok(cloud, "list", "photos", "--delimiter", "/").stdout.split()
    expect(top == ["docs/", "top.bin"], f"--delimiter /: {top}")
    out = _swift_ok(cloud, "stat", "photos").stdout
    expect(re.search(r"Objects: 4", out) and re.search(r"Meta Owner: compat", out), out)
    out = _swift_ok(cloud, "stat", "photos", "docs/a/one.bin").stdout
    expect(re.search(r"Content Length: 70000", out) is not None, out)
    dest = _workdir(cloud)
    _swift_ok(cloud, "download", "photos", "-D", str(dest))
    for name in files:
        expect(_md5(dest / name) == _md5(work / name), f"{name} differs after download")
    _swift_ok(cloud, "delete", "photos", "docs/a/two.bin")
    listed = _swift_ok(cloud, "list", "photos").stdout.split()
    expect("docs/a/two.bin" not in listed, f"deleted object still listed: {listed}")


def _segmented(cloud: Cloud, container: str, use_slo: bool) -> None:
    work = _workdir(cloud)
    src = _random_file(work / "big.bin", 3 * SEGMENT + 12_345)
    args = ["upload", container, "big.bin", "--segment-size", str(SEGMENT)]
    # swiftclient picks SLO by itself when /info lists it; DLO needs asking.
    args.append("--use-slo" if use_slo else "--use-dlo")
    _swift_ok(cloud, *args, cwd=work)
    segs = _swift_ok(cloud, "list", f"{container}_segments").stdout.split()
    expect(len(segs) == 4, f"expected 4 segments, got {segs}")
    out = _swift_ok(cloud, "stat", container, "big.bin").stdout
    expect(re.search(rf"Content Length: {3 * SEGMENT + 12_345}", out) is not None, out)
    if use_slo:
        expect(re.search(r"X-Static-Large-Object: True", out, re.I) is not None, out)
    else:
        expect(re.search(rf"Manifest: {container}_segments/big.bin/", out) is not None, out)
    dest = _workdir(cloud)
    _swift_ok(cloud, "download", container, "big.bin", "-o", str(dest / "big.bin"))
    expect(_md5(dest / "big.bin") == _md5(src), "segmented object differs after download")
    # Deleting the manifest deletes its segments.
    _swift_ok(cloud, "delete", container, "big.bin")
    left = _swift(cloud, "list", f"{container}_segments").stdout.split()
    expect(left == [], f"segments left after delete: {left}")


@check("object: swift upload --segment-size --use-dlo (DLO), download, delete with segments")
def dlo_upload(cloud: Cloud) -> None:
    _segmented(cloud, "dlo", use_slo=False)


@check("object: swift upload --segment-size --use-slo (SLO), download, delete with segments")
def slo_upload(cloud: Cloud) -> None:
    _segmented(cloud, "slo", use_slo=True)


@check("object: swift tempurl, then a plain HTTP GET of that URL")
def tempurl(cloud: Cloud) -> None:
    url, _ = _storage(cloud)
    work = _workdir(cloud)
    _random_file(work / "shared.bin", 5000)
    _swift_ok(cloud, "upload", "tmpurl", "shared.bin", cwd=work)
    key = secrets.token_hex(8)
    _swift_ok(cloud, "post", "-m", f"Temp-URL-Key:{key}")
    path = "/v1/" + url.split("/v1/", 1)[1] + "/tmpurl/shared.bin"
    out = _swift_ok(cloud, "tempurl", "GET", "600", path, key).stdout.strip()
    base = url.split("/v1/", 1)[0]
    status, headers, body = _http("GET", base + out)
    expect(status == 200, f"GET {out}: {status} {body[:200]!r}")
    expect(hashlib.md5(body).hexdigest() == _md5(work / "shared.bin"), "temp URL body differs")
    expect("attachment" in headers.get("content-disposition", ""), f"headers {headers}")
    status, _, _ = _http("GET", base + out.replace("temp_url_sig=", "temp_url_sig=00"))
    expect(status == 401, f"a bad signature got {status}")
    status, _, _ = _http("PUT", base + out, body=b"x")
    expect(status == 401, f"a GET signature allowed a PUT: {status}")


@check("object: swift post -r '.r:*' opens a container to anonymous GETs")
def public_container(cloud: Cloud) -> None:
    url, _ = _storage(cloud)
    work = _workdir(cloud)
    _random_file(work / "pic.bin", 2048)
    _swift_ok(cloud, "upload", "public", "pic.bin", cwd=work)
    status, _, _ = _http("GET", f"{url}/public/pic.bin")
    expect(status == 401, f"private object: anonymous GET got {status}")
    _swift_ok(cloud, "post", "-r", ".r:*", "public")
    status, _, body = _http("GET", f"{url}/public/pic.bin")
    expect(status == 200 and hashlib.md5(body).hexdigest() == _md5(work / "pic.bin"), f"public GET: {status}")
    status, _, _ = _http("GET", f"{url}/public")
    expect(status == 401, f"listing without .rlistings got {status}")
    _swift_ok(cloud, "post", "-r", ".r:*,.rlistings", "public")
    status, _, body = _http("GET", f"{url}/public")
    expect(status == 200 and body == b"pic.bin\n", f"listing with .rlistings: {status} {body!r}")


@check("object: swift delete of a container with many objects (bulk delete)")
def bulk_delete(cloud: Cloud) -> None:
    work = _workdir(cloud)
    names = [f"f{i:02d}" for i in range(30)]
    for n in names:
        (work / n).write_bytes(n.encode())
    _swift_ok(cloud, "upload", "many", *names, cwd=work)
    expect(len(_swift_ok(cloud, "list", "many").stdout.split()) == 30, "30 objects uploaded")
    _swift_ok(cloud, "delete", "many")
    result = _swift(cloud, "stat", "many")
    expect(result.returncode != 0 and "not found" in result.output, f"container still there: {result.output}")


@check("object: openstack container create/list, object create/list/save")
def openstack_objects(cloud: Cloud) -> None:
    work = _workdir(cloud)
    src = _random_file(work / "osc.bin", 100_000)
    cloud.openstack_ok("container", "create", "osc")
    names = {r["Name"] for r in cloud.openstack_json("container", "list")}
    expect("osc" in names, f"container list: {names}")
    old = os.getcwd()
    os.chdir(work)
    try:
        cloud.openstack_ok("object", "create", "osc", "osc.bin")
    finally:
        os.chdir(old)
    rows = cloud.openstack_json("object", "list", "osc")
    expect([r["Name"] for r in rows] == ["osc.bin"], f"object list: {rows}")
    shown = cloud.openstack_json("object", "show", "osc", "osc.bin")
    expect(str(shown.get("content-length")) == "100000", f"object show: {shown}")
    out = work / "saved.bin"
    cloud.openstack_ok("object", "save", "--file", str(out), "osc", "osc.bin")
    expect(_md5(out) == _md5(src), "object save differs")
    cloud.openstack_ok("object", "delete", "osc", "osc.bin")
    cloud.openstack_ok("container", "delete", "osc")


# --- durability and memory ------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@check("object: memory stays flat while a 512 MiB object streams in and out")
def memory_flat(cloud: Cloud) -> None:
    url, token = _storage(cloud)
    pid = cloud.server.proc.pid
    _http("PUT", f"{url}/stream", {"X-Auth-Token": token, "Content-Length": "0"}, b"")
    idle = _rss_kib(pid)
    size = 512 * 1024 * 1024
    host = url.split("//", 1)[1].split("/", 1)[0]
    path = "/" + url.split("//", 1)[1].split("/", 1)[1] + "/stream/big"
    conn = http.client.HTTPConnection(host, timeout=300)
    conn.putrequest("PUT", path)
    conn.putheader("X-Auth-Token", token)
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    block = secrets.token_bytes(1 << 20)
    peak = idle
    md5 = hashlib.md5()
    for i in range(size >> 20):
        conn.send(block)
        md5.update(block)
        if i % 32 == 0:
            peak = max(peak, _rss_kib(pid))
    resp = conn.getresponse()
    resp.read()
    expect(resp.status == 201, f"PUT of 512 MiB: {resp.status}")
    expect(resp.getheader("Etag") == md5.hexdigest(), "ETag of the streamed upload")
    conn.request("GET", path, headers={"X-Auth-Token": token})
    resp = conn.getresponse()
    got = hashlib.md5()
    n = 0
    while True:
        chunk = resp.read(1 << 20)
        if not chunk:
            break
        got.update(chunk)
        n += 1
        if n % 32 == 0:
            peak = max(peak, _rss_kib(pid))
    conn.close()
    expect(got.hexdigest() == md5.hexdigest(), "GET of 512 MiB returned other data")
    growth = (peak - idle) / 1024
    cloud.note(f"server RSS idle {idle / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB while streaming")
    expect(growth < 48, f"RSS grew by {growth:.1f} MiB while streaming 512 MiB")
    _http("DELETE", f"{url}/stream/big", {"X-Auth-Token": token})


def _start_server(binary: str, state: Path, listen: str, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [binary, "up", "--state-dir", str(state), "--listen", listen, "--dataplane", "none", "--compute-driver", "fake"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("oxistack ready:"):
            return proc
    proc.kill()
    proc.wait()
    raise CheckFailed("the second server did not get ready")


def _token_and_url(state: Path, listen: str) -> tuple[str, str]:
    import yaml

    auth = yaml.safe_load((state / "clouds.yaml").read_text())["clouds"]["oxistack"]["auth"]
    body = json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": auth["username"], "domain": {"name": "Default"}, "password": auth["password"]}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}).encode()
    req = urllib.request.Request(f"http://{listen}:5000/v3/auth/tokens", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        token = resp.headers["X-Subject-Token"]
        project = json.loads(resp.read())["token"]["project"]["id"]
    return token, f"http://{listen}:8080/v1/AUTH_{project}"


@check("object: kill -9 during an upload, restart: nothing partial visible or left on disk")
def crash_during_upload(cloud: Cloud) -> None:
    binary = cloud.server.argv[0]
    # Its own loopback address and store: the check must not disturb the
    # cloud the other checks use.
    octets = cloud.listen.split(".")
    listen = ".".join(octets[:3] + [str((int(octets[3]) + 70) % 250 + 2)])
    state = Path(tempfile.mkdtemp(prefix="crash-", dir=cloud.tmp))
    env = dict(cloud.env)
    env.pop("OXISTACK_DATABASE_URL", None)
    proc = _start_server(binary, state, listen, env)
    try:
        token, url = _token_and_url(state, listen)
        _http("PUT", f"{url}/c", {"X-Auth-Token": token, "Content-Length": "0"}, b"")
        status, _, _ = _http("PUT", f"{url}/c/whole", {"X-Auth-Token": token}, b"complete")
        expect(status == 201, f"PUT whole: {status}")
        conn = http.client.HTTPConnection(f"{listen}:8080", timeout=60)
        conn.putrequest("PUT", url.split(":8080", 1)[1] + "/c/partial")
        conn.putheader("X-Auth-Token", token)
        conn.putheader("Content-Length", str(64 << 20))
        conn.endheaders()
        for _ in range(16):
            conn.send(b"p" * (1 << 20))
        tmp = state / "objects" / "tmp"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(tmp.iterdir()):
            time.sleep(0.05)
        expect(any(tmp.iterdir()), "the upload in progress has a temporary file")
        status, _, _ = _http("HEAD", f"{url}/c/partial", {"X-Auth-Token": token})
        expect(status == 404, f"a partial upload is visible: {status}")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        conn.close()
        expect(any(tmp.iterdir()), "the kill left the temporary file behind")
        proc = _start_server(binary, state, listen, env)
        expect(not any(tmp.iterdir()), f"temporary files left after restart: {list(tmp.iterdir())}")
        token, url = _token_and_url(state, listen)
        status, _, _ = _http("HEAD", f"{url}/c/partial", {"X-Auth-Token": token})
        expect(status == 404, f"the partial object after restart: {status}")
        status, headers, body = _http("GET", f"{url}/c", {"X-Auth-Token": token})
        expect(body == b"whole\n", f"listing after restart: {body!r}")
        expect(headers.get("x-container-object-count") == "1", f"count after restart: {headers}")
        status, _, body = _http("GET", f"{url}/c/whole", {"X-Auth-Token": token})
        expect(status == 200 and body == b"complete", f"the complete object after restart: {status}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
