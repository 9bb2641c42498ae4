"""Network (Neutron v2.0) checks with the real clients: python-openstackclient and openstacksdk.

Provider and external networks, quotas and agents are admin business in
upstream's policy; everything else runs as the `demo` user (role member of
project `demo`, the `oxistack-demo` cloud `oxistack up` writes), as a tenant
would. `-f json` output is checked field by field. Every check deletes what
it made, in a `finally`, whether or not it passed.

The floating IP, port forwarding and agent checks follow upstream's API
reference; they need those resources served (see the report of issue 13).
"""

from __future__ import annotations

import ipaddress
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from run import Cloud, check, expect

DEMO = "oxistack-demo"

# Neutron's default quotas (neutron/conf/quota.py).
DEFAULT_QUOTAS = {
    "networks": 100,
    "subnets": 100,
    "ports": 500,
    "routers": 10,
    "floating_ips": 50,
    "security_groups": 10,
    "security_group_rules": 100,
}


class Undo:
    """Cleanup commands run newest first; a step the check already did is dropped."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.steps: list[tuple[str, Callable[[], Any]]] = []

    def add(self, key: str, *args: str, cloud: str = "oxistack") -> None:
        self.steps.append((key, lambda: self.cloud.openstack(*args, cloud=cloud)))

    def call(self, key: str, func: Callable[[], Any]) -> None:
        self.steps.append((key, func))

    def done(self, key: str) -> None:
        self.steps = [(k, f) for k, f in self.steps if k != key]

    def run(self) -> None:
        for _key, func in reversed(self.steps):
            try:
                func()
            except Exception as exc:  # noqa: BLE001 - cleanup goes on
                self.cloud.note(f"cleanup failed: {exc}")
        self.steps = []


def _demo_project(cloud: Cloud) -> str:
    if "demo_project" not in cloud.state:
        expect(DEMO in cloud.clouds()["clouds"], "clouds.yaml has no oxistack-demo cloud")
        cloud.state["demo_project"] = cloud.openstack_json("project", "show", "demo")["id"]
    return cloud.state["demo_project"]


def _conn(cloud: Cloud, name: str = DEMO) -> Any:
    import openstack
    from openstack import config as occ

    region = occ.OpenStackConfig(config_files=[str(cloud.clouds_yaml)]).get_one(cloud=name)
    return openstack.connection.Connection(config=region)


def _gone(cloud: Cloud, *args: str, as_cloud: str = "oxistack") -> None:
    shown = cloud.openstack(*args, cloud=as_cloud)
    expect(shown.returncode != 0, f"`openstack {' '.join(args)}` still finds it after delete")


def _external(cloud: Cloud, undo: Undo) -> tuple[dict[str, Any], dict[str, Any]]:
    """An admin-made flat external network on physnet1 with a small pool."""
    name = cloud.unique("public")
    net = cloud.openstack_json(
        "network", "create", "--provider-network-type", "flat",
        "--provider-physical-network", "physnet1", "--external", name,
    )
    undo.add("ext-net", "network", "delete", net["id"])
    sub = cloud.openstack_json(
        "subnet", "create", "--network", net["id"], "--subnet-range", "203.0.113.0/24",
        "--allocation-pool", "start=203.0.113.10,end=203.0.113.99", "--no-dhcp",
        "--gateway", "203.0.113.1", f"{name}-subnet",
    )
    undo.add("ext-sub", "subnet", "delete", sub["id"])
    return net, sub


def _tenant_net(cloud: Cloud, undo: Undo, cidr: str, *extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A demo network with one IPv4 subnet."""
    name = cloud.unique("net")
    net = cloud.openstack_json("network", "create", name, cloud=DEMO)
    undo.add(f"net-{net['id']}", "network", "delete", net["id"], cloud=DEMO)
    sub = cloud.openstack_json(
        "subnet", "create", "--network", net["id"], "--subnet-range", cidr, *extra,
        f"{name}-subnet", cloud=DEMO,
    )
    undo.add(f"sub-{sub['id']}", "subnet", "delete", sub["id"], cloud=DEMO)
    return net, sub


@check("network: catalog has network/neutron on port 9696")
def network_catalog(cloud: Cloud) -> None:
    rows = cloud.openstack_json("catalog", "list")
    network = [r for r in rows if r.get("Type") == "network"]
    expect(network, f"no network service in the catalog: {rows}")
    expect(network[0].get("Name") == "neutron", f"network service is not named neutron: {network}")
    expect(f"{cloud.listen}:9696" in str(network[0].get("Endpoints")), f"network endpoints: {network}")


