"""Compute (Nova v2.1) checks with the real clients: python-openstackclient and openstacksdk.

The runner starts the cloud with `--compute-driver fake`: servers go through
the real API, scheduler, build saga and network ports, but no guest runs; the
fake driver's console log records what was done to the server, which the
checks read back. The servers boot a qcow2 the checks upload (made by
`qemu-img`) on a network and subnet they create; `_fixture` makes those once
(the snapshot `server image create` makes joins them, for the rebuild check)
and the last check (`openstacksdk …`) removes them. Every check deletes what
else it made, in a `finally`, whether or not it passed.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from run import Cloud, CheckFailed, check, expect

# m1.* as Nova's old default flavors, which `oxistack up` seeds.
DEFAULT_FLAVORS = {
    "m1.tiny": (512, 1, 1),
    "m1.small": (2048, 20, 1),
    "m1.medium": (4096, 40, 2),
    "m1.large": (8192, 80, 4),
    "m1.xlarge": (16384, 160, 8),
}
# Nova's default quotas (nova/conf/quota.py), by OSC's names.
DEFAULT_QUOTAS = {"instances": 10, "cores": 20, "ram": 51200, "key-pairs": 100, "properties": 128}
CIDR = "10.77.0.0/24"
USER_DATA = "#!/bin/sh\necho 'compat user data'\n"
POLL_TIMEOUT = 60.0


def _fixture(cloud: Cloud) -> dict[str, str]:
    """An image, a network with a subnet and an imported key pair, made once."""
    if "compute" in cloud.state:
        return cloud.state["compute"]
    fx: dict[str, str] = {}
    cloud.state["compute"] = fx
    if shutil.which("qemu-img") is None:
        raise CheckFailed("qemu-img is not installed (Debian package qemu-utils)")
    raw = cloud.tmp / "compute.raw"
    with open(raw, "wb") as fh:
        fh.write(os.urandom(1 << 20))
        fh.truncate(4 << 20)
    qcow2 = cloud.tmp / "compute.qcow2"
    made = cloud.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)])
    raw.unlink()
    expect(made.returncode == 0, f"qemu-img convert failed: {made.output.strip()}")
    image = cloud.openstack_json(
        "image", "create", "--file", str(qcow2), "--disk-format", "qcow2",
        "--container-format", "bare", cloud.unique("compute-img"),
    )
    qcow2.unlink()
    fx["image"], fx["image_name"] = image["id"], image["name"]
    expect(image.get("status") == "active", f"image create: {image}")
    net = cloud.openstack_json("network", "create", cloud.unique("compute-net"))
    fx["network"], fx["network_name"] = net["id"], net["name"]
    sub = cloud.openstack_json(
        "subnet", "create", "--network", net["id"], "--subnet-range", CIDR, cloud.unique("compute-sub"),
    )
    fx["subnet"] = sub["id"]
    key = cloud.tmp / "compute-key"
    made = cloud.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "compat", "-f", str(key)])
    expect(made.returncode == 0, f"ssh-keygen failed: {made.output.strip()}")
    fx["key_file"] = str(key) + ".pub"
    fx["key"] = cloud.unique("compute-key")
    cloud.openstack_ok("keypair", "create", "--public-key", fx["key_file"], fx["key"])
    return fx


def _drop_fixture(cloud: Cloud) -> None:
    fx = cloud.state.pop("compute", None) or {}
    if fx.get("snapshot"):
        cloud.openstack("image", "delete", fx["snapshot"])
    if "key" in fx:
        cloud.openstack("keypair", "delete", fx["key"])
    if "subnet" in fx:
        cloud.openstack("subnet", "delete", fx["subnet"])
    if "network" in fx:
        cloud.openstack("network", "delete", fx["network"])
    if "image" in fx:
        cloud.openstack("image", "delete", fx["image"])


def _server(cloud: Cloud) -> str:
    """The id of the server `server create` made (the checks after it use it)."""
    server = cloud.state.get("compute_server")
    if server is None:
        raise CheckFailed("no server: the `server create` check did not make one")
    return server


def _show(cloud: Cloud, server: str) -> dict[str, Any]:
    return cloud.openstack_json("server", "show", server)


def _wait_for(cloud: Cloud, server: str, status: str, power_state: Any = None) -> dict[str, Any]:
    """Polls `server show` until the server has `status` and no task, like a user would."""
    deadline = time.monotonic() + POLL_TIMEOUT
    shown: dict[str, Any] = {}
    while time.monotonic() < deadline:
        shown = _show(cloud, server)
        if shown.get("status") == status and shown.get("OS-EXT-STS:task_state") is None:
            if power_state is None or shown.get("OS-EXT-STS:power_state") in power_state:
                return shown
        expect(shown.get("status") != "ERROR", f"server went to ERROR: {shown.get('fault')}")
        time.sleep(0.5)
    raise CheckFailed(f"server not {status} after {POLL_TIMEOUT:.0f} s: {shown}")


def _console(cloud: Cloud, server: str) -> str:
    return cloud.openstack_ok("console", "log", "show", server).stdout


def _running(shown: dict[str, Any]) -> bool:
    # -f json prints the power state as Nova's number or OSC's word, by version.
    return shown.get("OS-EXT-STS:power_state") in (1, "Running")


@check("compute: catalog has compute/nova on port 8774 (v2.1)")
def compute_catalog(cloud: Cloud) -> None:
    rows = cloud.openstack_json("catalog", "list")
    compute = [r for r in rows if r.get("Type") == "compute"]
    expect(compute, f"no compute service in the catalog: {rows}")
    expect(compute[0].get("Name") == "nova", f"compute service is not named nova: {compute}")
    expect(f"{cloud.listen}:8774/v2.1" in str(compute[0].get("Endpoints")), f"compute endpoints: {compute}")


@check("compute: openstack flavor list shows m1.tiny … m1.xlarge with their sizes")
def flavor_list(cloud: Cloud) -> None:
    rows = cloud.openstack_json("flavor", "list")
    by_name = {r.get("Name"): r for r in rows}
    for name, (ram, disk, vcpus) in DEFAULT_FLAVORS.items():
        row = by_name.get(name)
        expect(row is not None, f"{name} not in flavor list: {rows}")
        got = (row.get("RAM"), row.get("Disk"), row.get("VCPUs"), row.get("Is Public"))
        expect(got == (ram, disk, vcpus, True), f"{name}: (RAM, Disk, VCPUs, Is Public) = {got}")


@check("compute: openstack flavor create/show/list/delete (properties, --private, --id)")
def flavor_crud(cloud: Cloud) -> None:
    name = cloud.unique("compat-flavor")
    private = cloud.unique("compat-private")
    try:
        made = cloud.openstack_json(
            "flavor", "create", "--ram", "256", "--disk", "2", "--vcpus", "2", "--ephemeral", "1",
            "--swap", "128", "--property", "hw:cpu_policy=shared", "--description", "compat", name,
        )
        expect(made.get("name") == name, f"flavor create: {made}")
        got = (made.get("ram"), made.get("disk"), made.get("vcpus"), made.get("swap"),
               made.get("OS-FLV-EXT-DATA:ephemeral"))
        expect(got == (256, 2, 2, 128, 1), f"flavor create: (ram, disk, vcpus, swap, ephemeral) = {got}")
        expect(made.get("properties") == {"hw:cpu_policy": "shared"}, f"flavor create properties: {made}")
        shown = cloud.openstack_json("flavor", "show", name)
        expect(shown.get("id") == made.get("id"), f"flavor show by name: {shown}")
        expect(shown.get("description") == "compat", f"flavor show description: {shown}")
        expect(shown.get("os-flavor-access:is_public") is True, f"flavor show is_public: {shown}")
        expect(shown.get("properties") == {"hw:cpu_policy": "shared"}, f"flavor show properties: {shown}")
        cloud.openstack_ok("flavor", "set", "--property", "hw:mem_page_size=small", name)
        shown = cloud.openstack_json("flavor", "show", name)
        expect(shown.get("properties", {}).get("hw:mem_page_size") == "small", f"flavor set --property: {shown}")

        made = cloud.openstack_json("flavor", "create", "--ram", "128", "--vcpus", "1", "--private",
                                    "--id", private, private)
        expect(made.get("id") == private, f"flavor create --id: {made}")
        expect(made.get("os-flavor-access:is_public") is False, f"flavor create --private: {made}")
        public = {r.get("Name") for r in cloud.openstack_json("flavor", "list")}
        expect(name in public and private not in public, f"flavor list (public only): {public}")
        every = {r.get("Name") for r in cloud.openstack_json("flavor", "list", "--all")}
        expect(private in every, f"flavor list --all lacks the private flavor: {every}")

        cloud.openstack_ok("flavor", "delete", name, private)
        for gone in (name, private):
            shown = cloud.openstack("flavor", "show", gone)
            expect(shown.returncode != 0, f"flavor {gone} still there after delete")
    finally:
        cloud.openstack("flavor", "delete", name)
        cloud.openstack("flavor", "delete", private)


@check("compute: openstack keypair create (generated and --public-key), show, list, delete")
def keypairs(cloud: Cloud) -> None:
    generated = cloud.unique("compat-gen")
    imported = cloud.unique("compat-imp")
    key = cloud.tmp / "compat-kp"
    try:
        made = cloud.openstack_ok("keypair", "create", generated)
        private = made.stdout
        expect("PRIVATE KEY-----" in private, f"keypair create printed no private key: {private[:80]!r}")
        private_file = cloud.tmp / "compat-gen.pem"
        fd = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(private)
        # The private key the server generated matches the public key it stored.
        derived = cloud.run(["ssh-keygen", "-y", "-f", str(private_file)])
        private_file.unlink()
        expect(derived.returncode == 0, f"ssh-keygen cannot read the generated key: {derived.output}")
        shown = cloud.openstack_json("keypair", "show", generated)
        expect(shown.get("type") == "ssh", f"keypair show: {shown}")
        public = cloud.openstack_ok("keypair", "show", "--public-key", generated).stdout.split()
        expect(public[:2] == derived.stdout.split()[:2], f"stored public key {public[:2]} != derived key")

        made = cloud.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(key)])
        expect(made.returncode == 0, f"ssh-keygen failed: {made.output}")
        fingerprint = cloud.run(["ssh-keygen", "-l", "-E", "md5", "-f", f"{key}.pub"]).stdout.split()[1]
        created = cloud.openstack_json("keypair", "create", "--public-key", f"{key}.pub", imported)
        expect(created.get("name") == imported, f"keypair create --public-key: {created}")
        expect("MD5:" + str(created.get("fingerprint")) == fingerprint,
               f"fingerprint {created.get('fingerprint')} != ssh-keygen's {fingerprint}")
        listed = {r.get("Name"): r for r in cloud.openstack_json("keypair", "list")}
        expect(generated in listed and imported in listed, f"keypair list: {listed}")
        expect(listed[imported].get("Type") == "ssh", f"keypair list type: {listed[imported]}")
        stored = cloud.openstack_ok("keypair", "show", "--public-key", imported).stdout.split()
        expect(stored[:2] == Path(f"{key}.pub").read_text().split()[:2], "stored public key differs from the file")
        dup = cloud.openstack("keypair", "create", "--public-key", f"{key}.pub", imported)
        expect(dup.returncode != 0 and "409" in dup.output, f"duplicate key pair name: {dup.output.strip()}")
        cloud.openstack_ok("keypair", "delete", generated, imported)
        listed = {r.get("Name") for r in cloud.openstack_json("keypair", "list")}
        expect(not listed & {generated, imported}, f"deleted key pairs still listed: {listed}")
    finally:
        cloud.openstack("keypair", "delete", generated)
        cloud.openstack("keypair", "delete", imported)
        for path in (key, Path(f"{key}.pub")):
            path.unlink(missing_ok=True)


@check("compute: openstack server create --image --flavor --network --key-name --user-data --wait")
def server_create(cloud: Cloud) -> None:
    fx = _fixture(cloud)
    user_data = cloud.tmp / "compat-user-data"
    user_data.write_text(USER_DATA, encoding="utf-8")
    name = cloud.unique("compat-vm")
    created = cloud.openstack_json(
        "server", "create", "--image", fx["image_name"], "--flavor", "m1.tiny",
        "--network", fx["network_name"], "--key-name", fx["key"], "--user-data", str(user_data),
        "--property", "purpose=compat", "--wait", name,
    )
    cloud.state["compute_server"] = created.get("id")
    cloud.state["compute_server_name"] = name
    expect(created.get("status") == "ACTIVE", f"server create --wait: status {created.get('status')}: {created}")
    expect(created.get("name") == name, f"name: {created.get('name')}")
    expect(created.get("OS-EXT-STS:vm_state") == "active", f"vm_state: {created}")
    expect(_running(created), f"power state: {created.get('OS-EXT-STS:power_state')}")
    expect(created.get("key_name") == fx["key"], f"key_name: {created.get('key_name')}")
    expect(fx["image"] in str(created.get("image")), f"image: {created.get('image')}")
    expect("m1.tiny" in str(created.get("flavor")), f"flavor: {created.get('flavor')}")
    expect(created.get("properties") == {"purpose": "compat"}, f"properties: {created.get('properties')}")
    expected_ud = base64.b64encode(USER_DATA.encode()).decode()
    expect(created.get("OS-EXT-SRV-ATTR:user_data") == expected_ud,
           f"user_data: {created.get('OS-EXT-SRV-ATTR:user_data')}")
    addresses = created.get("addresses") or {}
    ips = addresses.get(fx["network_name"]) or []
    expect(len(ips) == 1 and ipaddress.ip_address(ips[0]) in ipaddress.ip_network(CIDR),
           f"addresses: {addresses}")
    ports = cloud.openstack_json("port", "list", "--server", created["id"], "--long")
    expect(len(ports) == 1, f"port list --server: {ports}")
    expect(ips[0] in str(ports[0].get("Fixed IP Addresses")), f"the port does not hold {ips[0]}: {ports}")
    expect(ports[0].get("Status") == "ACTIVE", f"the server's port is not ACTIVE: {ports}")


@check("compute: openstack server list --long and server show")
def server_list_show(cloud: Cloud) -> None:
    fx = _fixture(cloud)
    server = _server(cloud)
    rows = cloud.openstack_json("server", "list", "--long")
    row = next((r for r in rows if r.get("ID") == server), None)
    expect(row is not None, f"server list --long lacks {server}: {rows}")
    expect(row.get("Name") == cloud.state["compute_server_name"], f"Name: {row}")
    expect(row.get("Status") == "ACTIVE", f"Status: {row}")
    expect(row.get("Task State") is None, f"Task State: {row}")
    expect(row.get("Power State") in (1, "Running"), f"Power State: {row}")
    expect(row.get("Image ID") == fx["image"] and row.get("Image Name") == fx["image_name"], f"Image: {row}")
    expect(row.get("Flavor") == "m1.tiny", f"Flavor: {row}")
    expect(row.get("Availability Zone") == "nova", f"Availability Zone: {row}")
    expect(row.get("Properties") == {"purpose": "compat"}, f"Properties: {row}")
    networks = row.get("Networks") or {}
    expect(list(networks) == [fx["network_name"]], f"Networks: {row}")
    hosts = {h.get("Hypervisor Hostname") for h in cloud.openstack_json("hypervisor", "list")}
    expect(row.get("Host") in hosts, f"Host {row.get('Host')} is not a hypervisor: {hosts}")
    by_name = cloud.openstack_json("server", "list", "--name", cloud.state["compute_server_name"])
    expect([r.get("ID") for r in by_name] == [server], f"server list --name: {by_name}")
    none = cloud.openstack_json("server", "list", "--status", "SHUTOFF")
    expect(server not in {r.get("ID") for r in none}, f"server list --status SHUTOFF: {none}")
    shown = _show(cloud, server)
    expect(shown.get("id") == server and shown.get("status") == "ACTIVE", f"server show: {shown}")
    expect(shown.get("OS-EXT-AZ:availability_zone") == "nova", f"server show AZ: {shown}")
    expect(shown.get("hostId"), f"server show hostId: {shown}")
    expect(shown.get("security_groups") == [{"name": "default"}], f"security_groups: {shown}")


@check("compute: openstack server reboot --wait (soft, then --hard)")
def server_reboot(cloud: Cloud) -> None:
    server = _server(cloud)
    cloud.openstack_ok("server", "reboot", "--wait", server)
    shown = _show(cloud, server)
    expect(shown.get("status") == "ACTIVE" and _running(shown), f"after a soft reboot: {shown}")
    cloud.openstack_ok("server", "reboot", "--hard", "--wait", server)
    shown = _show(cloud, server)
    expect(shown.get("status") == "ACTIVE" and _running(shown), f"after a hard reboot: {shown}")
    log = _console(cloud, server)
    expect("reboot: soft" in log and "reboot: hard" in log, f"the console log shows no reboots:\n{log}")
    actions = cloud.openstack_json("server", "event", "list", server)
    expect([a.get("Action") for a in actions].count("reboot") == 2, f"server event list: {actions}")


@check("compute: openstack server stop / start (polled), 409 on start of a running server")
def server_stop_start(cloud: Cloud) -> None:
    server = _server(cloud)
    cloud.openstack_ok("server", "stop", server)
    shown = _wait_for(cloud, server, "SHUTOFF")
    expect(shown.get("OS-EXT-STS:power_state") in (4, "Shutdown"), f"power state when stopped: {shown}")
    expect(shown.get("OS-EXT-STS:vm_state") == "stopped", f"vm_state when stopped: {shown}")
    cloud.openstack_ok("server", "start", server)
    shown = _wait_for(cloud, server, "ACTIVE")
    expect(_running(shown), f"power state when started: {shown}")
    again = cloud.openstack("server", "start", server)
    expect(again.returncode != 0 and "409" in again.output, f"start of an ACTIVE server: {again.output.strip()}")
    log = _console(cloud, server)
    expect("power off" in log, f"the console log shows no power off:\n{log}")


@check("compute: openstack server pause / unpause")
def server_pause(cloud: Cloud) -> None:
    server = _server(cloud)
    cloud.openstack_ok("server", "pause", server)
    shown = _wait_for(cloud, server, "PAUSED")
    expect(shown.get("OS-EXT-STS:power_state") in (3, "Paused"), f"power state when paused: {shown}")
    refused = cloud.openstack("server", "reboot", server)
    expect(refused.returncode != 0 and "409" in refused.output, f"soft reboot of a paused server: {refused.output}")
    cloud.openstack_ok("server", "unpause", server)
    shown = _wait_for(cloud, server, "ACTIVE")
    expect(_running(shown), f"power state when unpaused: {shown}")


@check("compute: openstack console log show (--lines)")
def console_log(cloud: Cloud) -> None:
    server = _server(cloud)
    log = _console(cloud, server)
    expect("booted by the fake driver" in log, f"console log:\n{log}")
    expect("vcpus=1 memory_mb=512" in log, f"the console log does not show the m1.tiny guest:\n{log}")
    lines = [line for line in log.splitlines() if line.strip()]
    tail = cloud.openstack_ok("console", "log", "show", "--lines", "2", server).stdout
    expect([line for line in tail.splitlines() if line.strip()] == lines[-2:],
           f"console log show --lines 2:\n{tail}\nfull log ends:\n{lines[-2:]}")


@check("compute: openstack server set/unset --property, server set --name")
def server_properties(cloud: Cloud) -> None:
    server = _server(cloud)
    cloud.openstack_ok("server", "set", "--property", "tier=web", "--property", "owner=compat", server)
    shown = _show(cloud, server)
    expect(shown.get("properties") == {"purpose": "compat", "tier": "web", "owner": "compat"},
           f"server set --property: {shown.get('properties')}")
    cloud.openstack_ok("server", "unset", "--property", "tier", server)
    shown = _show(cloud, server)
    expect(shown.get("properties") == {"purpose": "compat", "owner": "compat"},
           f"server unset --property: {shown.get('properties')}")
    renamed = cloud.state["compute_server_name"] + "-renamed"
    cloud.openstack_ok("server", "set", "--name", renamed, server)
    expect(_show(cloud, renamed).get("id") == server, "server set --name: not found by the new name")
    cloud.state["compute_server_name"] = renamed


def _flavor_name(shown: dict[str, Any]) -> str:
    # 2.47+ embeds the flavor; OSC prints it as a dict or as "name (id)", by version.
    flavor = shown.get("flavor")
    if isinstance(flavor, dict):
        return str(flavor.get("original_name") or flavor.get("name"))
    return str(flavor).split(" (")[0]


def _addresses(shown: dict[str, Any]) -> dict[str, Any]:
    return shown.get("addresses") or {}


@check("compute: openstack server image create --wait (snapshot is active in the image service)")
def server_image_create(cloud: Cloud) -> None:
    fx = _fixture(cloud)
    server = _server(cloud)
    name = cloud.unique("compat-snap")
    made = cloud.openstack_json("server", "image", "create", "--name", name, "--wait", server)
    # Kept in the fixture: the rebuild check boots from it, `_drop_fixture` deletes it.
    fx["snapshot"] = made.get("id")
    expect(made.get("name") == name and made.get("id"), f"server image create: {made}")
    shown = cloud.openstack_json("image", "show", name)
    expect(shown.get("id") == made["id"], f"image show {name}: {shown}")
    expect(shown.get("status") == "active", f"snapshot status: {shown.get('status')}: {shown}")
    expect(shown.get("size") and shown.get("checksum"), f"snapshot has no data: {shown}")
    props = shown.get("properties") or {}
    expect(props.get("image_type") == "snapshot", f"snapshot image_type: {props}")
    expect(props.get("instance_uuid") == server, f"snapshot instance_uuid: {props}")
    expect(props.get("base_image_ref") == fx["image"], f"snapshot base_image_ref: {props}")
    expect(shown.get("visibility") == "private", f"snapshot visibility: {shown.get('visibility')}")
    listed = {r.get("ID") for r in cloud.openstack_json("image", "list", "--property", "image_type=snapshot")}
    expect(made["id"] in listed, f"image list --property image_type=snapshot: {listed}")
    after = _wait_for(cloud, server, "ACTIVE")
    expect(_running(after), f"the server after the snapshot: {after}")
    actions = [a.get("Action") for a in cloud.openstack_json("server", "event", "list", server)]
    expect("createImage" in actions, f"server event list: {actions}")


@check("compute: openstack server rebuild --image --wait keeps id and addresses, changes the image")
def server_rebuild(cloud: Cloud) -> None:
    fx = _fixture(cloud)
    server = _server(cloud)
    snapshot = fx.get("snapshot")
    if snapshot is None:
        raise CheckFailed("no snapshot: the `server image create` check did not make one")
    before = _show(cloud, server)
    # With --wait OSC writes its progress ("Complete") to stdout before the JSON.
    out = cloud.openstack_ok("server", "rebuild", "--image", snapshot, "--wait", "-f", "json", server).stdout
    try:
        rebuilt = json.loads(out[out.index("{"):])
    except ValueError as exc:
        raise CheckFailed(f"server rebuild -f json printed no JSON: {exc}: {out!r}")
    expect(rebuilt.get("id") == server, f"server rebuild: {rebuilt}")
    shown = _wait_for(cloud, server, "ACTIVE")
    expect(_running(shown), f"power state after rebuild: {shown}")
    expect(snapshot in str(shown.get("image")), f"image after rebuild: {shown.get('image')}")
    expect(_addresses(shown) == _addresses(before),
           f"addresses changed across rebuild: {_addresses(before)} → {_addresses(shown)}")
    expect(_flavor_name(shown) == _flavor_name(before), f"flavor after rebuild: {shown.get('flavor')}")
    expect(shown.get("key_name") == fx["key"], f"key_name after rebuild: {shown.get('key_name')}")
    log = _console(cloud, server)
    expect(f"rebuilt from image {snapshot}" in log, f"the console log shows no rebuild:\n{log}")
    actions = [a.get("Action") for a in cloud.openstack_json("server", "event", "list", server)]
    expect("rebuild" in actions, f"server event list: {actions}")
    # Back to the fixture's image, so the server ends as it began.
    cloud.openstack_ok("server", "rebuild", "--image", fx["image"], "--wait", server)
    shown = _wait_for(cloud, server, "ACTIVE")
    expect(fx["image"] in str(shown.get("image")), f"image after the second rebuild: {shown.get('image')}")
    expect(_addresses(shown) == _addresses(before), f"addresses after the second rebuild: {shown}")


@check("compute: openstack server resize --flavor --wait, then resize revert; again, then resize confirm; server migration list --server")
def server_resize(cloud: Cloud) -> None:
    server = _server(cloud)
    before = _show(cloud, server)
    expect(_flavor_name(before) == "m1.tiny", f"flavor before resize: {before.get('flavor')}")

    cloud.openstack_ok("server", "resize", "--flavor", "m1.small", "--wait", server)
    shown = _wait_for(cloud, server, "VERIFY_RESIZE")
    expect(shown.get("OS-EXT-STS:vm_state") == "resized", f"vm_state awaiting confirmation: {shown}")
    expect(_flavor_name(shown) == "m1.small", f"flavor awaiting confirmation: {shown.get('flavor')}")
    log = _console(cloud, server)
    expect("resized: vcpus=1 memory_mb=2048" in log, f"the console log shows no resize to m1.small:\n{log}")
    cloud.openstack_ok("server", "resize", "revert", server)
    shown = _wait_for(cloud, server, "ACTIVE")
    expect(_running(shown), f"power state after revert: {shown}")
    expect(_flavor_name(shown) == "m1.tiny", f"flavor after revert: {shown.get('flavor')}")
    expect(_addresses(shown) == _addresses(before), f"addresses after revert: {shown}")

    cloud.openstack_ok("server", "resize", "--flavor", "m1.small", "--wait", server)
    _wait_for(cloud, server, "VERIFY_RESIZE")
    cloud.openstack_ok("server", "resize", "confirm", server)
    shown = _wait_for(cloud, server, "ACTIVE")
    expect(_running(shown), f"power state after confirm: {shown}")
    expect(_flavor_name(shown) == "m1.small", f"flavor after confirm: {shown.get('flavor')}")
    expect(_addresses(shown) == _addresses(before), f"addresses after confirm: {shown}")
    log = _console(cloud, server)
    expect("resized: vcpus=1 memory_mb=2048" in log, f"the console log shows no resize:\n{log}")
    again = cloud.openstack("server", "resize", "confirm", server)
    expect(again.returncode != 0 and "409" in again.output,
           f"resize confirm of an ACTIVE server: {again.output.strip()}")
    actions = [a.get("Action") for a in cloud.openstack_json("server", "event", "list", server)]
    for name in ("resize", "revertResize", "confirmResize"):
        expect(name in actions, f"server event list lacks {name}: {actions}")
    limits = _absolute(cloud)
    expect(limits.get("total_ram_used") == 2048, f"total_ram_used after resize to m1.small: {limits}")
    # Both resizes are on record (GET /os-migrations?instance_uuid=…, admin).
    rows = cloud.openstack_json("server", "migration", "list", "--server", server)
    got = sorted((r.get("Type") or r.get("Migration Type"), r.get("Status")) for r in rows)
    expect(got == [("resize", "confirmed"), ("resize", "reverted")],
           f"server migration list --server: {rows}")


@check("compute: openstack console url show (noVNC), token resolves via os-console-auth-tokens")
def console_url(cloud: Cloud) -> None:
    import openstack
    from openstack import config as occ
    from urllib.parse import parse_qs, unquote, urlparse

    server = _server(cloud)
    shown = cloud.openstack_json("console", "url", "show", "--novnc", server)
    expect(shown.get("type") == "novnc", f"console url show: {shown}")
    url = urlparse(str(shown.get("url")))
    expect(url.scheme in ("http", "https") and url.path.endswith("/vnc_lite.html"), f"console url: {shown}")
    # Nova's form: …/vnc_lite.html?path=%3Ftoken%3D<token>
    expect(url.query.startswith("path=%3Ftoken%3D"), f"console url query: {url.query}")
    path = parse_qs(url.query).get("path", [""])[0]
    token = parse_qs(urlparse(unquote(path)).query).get("token", [""])[0]
    expect(token, f"no token in the console url: {shown}")

    region = occ.OpenStackConfig(config_files=[str(cloud.clouds_yaml)]).get_one(cloud="oxistack")
    conn = openstack.connection.Connection(config=region)
    try:
        # noVNC tokens are answered from 2.31 on (RDP tokens only before).
        got = conn.compute.get(f"/os-console-auth-tokens/{token}", microversion="2.31", raise_exc=False)
        expect(got.status_code == 200, f"GET /os-console-auth-tokens/{{token}}: {got.status_code} {got.text}")
        console = got.json().get("console") or {}
        expect(console.get("instance_uuid") == server, f"os-console-auth-tokens: {console}")
        # The guest's VNC is a Unix socket on the host here, so there is no TCP port to show.
        expect(console.get("host") and "internal_access_path" in console, f"os-console-auth-tokens: {console}")
        bogus = conn.compute.get("/os-console-auth-tokens/not-a-token", microversion="2.31", raise_exc=False)
        expect(bogus.status_code == 404, f"an unknown token: {bogus.status_code} {bogus.text}")
    finally:
        conn.close()


@check("compute: openstack server delete --wait frees the server's port and quota")
def server_delete(cloud: Cloud) -> None:
    server = _server(cloud)
    used = _absolute(cloud).get("total_instances_used")
    cloud.openstack_ok("server", "delete", "--wait", server)
    cloud.state.pop("compute_server", None)
    gone = cloud.openstack("server", "show", server)
    expect(gone.returncode != 0 and "No Server found" in gone.output, f"server show after delete: {gone.output}")
    listed = {r.get("ID") for r in cloud.openstack_json("server", "list")}
    expect(server not in listed, "deleted server still listed")
    ports = cloud.openstack_json("port", "list", "--device-id", server)
    expect(ports == [], f"the deleted server's port remains: {ports}")
    after = _absolute(cloud).get("total_instances_used")
    expect(isinstance(used, int) and after == used - 1, f"total_instances_used {used} → {after}")


def _absolute(cloud: Cloud) -> dict[str, Any]:
    rows = cloud.openstack_json("limits", "show", "--absolute")
    return {r.get("Name"): r.get("Value") for r in rows}


@check("compute: openstack quota show --compute, quota set --instances")
def quota_show(cloud: Cloud) -> None:
    project = cloud.admin_cloud()["auth"]["project_name"]
    rows = cloud.openstack_json("quota", "show", "--compute", project)
    quota = {r.get("Resource"): r.get("Limit") for r in rows}
    for key, value in DEFAULT_QUOTAS.items():
        expect(quota.get(key) == value, f"quota show --compute: {key} = {quota.get(key)}, want {value}")
    demo = "demo"
    try:
        cloud.openstack_ok("quota", "set", "--instances", "7", demo)
        rows = cloud.openstack_json("quota", "show", "--compute", demo)
        quota = {r.get("Resource"): r.get("Limit") for r in rows}
        expect(quota.get("instances") == 7, f"quota set --instances 7: {quota}")
    finally:
        cloud.openstack("quota", "set", "--instances", "10", demo)


@check("compute: openstack limits show --absolute")
def limits_show(cloud: Cloud) -> None:
    limits = _absolute(cloud)
    # OSC prints openstacksdk's names for Nova's absolute limits.
    expect(limits.get("max_total_instances") == 10, f"max_total_instances: {limits}")
    expect(limits.get("max_total_cores") == 20, f"max_total_cores: {limits}")
    expect(limits.get("max_total_ram_size") == 51200, f"max_total_ram_size: {limits}")
    expect(limits.get("max_total_keypairs") == 100, f"max_total_keypairs: {limits}")
    expect(limits.get("max_server_meta") == 128, f"max_server_meta: {limits}")
    servers = cloud.openstack_json("server", "list")
    expect(limits.get("total_instances_used") == len(servers),
           f"total_instances_used {limits.get('total_instances_used')} != {len(servers)} servers")
    # Every server the checks make is an m1.tiny (1 vCPU, 512 MiB).
    used = (limits.get("total_cores_used"), limits.get("total_ram_used"))
    expect(used == (len(servers), 512 * len(servers)), f"(total_cores_used, total_ram_used) = {used}")


@check("compute: openstack availability zone list --compute, hypervisor list, compute service list")
def zones_hypervisors_services(cloud: Cloud) -> None:
    zones = cloud.openstack_json("availability", "zone", "list", "--compute")
    by_name = {z.get("Zone Name"): z.get("Zone Status") for z in zones}
    expect(by_name.get("nova") == "available", f"availability zone list --compute: {zones}")
    hypervisors = cloud.openstack_json("hypervisor", "list")
    expect(len(hypervisors) == 1, f"hypervisor list: {hypervisors}")
    hv = hypervisors[0]
    expect(hv.get("Hypervisor Type") == "fake" and hv.get("State") == "up", f"hypervisor list: {hv}")
    expect(hv.get("Host IP") == cloud.listen, f"hypervisor Host IP {hv.get('Host IP')} != {cloud.listen}")
    services = cloud.openstack_json("compute", "service", "list")
    binaries = {s.get("Binary"): s for s in services}
    compute = binaries.get("nova-compute")
    expect(compute is not None, f"compute service list has no nova-compute: {services}")
    expect((compute.get("Status"), compute.get("State"), compute.get("Zone")) == ("enabled", "up", "nova"),
           f"nova-compute: {compute}")
    expect(compute.get("Host") == hv.get("Hypervisor Hostname"), f"nova-compute host: {compute}, {hv}")
    expect({"nova-scheduler", "nova-conductor"} <= set(binaries), f"compute service list: {sorted(binaries)}")
    filtered = cloud.openstack_json("compute", "service", "list", "--service", "nova-compute")
    expect([s.get("Binary") for s in filtered] == ["nova-compute"], f"--service nova-compute: {filtered}")


@check("compute: openstacksdk create_server(wait=True), compute.servers(), delete_server(wait=True)")
def sdk_servers(cloud: Cloud) -> None:
    import openstack
    from openstack import config as occ

    try:
        fx = _fixture(cloud)
        region = occ.OpenStackConfig(config_files=[str(cloud.clouds_yaml)]).get_one(cloud="oxistack")
        conn = openstack.connection.Connection(config=region)
        name = cloud.unique("compat-sdk")
        server: Any = None
        try:
            server = conn.create_server(
                name, image=fx["image"], flavor="m1.tiny", network=fx["network"], key_name=fx["key"],
                userdata=USER_DATA, meta={"via": "sdk"}, wait=True, timeout=int(POLL_TIMEOUT),
            )
            expect(server.status == "ACTIVE", f"create_server: status {server.status}")
            expect(server.name == name and server.key_name == fx["key"], f"create_server: {server}")
            expect(server.image.id == fx["image"], f"create_server image: {server.image}")
            expect(server.metadata == {"via": "sdk"}, f"create_server metadata: {server.metadata}")
            expect(server.private_v4 and ipaddress.ip_address(server.private_v4) in ipaddress.ip_network(CIDR),
                   f"create_server private_v4: {server.private_v4}")
            listed = {s.id: s for s in conn.compute.servers()}
            expect(server.id in listed, f"compute.servers() lacks {server.id}: {sorted(listed)}")
            expect(listed[server.id].status == "ACTIVE", f"compute.servers(): {listed[server.id]}")
            mine = list(conn.compute.servers(name=name))
            expect([s.id for s in mine] == [server.id], f"compute.servers(name=…): {mine}")
            got = conn.compute.get_server(server.id)
            expect(got.flavor.original_name == "m1.tiny", f"get_server flavor: {got.flavor}")
            expect(got.power_state == 1 and got.vm_state == "active", f"get_server: {got}")
            deleted = conn.delete_server(server.id, wait=True, timeout=int(POLL_TIMEOUT))
            expect(deleted is True, f"delete_server returned {deleted}")
            expect(conn.compute.find_server(server.id) is None, "the server is still there after delete_server")
            server = None
        finally:
            if server is not None:
                conn.delete_server(server.id, wait=True, timeout=int(POLL_TIMEOUT))
            conn.close()
    finally:
        server_id = cloud.state.pop("compute_server", None)
        if server_id is not None:
            cloud.openstack("server", "delete", "--wait", server_id)
        _drop_fixture(cloud)