@check("network: flat external provider network and subnet (pool, DNS), show/list --long, member refused")
def external_network(cloud: Cloud) -> None:
    undo = Undo(cloud)
    name = cloud.unique("public")
    try:
        net = cloud.openstack_json(
            "network", "create", "--provider-network-type", "flat",
            "--provider-physical-network", "physnet1", "--external", name,
        )
        undo.add("net", "network", "delete", net["id"])
        for key, want in (
            ("name", name), ("provider:network_type", "flat"),
            ("provider:physical_network", "physnet1"), ("provider:segmentation_id", None),
            ("router:external", True), ("shared", False), ("admin_state_up", True),
            ("status", "ACTIVE"), ("mtu", 1500), ("port_security_enabled", True), ("subnets", []),
        ):
            expect(net.get(key) == want, f"network create: {key} = {net.get(key)!r}, want {want!r}")
        expect(net.get("project_id") == cloud.openstack_json("project", "show", "admin")["id"],
               f"network create: project_id {net.get('project_id')} is not admin's")

        sub = cloud.openstack_json(
            "subnet", "create", "--network", name, "--subnet-range", "198.51.100.0/24",
            "--allocation-pool", "start=198.51.100.100,end=198.51.100.199",
            "--dns-nameserver", "192.0.2.53", "--dns-nameserver", "192.0.2.54",
            f"{name}-subnet",
        )
        undo.add("sub", "subnet", "delete", sub["id"])
        for key, want in (
            ("cidr", "198.51.100.0/24"), ("ip_version", 4), ("gateway_ip", "198.51.100.1"),
            ("allocation_pools", [{"start": "198.51.100.100", "end": "198.51.100.199"}]),
            ("dns_nameservers", ["192.0.2.53", "192.0.2.54"]), ("enable_dhcp", True),
            ("network_id", net["id"]), ("host_routes", []), ("subnetpool_id", None),
        ):
            expect(sub.get(key) == want, f"subnet create: {key} = {sub.get(key)!r}, want {want!r}")

        shown = cloud.openstack_json("network", "show", name)
        expect(shown.get("subnets") == [sub["id"]], f"network show: subnets {shown.get('subnets')}")
        expect(shown.get("router:external") is True, f"network show: router:external {shown}")
        sub_shown = cloud.openstack_json("subnet", "show", sub["id"])
        expect(sub_shown.get("dns_nameservers") == ["192.0.2.53", "192.0.2.54"],
               f"subnet show: dns_nameservers {sub_shown.get('dns_nameservers')}")

        rows = cloud.openstack_json("network", "list", "--long")
        row = next((r for r in rows if r.get("ID") == net["id"]), None)
        expect(row is not None, f"network list --long lacks {name}")
        for key, want in (
            ("Name", name), ("Status", "ACTIVE"), ("State", True), ("Shared", False),
            ("Subnets", [sub["id"]]), ("Network Type", "flat"), ("Router Type", True),
            ("Project", net["project_id"]),
        ):
            expect(row.get(key) == want, f"network list --long: {key} = {row.get(key)!r}, want {want!r}")
        external = cloud.openstack_json("network", "list", "--external")
        expect(net["id"] in {r.get("ID") for r in external}, f"network list --external: {external}")
        subnets = cloud.openstack_json("subnet", "list", "--network", net["id"])
        expect([r.get("ID") for r in subnets] == [sub["id"]], f"subnet list --network: {subnets}")
        expect(subnets[0].get("Subnet") == "198.51.100.0/24", f"subnet list: {subnets}")

        # An external network is visible to every project, but only admin
        # may make provider or external networks (neutron's policy).
        seen = cloud.openstack_json("network", "list", cloud=DEMO)
        expect(net["id"] in {r.get("ID") for r in seen}, "the member does not see the external network")
        refused = cloud.openstack(
            "network", "create", "--provider-network-type", "flat",
            "--provider-physical-network", "physnet1", cloud.unique("nope"), cloud=DEMO,
        )
        expect(refused.returncode != 0, "a member created a provider network")
        expect("403" in refused.output or "Forbidden" in refused.output or "not allowed" in refused.output,
               f"provider network refused without a 403: {refused.output.strip()}")
        refused = cloud.openstack("network", "create", "--external", cloud.unique("nope"), cloud=DEMO)
        expect(refused.returncode != 0, "a member created an external network")

        cloud.openstack_ok("subnet", "delete", sub["id"])
        undo.done("sub")
        _gone(cloud, "subnet", "show", sub["id"])
        cloud.openstack_ok("network", "delete", net["id"])
        undo.done("net")
        _gone(cloud, "network", "show", net["id"])
    finally:
        undo.run()


@check("network: IPv6 SLAAC subnet (member), port gets its EUI-64 address")
def ipv6_slaac(cloud: Cloud) -> None:
    undo = Undo(cloud)
    try:
        net, sub = _tenant_net(
            cloud, undo, "2001:db8:1234::/64", "--ip-version", "6",
            "--ipv6-ra-mode", "slaac", "--ipv6-address-mode", "slaac",
        )
        for key, want in (
            ("ip_version", 6), ("ipv6_ra_mode", "slaac"), ("ipv6_address_mode", "slaac"),
            ("cidr", "2001:db8:1234::/64"), ("gateway_ip", "2001:db8:1234::1"),
        ):
            expect(sub.get(key) == want, f"subnet create: {key} = {sub.get(key)!r}, want {want!r}")
        pools = [(ipaddress.ip_address(p["start"]), ipaddress.ip_address(p["end"]))
                 for p in sub.get("allocation_pools") or []]
        want_pool = (ipaddress.ip_address("2001:db8:1234::2"), ipaddress.ip_address("2001:db8:1234:0:ffff:ffff:ffff:ffff"))
        expect(pools == [want_pool], f"subnet create: allocation_pools {sub.get('allocation_pools')}")
        port = cloud.openstack_json("port", "create", "--network", net["id"], cloud.unique("v6"), cloud=DEMO)
        undo.add("port", "port", "delete", port["id"], cloud=DEMO)
        ips = port.get("fixed_ips") or []
        expect(len(ips) == 1 and ips[0].get("subnet_id") == sub["id"], f"port fixed_ips: {ips}")
        mac = port["mac_address"]
        octets = [int(x, 16) for x in mac.split(":")]
        octets[0] ^= 0x02
        eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
        want = ipaddress.IPv6Address(int(ipaddress.IPv6Address("2001:db8:1234::")) | int.from_bytes(bytes(eui), "big"))
        expect(ipaddress.IPv6Address(ips[0]["ip_address"]) == want,
               f"SLAAC address {ips[0]['ip_address']} is not the EUI-64 of {mac} ({want})")
        cloud.openstack_ok("port", "delete", port["id"], cloud=DEMO)
        undo.done("port")
    finally:
        undo.run()


@check("network: subnet pool create (member) and subnets from it (--prefix-length and default)")
def subnet_pool(cloud: Cloud) -> None:
    undo = Undo(cloud)
    name = cloud.unique("pool")
    try:
        pool = cloud.openstack_json(
            "subnet", "pool", "create", "--pool-prefix", "10.220.0.0/16",
            "--default-prefix-length", "26", "--min-prefix-length", "24",
            "--max-prefix-length", "28", name, cloud=DEMO,
        )
        undo.add("pool", "subnet", "pool", "delete", pool["id"], cloud=DEMO)
        for key, want in (
            ("prefixes", ["10.220.0.0/16"]), ("default_prefixlen", 26), ("min_prefixlen", 24),
            ("max_prefixlen", 28), ("ip_version", 4), ("shared", False), ("is_default", False),
            ("project_id", _demo_project(cloud)),
        ):
            expect(pool.get(key) == want, f"subnet pool create: {key} = {pool.get(key)!r}, want {want!r}")
        net = cloud.openstack_json("network", "create", cloud.unique("poolnet"), cloud=DEMO)
        undo.add("net", "network", "delete", net["id"], cloud=DEMO)
        big = cloud.openstack_json("subnet", "create", "--network", net["id"], "--subnet-pool", name,
                                   "--prefix-length", "24", cloud.unique("s24"), cloud=DEMO)
        undo.add("big", "subnet", "delete", big["id"], cloud=DEMO)
        small = cloud.openstack_json("subnet", "create", "--network", net["id"], "--subnet-pool", name,
                                     cloud.unique("s26"), cloud=DEMO)
        undo.add("small", "subnet", "delete", small["id"], cloud=DEMO)
        pool_net = ipaddress.ip_network("10.220.0.0/16")
        big_net = ipaddress.ip_network(big["cidr"])
        small_net = ipaddress.ip_network(small["cidr"])
        expect(big_net.prefixlen == 24 and big_net.subnet_of(pool_net), f"--prefix-length 24 gave {big_net}")
        expect(small_net.prefixlen == 26 and small_net.subnet_of(pool_net), f"default prefix gave {small_net}")
        expect(not big_net.overlaps(small_net), f"{big_net} and {small_net} overlap")
        expect(big.get("subnetpool_id") == pool["id"], f"subnet subnetpool_id: {big.get('subnetpool_id')}")
        too_big = cloud.openstack("subnet", "create", "--network", net["id"], "--subnet-pool", name,
                                  "--prefix-length", "20", cloud.unique("s20"), cloud=DEMO)
        expect(too_big.returncode != 0, "a /20 from a pool with min_prefixlen 24 was accepted")
        shown = cloud.openstack_json("subnet", "pool", "show", name, cloud=DEMO)
        expect(shown.get("id") == pool["id"], f"subnet pool show: {shown}")
        listed = cloud.openstack_json("subnet", "pool", "list", cloud=DEMO)
        row = next((r for r in listed if r.get("ID") == pool["id"]), None)
        expect(row is not None and row.get("Prefixes") == ["10.220.0.0/16"], f"subnet pool list: {listed}")
        in_use = cloud.openstack("subnet", "pool", "delete", pool["id"], cloud=DEMO)
        expect(in_use.returncode != 0, "a subnet pool with subnets was deleted")
        for key, sid in (("small", small["id"]), ("big", big["id"])):
            cloud.openstack_ok("subnet", "delete", sid, cloud=DEMO)
            undo.done(key)
        cloud.openstack_ok("subnet", "pool", "delete", pool["id"], cloud=DEMO)
        undo.done("pool")
        _gone(cloud, "subnet", "pool", "show", pool["id"], as_cloud=DEMO)
    finally:
        undo.run()


@check("network: router create, set --external-gateway, add subnet, remove, unset, delete (member)")
def router(cloud: Cloud) -> None:
    undo = Undo(cloud)
    try:
        ext, ext_sub = _external(cloud, undo)
        net, sub = _tenant_net(cloud, undo, "10.230.1.0/24")
        name = cloud.unique("router")
        rtr = cloud.openstack_json("router", "create", name, cloud=DEMO)
        undo.add("router", "router", "delete", rtr["id"], cloud=DEMO)
        for key, want in (
            ("name", name), ("status", "ACTIVE"), ("admin_state_up", True),
            ("external_gateway_info", None), ("project_id", _demo_project(cloud)), ("routes", []),
        ):
            expect(rtr.get(key) == want, f"router create: {key} = {rtr.get(key)!r}, want {want!r}")

        cloud.openstack_ok("router", "set", "--external-gateway", ext["id"], name, cloud=DEMO)
        undo.add("gateway", "router", "unset", "--external-gateway", rtr["id"], cloud=DEMO)
        shown = cloud.openstack_json("router", "show", name, cloud=DEMO)
        gw = shown.get("external_gateway_info") or {}
        expect(gw.get("network_id") == ext["id"], f"external_gateway_info: {gw}")
        expect(gw.get("enable_snat") is True, f"enable_snat: {gw}")
        gw_ips = gw.get("external_fixed_ips") or []
        expect(len(gw_ips) == 1 and gw_ips[0].get("subnet_id") == ext_sub["id"], f"external_fixed_ips: {gw_ips}")
        addr = ipaddress.ip_address(gw_ips[0]["ip_address"])
        expect(ipaddress.ip_address("203.0.113.10") <= addr <= ipaddress.ip_address("203.0.113.99"),
               f"gateway address {addr} is outside the allocation pool")

        cloud.openstack_ok("router", "add", "subnet", name, sub["id"], cloud=DEMO)
        undo.add("iface", "router", "remove", "subnet", rtr["id"], sub["id"], cloud=DEMO)
        ports = cloud.openstack_json("port", "list", "--router", rtr["id"], "--long", cloud=DEMO)
        iface = [p for p in ports if p.get("Device Owner") == "network:router_interface"]
        expect(len(iface) == 1, f"port list --router: {ports}")
        expect(iface[0].get("Fixed IP Addresses") == [{"subnet_id": sub["id"], "ip_address": "10.230.1.1"}],
               f"interface port fixed IPs: {iface[0].get('Fixed IP Addresses')}")
        in_use = cloud.openstack("subnet", "delete", sub["id"], cloud=DEMO)
        expect(in_use.returncode != 0, "a subnet with a router interface was deleted")
        busy = cloud.openstack("router", "delete", rtr["id"], cloud=DEMO)
        expect(busy.returncode != 0, "a router with an interface was deleted")
        ext_busy = cloud.openstack("network", "delete", ext["id"])
        expect(ext_busy.returncode != 0, "the external network of a router gateway was deleted")

        cloud.openstack_ok("router", "remove", "subnet", name, sub["id"], cloud=DEMO)
        undo.done("iface")
        ports = cloud.openstack_json("port", "list", "--router", rtr["id"], cloud=DEMO)
        expect(ports == [], f"ports left on the router after remove subnet: {ports}")
        cloud.openstack_ok("router", "unset", "--external-gateway", name, cloud=DEMO)
        undo.done("gateway")
        shown = cloud.openstack_json("router", "show", name, cloud=DEMO)
        expect(shown.get("external_gateway_info") is None, f"gateway after unset: {shown.get('external_gateway_info')}")
        listed = cloud.openstack_json("router", "list", cloud=DEMO)
        expect(rtr["id"] in {r.get("ID") for r in listed}, f"router list: {listed}")
        cloud.openstack_ok("router", "delete", name, cloud=DEMO)
        undo.done("router")
        _gone(cloud, "router", "show", rtr["id"], as_cloud=DEMO)
    finally:
        undo.run()


@check("network: port create --fixed-ip, show, set, list filters, delete (member)")
def ports(cloud: Cloud) -> None:
    undo = Undo(cloud)
    try:
        net, sub = _tenant_net(cloud, undo, "10.230.2.0/24", "--allocation-pool",
                               "start=10.230.2.10,end=10.230.2.200")
        name = cloud.unique("port")
        port = cloud.openstack_json("port", "create", "--network", net["id"], "--fixed-ip",
                                    f"subnet={sub['id']},ip-address=10.230.2.50", name, cloud=DEMO)
        undo.add("port", "port", "delete", port["id"], cloud=DEMO)
        for key, want in (
            ("name", name), ("network_id", net["id"]), ("admin_state_up", True),
            ("fixed_ips", [{"subnet_id": sub["id"], "ip_address": "10.230.2.50"}]),
            ("device_owner", ""), ("device_id", ""), ("port_security_enabled", True),
            ("project_id", _demo_project(cloud)), ("allowed_address_pairs", []),
        ):
            expect(port.get(key) == want, f"port create: {key} = {port.get(key)!r}, want {want!r}")
        expect(port.get("mac_address", "").startswith("fa:16:3e:"), f"port MAC: {port.get('mac_address')}")
        groups = cloud.openstack_json("security", "group", "list", "--project", _demo_project(cloud), cloud=DEMO)
        default = [g["ID"] for g in groups if g.get("Name") == "default"]
        expect(port.get("security_group_ids") == default, f"port security groups {port.get('security_group_ids')} "
               f"are not the project's default group {default}")

        taken = cloud.openstack("port", "create", "--network", net["id"], "--fixed-ip",
                                f"subnet={sub['id']},ip-address=10.230.2.50", cloud.unique("dup"), cloud=DEMO)
        expect(taken.returncode != 0, "a second port got the address 10.230.2.50")
        expect("409" in taken.output or "already allocated" in taken.output,
               f"address in use refused without a 409: {taken.output.strip()}")

        other = cloud.openstack_json("port", "create", "--network", net["id"], cloud.unique("auto"), cloud=DEMO)
        undo.add("other", "port", "delete", other["id"], cloud=DEMO)
        auto = ipaddress.ip_address(other["fixed_ips"][0]["ip_address"])
        expect(ipaddress.ip_address("10.230.2.10") <= auto <= ipaddress.ip_address("10.230.2.200"),
               f"automatic address {auto} outside the allocation pool")

        cloud.openstack_ok("port", "set", "--name", f"{name}-renamed", "--description", "compat", name, cloud=DEMO)
        shown = cloud.openstack_json("port", "show", port["id"], cloud=DEMO)
        expect(shown.get("name") == f"{name}-renamed" and shown.get("description") == "compat",
               f"port set: {shown.get('name')!r} {shown.get('description')!r}")
        listed = cloud.openstack_json("port", "list", "--network", net["id"], cloud=DEMO)
        by_id = {r.get("ID"): r for r in listed}
        expect(port["id"] in by_id and other["id"] in by_id, f"port list --network: {listed}")
        row = by_id[port["id"]]
        expect(row.get("Name") == f"{name}-renamed" and row.get("MAC Address") == port["mac_address"],
               f"port list row: {row}")
        expect(row.get("Fixed IP Addresses") == [{"subnet_id": sub["id"], "ip_address": "10.230.2.50"}],
               f"port list Fixed IP Addresses: {row}")
        by_ip = cloud.openstack_json("port", "list", "--fixed-ip", "ip-address=10.230.2.50", cloud=DEMO)
        expect([r.get("ID") for r in by_ip] == [port["id"]], f"port list --fixed-ip ip-address=: {by_ip}")
        by_name = cloud.openstack_json("port", "list", "--name", f"{name}-renamed", cloud=DEMO)
        expect([r.get("ID") for r in by_name] == [port["id"]], f"port list --name: {by_name}")

        cloud.openstack_ok("port", "delete", port["id"], other["id"], cloud=DEMO)
        undo.done("port")
        undo.done("other")
        _gone(cloud, "port", "show", port["id"], as_cloud=DEMO)
    finally:
        undo.run()


@check("network: security group create, rule create --protocol tcp --dst-port 22, list, delete (member)")
def security_groups(cloud: Cloud) -> None:
    undo = Undo(cloud)
    name = cloud.unique("sg")
    try:
        group = cloud.openstack_json("security", "group", "create", "--description", "compat", name, cloud=DEMO)
        undo.add("group", "security", "group", "delete", group["id"], cloud=DEMO)
        expect(group.get("name") == name and group.get("description") == "compat", f"group create: {group}")
        expect(group.get("project_id") == _demo_project(cloud), f"group project_id: {group.get('project_id')}")
        egress = sorted((r.get("direction"), r.get("ethertype"), r.get("protocol"), r.get("remote_ip_prefix"))
                        for r in group.get("rules") or [])
        expect(egress == [("egress", "IPv4", None, None), ("egress", "IPv6", None, None)],
               f"a new group's rules are not upstream's two egress rules: {egress}")

        rule = cloud.openstack_json("security", "group", "rule", "create", "--protocol", "tcp",
                                    "--dst-port", "22", name, cloud=DEMO)
        undo.add("rule", "security", "group", "rule", "delete", rule["id"], cloud=DEMO)
        for key, want in (
            ("direction", "ingress"), ("ether_type", "IPv4"), ("protocol", "tcp"),
            ("port_range_min", 22), ("port_range_max", 22), ("remote_ip_prefix", "0.0.0.0/0"),
            ("remote_group_id", None), ("security_group_id", group["id"]),
        ):
            expect(rule.get(key) == want, f"rule create: {key} = {rule.get(key)!r}, want {want!r}")
        dup = cloud.openstack("security", "group", "rule", "create", "--protocol", "tcp",
                              "--dst-port", "22", name, cloud=DEMO)
        expect(dup.returncode != 0 and ("409" in dup.output or "already exists" in dup.output),
               f"a duplicate rule was not refused with 409: {dup.output.strip()}")
        bad = cloud.openstack("security", "group", "rule", "create", "--protocol", "tcp",
                              "--dst-port", "30:20", name, cloud=DEMO)
        expect(bad.returncode != 0, "a rule with port range 30:20 was accepted")

        rules = cloud.openstack_json("security", "group", "rule", "list", name, "--long", cloud=DEMO)
        row = next((r for r in rules if r.get("ID") == rule["id"]), None)
        expect(row is not None, f"security group rule list lacks the rule: {rules}")
        expect(row.get("IP Protocol") == "tcp" and row.get("Port Range") == "22:22"
               and row.get("Direction") == "ingress" and row.get("Ethertype") == "IPv4",
               f"rule list row: {row}")
        expect(len(rules) == 3, f"the group has {len(rules)} rules, want 3: {rules}")
        shown = cloud.openstack_json("security", "group", "show", name, cloud=DEMO)
        expect(rule["id"] in {r.get("id") for r in shown.get("rules") or []}, f"group show: {shown}")
        groups = cloud.openstack_json("security", "group", "list", cloud=DEMO)
        expect(group["id"] in {g.get("ID") for g in groups}, f"security group list: {groups}")

        cloud.openstack_ok("security", "group", "rule", "delete", rule["id"], cloud=DEMO)
        undo.done("rule")
        _gone(cloud, "security", "group", "rule", "show", rule["id"], as_cloud=DEMO)
        cloud.openstack_ok("security", "group", "delete", name, cloud=DEMO)
        undo.done("group")
        _gone(cloud, "security", "group", "show", group["id"], as_cloud=DEMO)
    finally:
        undo.run()


def _limits(rows: Any) -> dict[str, Any]:
    expect(isinstance(rows, list), f"quota show printed {rows!r}")
    return {r.get("Resource"): r.get("Limit") for r in rows}


@check("network: quota show (admin for a project, member for its own, --usage)")
def quota_show(cloud: Cloud) -> None:
    project = _demo_project(cloud)
    net_id = ""
    try:
        admin_view = _limits(cloud.openstack_json("quota", "show", "--network", project))
        for key, want in DEFAULT_QUOTAS.items():
            expect(admin_view.get(key) == want, f"quota show --network: {key} = {admin_view.get(key)!r}, want {want}")
        own = _limits(cloud.openstack_json("quota", "show", "--network", cloud=DEMO))
        for key, want in DEFAULT_QUOTAS.items():
            expect(own.get(key) == want, f"member's quota show: {key} = {own.get(key)!r}, want {want}")
        admin_project = cloud.openstack_json("project", "show", "admin")["id"]
        other = cloud.openstack("quota", "show", "--network", admin_project, cloud=DEMO)
        expect(other.returncode != 0, "a member read another project's quota")
        net = cloud.openstack_json("network", "create", cloud.unique("quota-net"), cloud=DEMO)
        net_id = net["id"]
        usage = cloud.openstack_json("quota", "show", "--usage", "--network", project)
        rows = {r.get("Resource"): r for r in usage}
        networks = cloud.openstack_json("network", "list", "--project", project)
        expect(net_id in {n.get("ID") for n in networks}, f"network list --project: {networks}")
        expect(rows.get("networks", {}).get("In Use") == len(networks),
               f"quota show --usage: networks {rows.get('networks')}, the project has {len(networks)}")
        expect(rows.get("ports", {}).get("Limit") == 500, f"quota show --usage: ports {rows.get('ports')}")
    finally:
        if net_id:
            cloud.openstack("network", "delete", net_id, cloud=DEMO)


@check("network: quota set --ports --routers (admin; sends check_limit), member refused, set back")
def quota_set(cloud: Cloud) -> None:
    project = _demo_project(cloud)
    changed = False
    try:
        # python-openstackclient always sends `check_limit: true` (or
        # `force: true` with --force): neutron's quota-check-limit extension.
        cloud.openstack_ok("quota", "set", "--ports", "600", "--routers", "5", project)
        changed = True
        after = _limits(cloud.openstack_json("quota", "show", "--network", project))
        expect(after.get("ports") == 600 and after.get("routers") == 5, f"quota set: {after}")
        denied = cloud.openstack("quota", "set", "--ports", "1000", project, cloud=DEMO)
        expect(denied.returncode != 0, "a member raised its own port quota")
        after = _limits(cloud.openstack_json("quota", "show", "--network", project))
        expect(after.get("ports") == 600, f"the member's refused quota set changed it: {after}")
        cloud.openstack_ok("quota", "set", "--ports", "500", "--routers", "10", project)
        changed = False
        back = _limits(cloud.openstack_json("quota", "show", "--network", project))
        expect(back.get("ports") == 500 and back.get("routers") == 10, f"quota set back: {back}")
    finally:
        if changed:
            cloud.openstack("quota", "set", "--ports", "500", "--routers", "10", project)


@check("network: floating ip create on the external network, set --port, unset, delete (member)")
def floating_ips(cloud: Cloud) -> None:
    undo = Undo(cloud)
    try:
        ext, _ext_sub = _external(cloud, undo)
        net, sub = _tenant_net(cloud, undo, "10.230.3.0/24")
        rtr = cloud.openstack_json("router", "create", cloud.unique("fip-router"), cloud=DEMO)
        undo.add("router", "router", "delete", rtr["id"], cloud=DEMO)
        cloud.openstack_ok("router", "set", "--external-gateway", ext["id"], rtr["id"], cloud=DEMO)
        undo.add("gateway", "router", "unset", "--external-gateway", rtr["id"], cloud=DEMO)
        cloud.openstack_ok("router", "add", "subnet", rtr["id"], sub["id"], cloud=DEMO)
        undo.add("iface", "router", "remove", "subnet", rtr["id"], sub["id"], cloud=DEMO)
        port = cloud.openstack_json("port", "create", "--network", net["id"], cloud.unique("vm"), cloud=DEMO)
        undo.add("port", "port", "delete", port["id"], cloud=DEMO)
        fixed = port["fixed_ips"][0]["ip_address"]

        fip = cloud.openstack_json("floating", "ip", "create", "--description", "compat", ext["id"], cloud=DEMO)
        undo.add("fip", "floating", "ip", "delete", fip["id"], cloud=DEMO)
        for key, want in (
            ("floating_network_id", ext["id"]), ("port_id", None), ("fixed_ip_address", None),
            ("router_id", None), ("status", "DOWN"), ("description", "compat"),
            ("project_id", _demo_project(cloud)),
        ):
            expect(fip.get(key) == want, f"floating ip create: {key} = {fip.get(key)!r}, want {want!r}")
        address = ipaddress.ip_address(fip["floating_ip_address"])
        expect(ipaddress.ip_address("203.0.113.10") <= address <= ipaddress.ip_address("203.0.113.99"),
               f"floating IP {address} is outside the external allocation pool")

        cloud.openstack_ok("floating", "ip", "set", "--port", port["id"], fip["id"], cloud=DEMO)
        shown = cloud.openstack_json("floating", "ip", "show", fip["id"], cloud=DEMO)
        for key, want in (("port_id", port["id"]), ("fixed_ip_address", fixed), ("router_id", rtr["id"])):
            expect(shown.get(key) == want, f"floating ip set --port: {key} = {shown.get(key)!r}, want {want!r}")
        listed = cloud.openstack_json("floating", "ip", "list", "--port", port["id"], cloud=DEMO)
        expect([r.get("ID") for r in listed] == [fip["id"]], f"floating ip list --port: {listed}")
        expect(listed[0].get("Floating IP Address") == str(address) and listed[0].get("Fixed IP Address") == fixed,
               f"floating ip list row: {listed[0]}")
        by_net = cloud.openstack_json("floating", "ip", "list", "--network", ext["id"], cloud=DEMO)
        expect(fip["id"] in {r.get("ID") for r in by_net}, f"floating ip list --network: {by_net}")
        # The router's interface carries the association: it cannot go while the FIP uses it.
        busy = cloud.openstack("router", "remove", "subnet", rtr["id"], sub["id"], cloud=DEMO)
        expect(busy.returncode != 0, "the interface a floating IP needs was removed")

        cloud.openstack_ok("floating", "ip", "unset", "--port", fip["id"], cloud=DEMO)
        shown = cloud.openstack_json("floating", "ip", "show", fip["id"], cloud=DEMO)
        expect(shown.get("port_id") is None and shown.get("fixed_ip_address") is None,
               f"floating ip unset --port: {shown}")
        cloud.openstack_ok("floating", "ip", "delete", fip["id"], cloud=DEMO)
        undo.done("fip")
        _gone(cloud, "floating", "ip", "show", fip["id"], as_cloud=DEMO)
    finally:
        undo.run()


@check("network: floating ip port forwarding create, list, show, delete (member)")
def port_forwarding(cloud: Cloud) -> None:
    undo = Undo(cloud)
    try:
        ext, _ext_sub = _external(cloud, undo)
        net, sub = _tenant_net(cloud, undo, "10.230.4.0/24")
        rtr = cloud.openstack_json("router", "create", cloud.unique("pf-router"), cloud=DEMO)
        undo.add("router", "router", "delete", rtr["id"], cloud=DEMO)
        cloud.openstack_ok("router", "set", "--external-gateway", ext["id"], rtr["id"], cloud=DEMO)
        undo.add("gateway", "router", "unset", "--external-gateway", rtr["id"], cloud=DEMO)
        cloud.openstack_ok("router", "add", "subnet", rtr["id"], sub["id"], cloud=DEMO)
        undo.add("iface", "router", "remove", "subnet", rtr["id"], sub["id"], cloud=DEMO)
        port = cloud.openstack_json("port", "create", "--network", net["id"], cloud.unique("srv"), cloud=DEMO)
        undo.add("port", "port", "delete", port["id"], cloud=DEMO)
        fixed = port["fixed_ips"][0]["ip_address"]
        fip = cloud.openstack_json("floating", "ip", "create", ext["id"], cloud=DEMO)
        undo.add("fip", "floating", "ip", "delete", fip["id"], cloud=DEMO)

        pf = cloud.openstack_json(
            "floating", "ip", "port", "forwarding", "create", "--internal-ip-address", fixed,
            "--port", port["id"], "--internal-protocol-port", "22", "--external-protocol-port", "2222",
            "--protocol", "tcp", "--description", "ssh", fip["id"], cloud=DEMO,
        )
        undo.add("pf", "floating", "ip", "port", "forwarding", "delete", fip["id"], pf["id"], cloud=DEMO)
        for key, want in (
            ("internal_ip_address", fixed), ("internal_port_id", port["id"]), ("internal_port", 22),
            ("external_port", 2222), ("protocol", "tcp"), ("description", "ssh"),
        ):
            expect(pf.get(key) == want, f"port forwarding create: {key} = {pf.get(key)!r}, want {want!r}")
        clash = cloud.openstack(
            "floating", "ip", "port", "forwarding", "create", "--internal-ip-address", fixed,
            "--port", port["id"], "--internal-protocol-port", "80", "--external-protocol-port", "2222",
            "--protocol", "tcp", fip["id"], cloud=DEMO,
        )
        expect(clash.returncode != 0, "a second forwarding of external port 2222/tcp was accepted")
        listed = cloud.openstack_json("floating", "ip", "port", "forwarding", "list", fip["id"], cloud=DEMO)
        expect([r.get("ID") for r in listed] == [pf["id"]], f"port forwarding list: {listed}")
        row = listed[0]
        expect(row.get("Internal IP Address") == fixed and row.get("External Port") == 2222
               and row.get("Internal Port") == 22 and row.get("Protocol") == "tcp",
               f"port forwarding list row: {row}")
        shown = cloud.openstack_json("floating", "ip", "port", "forwarding", "show", fip["id"], pf["id"], cloud=DEMO)
        expect(shown.get("id") == pf["id"] and shown.get("external_port") == 2222, f"port forwarding show: {shown}")
        # A floating IP with port forwardings cannot also be bound to a port.
        bound = cloud.openstack("floating", "ip", "set", "--port", port["id"], fip["id"], cloud=DEMO)
        expect(bound.returncode != 0, "a floating IP with port forwardings was associated with a port")

        cloud.openstack_ok("floating", "ip", "port", "forwarding", "delete", fip["id"], pf["id"], cloud=DEMO)
        undo.done("pf")
        listed = cloud.openstack_json("floating", "ip", "port", "forwarding", "list", fip["id"], cloud=DEMO)
        expect(listed == [], f"port forwardings left after delete: {listed}")
    finally:
        undo.run()


@check("network: network agent list (admin: fields; member: an empty list, show refused)")
def agents(cloud: Cloud) -> None:
    rows = cloud.openstack_json("network", "agent", "list")
    # An all-in-one runs its node agent in process: it is listed even with
    # --dataplane none (as devstack lists its DHCP, L3 and L2 agents).
    expect(isinstance(rows, list) and rows, f"network agent list printed {rows!r}")
    columns = {"ID", "Agent Type", "Host", "Availability Zone", "Alive", "State", "Binary"}
    for row in rows:
        expect(columns <= set(row), f"network agent list row lacks {columns - set(row)}: {row}")
        expect(isinstance(row.get("Alive"), bool) and isinstance(row.get("State"), bool),
               f"Alive/State are not booleans: {row}")
    shown = cloud.openstack_json("network", "agent", "show", rows[0]["ID"])
    for key in ("agent_type", "host", "binary", "alive", "admin_state_up", "topic",
                "availability_zone", "last_heartbeat_at", "started_at", "created_at"):
        expect(key in shown, f"network agent show lacks {key}: {shown}")
    expect(shown.get("host") == rows[0]["Host"] and shown.get("binary") == rows[0]["Binary"]
           and shown.get("agent_type") == rows[0]["Agent Type"],
           f"agent show {shown} does not match its list row {rows[0]}")
    # Upstream's `get_agent` rule is admin only; a list filters what the
    # caller may not see, so a member gets an empty list (as tempest's
    # test_list_agents_non_admin expects), and a show is a 404.
    member_rows = cloud.openstack_json("network", "agent", "list", cloud=DEMO)
    expect(member_rows == [], f"a member listed network agents (admin only upstream): {member_rows}")
    denied = cloud.openstack("network", "agent", "show", rows[0]["ID"], cloud=DEMO)
    expect(denied.returncode != 0, "a member saw a network agent (admin only upstream)")


@check("network: openstacksdk create_network/create_subnet, 16 threads x 10 create_port on one /26")
def sdk_concurrent_ports(cloud: Cloud) -> None:
    from openstack import exceptions as os_exc

    conn = _conn(cloud)
    net: Any = None
    created: list[Any] = []
    lock = threading.Lock()
    try:
        net = conn.create_network(cloud.unique("sdk-net"))
        expect(net.status == "ACTIVE" and net.project_id == _demo_project(cloud), f"create_network: {net}")
        # No DHCP port: the pool's 61 addresses (.2–.62) are all the ports'.
        sub = conn.create_subnet(net.id, cidr="10.240.0.0/26", ip_version=4, enable_dhcp=False,
                                 subnet_name=cloud.unique("sdk-sub"))
        expect(sub.allocation_pools == [{"start": "10.240.0.2", "end": "10.240.0.62"}],
               f"create_subnet allocation_pools: {sub.allocation_pools}")
        expect(sub.gateway_ip == "10.240.0.1", f"create_subnet gateway_ip: {sub.gateway_ip}")
        failures: list[str] = []

        def worker(w: int) -> None:
            for i in range(10):
                try:
                    port = conn.create_port(network_id=net.id, name=f"sdk-{w}-{i}")
                except os_exc.ConflictException as exc:
                    with lock:
                        failures.append(str(exc))
                    continue
                with lock:
                    created.append(port)

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(worker, range(16)))
        addresses = [p.fixed_ips[0]["ip_address"] for p in created]
        expect(len(created) == 61, f"{len(created)} ports created on a /26 with 61 free addresses "
               f"(refusals: {failures[:3]})")
        expect(len(set(addresses)) == len(addresses), f"duplicate addresses: {sorted(addresses)}")
        pool_range = {f"10.240.0.{n}" for n in range(2, 63)}
        expect(set(addresses) == pool_range, f"addresses outside the pool: {set(addresses) - pool_range}")
        expect(len(failures) == 99, f"{len(failures)} refusals, want 99")
        expect(all("No more IP addresses available" in f for f in failures),
               f"a refusal is not IpAddressGenerationFailure: {failures[:3]}")
        listed = conn.list_ports(filters={"network_id": net.id})
        expect({p.id for p in listed} == {p.id for p in created}, f"list_ports: {len(listed)} ports")
        errors: list[str] = []

        def delete(port: Any) -> None:
            try:
                conn.delete_port(port.id)
            except Exception as exc:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(f"{port.id}: {exc}")

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(delete, created))
        expect(not errors, f"delete_port failed: {errors[:3]}")
        created = []
        expect(conn.list_ports(filters={"network_id": net.id}) == [], "ports left after delete_port")
    finally:
        for port in created:
            conn.delete_port(port.id)
        if net is not None:
            conn.delete_network(net.id)
        conn.close()


@check("network: openstacksdk reads: list_networks, get_subnet, search_ports with filters")
def sdk_reads(cloud: Cloud) -> None:
    conn = _conn(cloud)
    net: Any = None
    ports: list[Any] = []
    try:
        name = cloud.unique("sdk-read")
        net = conn.create_network(name)
        # The SDK's create_subnet defaults enable_dhcp to False; ask for DHCP as the CLI would.
        sub = conn.create_subnet(net.id, cidr="10.241.0.0/24", ip_version=4, subnet_name=f"{name}-sub",
                                 dns_nameservers=["192.0.2.53"], enable_dhcp=True)
        for i in range(3):
            ports.append(conn.create_port(network_id=net.id, name=f"{name}-{i}",
                                          device_owner="compute:nova" if i == 0 else ""))
        found = conn.list_networks(filters={"name": name})
        expect([n.id for n in found] == [net.id], f"list_networks name filter: {found}")
        expect(found[0].subnet_ids == [sub.id], f"list_networks subnets: {found[0].subnet_ids}")
        got = conn.get_subnet(sub.id)
        expect(got is not None and got.cidr == "10.241.0.0/24" and got.network_id == net.id
               and got.dns_nameservers == ["192.0.2.53"] and got.is_dhcp_enabled is True,
               f"get_subnet: {got}")
        by_name = conn.get_subnet(f"{name}-sub")
        expect(by_name is not None and by_name.id == sub.id, f"get_subnet by name: {by_name}")
        on_net = conn.search_ports(filters={"network_id": net.id})
        mine = {p.id for p in ports}
        owners = {p.device_owner for p in on_net if p.id not in mine}
        expect(mine <= {p.id for p in on_net} and owners == {"network:dhcp"},
               f"search_ports network_id: {[(p.name, p.device_owner) for p in on_net]}")
        nova = conn.search_ports(filters={"network_id": net.id, "device_owner": "compute:nova"})
        expect([p.id for p in nova] == [ports[0].id], f"search_ports device_owner: {nova}")
        one = conn.search_ports(name_or_id=f"{name}-2")
        expect([p.id for p in one] == [ports[2].id], f"search_ports name_or_id: {one}")
        ip = ports[1].fixed_ips[0]["ip_address"]
        by_ip = conn.network.ports(fixed_ips=f"ip_address={ip}")
        expect([p.id for p in by_ip] == [ports[1].id], f"ports(fixed_ips=ip_address={ip})")
    finally:
        for port in ports:
            conn.delete_port(port.id)
        if net is not None:
            conn.delete_network(net.id)
        conn.close()
