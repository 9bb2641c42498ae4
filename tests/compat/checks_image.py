"""Image (Glance v2) checks with the real clients: python-openstackclient and openstacksdk.

Images are made by `qemu-img` (Debian's qemu-utils) in the runner's temporary
directory; every check deletes the images it created.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from run import Cloud, CheckFailed, check, expect


def _qemu_img(cloud: Cloud, *args: str) -> None:
    if shutil.which("qemu-img") is None:
        raise CheckFailed("qemu-img is not installed (Debian package qemu-utils)")
    result = cloud.run(["qemu-img", *args])
    expect(result.returncode == 0, f"qemu-img {' '.join(args)} failed: {result.output.strip()}")


def _qcow2(cloud: Cloud, name: str, size_mib: int = 8) -> Path:
    """A qcow2 with some real data in it (random bytes converted from raw)."""
    raw = cloud.tmp / f"{name}.raw"
    with open(raw, "wb") as fh:
        fh.write(os.urandom(1 << 20))
        fh.truncate(size_mib << 20)
    out = cloud.tmp / f"{name}.qcow2"
    _qemu_img(cloud, "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(out))
    raw.unlink()
    return out


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _cleanup(cloud: Cloud, *names: str) -> None:
    for name in names:
        cloud.openstack("image", "delete", name)


def _guest_cloud(cloud: Cloud) -> tuple[Path, str]:
    """A second project with a member user; returns (clouds.yaml, project id)."""
    if "image_guest" in cloud.state:
        return cloud.state["image_guest"]
    project = cloud.unique("img-guest")
    password = cloud.unique("pw")
    proj = cloud.openstack_json("project", "create", "--domain", "default", project)
    cloud.openstack_ok("user", "create", "--domain", "default", "--password", password, project)
    cloud.openstack_ok("role", "add", "--user", project, "--project", project, "member")
    auth = dict(cloud.admin_cloud()["auth"])
    auth.update({"username": project, "password": password, "project_name": project})
    path = cloud.write_extra_clouds({"guest": {"auth": auth}})
    cloud.state["image_guest"] = (path, proj["id"])
    return path, proj["id"]


@check("image: catalog has image/glance on port 9292")
def image_catalog(cloud: Cloud) -> None:
    rows = cloud.openstack_json("catalog", "list")
    image = [r for r in rows if r.get("Type") == "image"]
    expect(image, f"no image service in the catalog: {rows}")
    expect(image[0].get("Name") == "glance", f"image service is not named glance: {image}")
    expect(f"{cloud.listen}:9292" in str(image[0].get("Endpoints")), f"image endpoints: {image}")


@check("image: openstack image create --file (qemu-img qcow2) and image save round-trip")
def create_and_save(cloud: Cloud) -> None:
    path = _qcow2(cloud, "roundtrip")
    name = cloud.unique("img")
    try:
        created = cloud.openstack_json(
            "image", "create", "--file", str(path), "--disk-format", "qcow2",
            "--container-format", "bare", name,
        )
        expect(created.get("status") == "active", f"image create: status {created.get('status')}: {created}")
        shown = cloud.openstack_json("image", "show", name)
        expect(shown.get("checksum") == _md5(path), f"checksum {shown.get('checksum')} != md5 of the file")
        expect(shown.get("size") == path.stat().st_size, f"size {shown.get('size')} != {path.stat().st_size}")
        expect(shown.get("virtual_size") == 8 << 20, f"virtual_size {shown.get('virtual_size')} != 8 MiB")
        # OSC prints attributes it has no column for under "properties".
        algo = shown.get("os_hash_algo") or (shown.get("properties") or {}).get("os_hash_algo")
        expect(algo == "sha512", f"os_hash_algo: {algo}")
        out = cloud.tmp / "saved.qcow2"
        cloud.openstack_ok("image", "save", "--file", str(out), name)
        expect(out.read_bytes() == path.read_bytes(), "image save did not return the uploaded bytes")
        out.unlink()
    finally:
        _cleanup(cloud, name)
        path.unlink(missing_ok=True)


@check("image: image set --property/--tag, image list --property/--tag")
def properties_and_tags(cloud: Cloud) -> None:
    name = cloud.unique("props")
    other = cloud.unique("props")
    try:
        cloud.openstack_ok("image", "create", "--disk-format", "raw", "--container-format", "bare", name)
        cloud.openstack_ok("image", "create", "--disk-format", "raw", "--container-format", "bare", other)
        cloud.openstack_ok("image", "set", "--property", "os_distro=cirros", "--property", "hw_disk_bus=virtio",
                           "--tag", "compat", name)
        shown = cloud.openstack_json("image", "show", name)
        props = shown.get("properties") or {}
        expect(props.get("os_distro") == "cirros", f"property os_distro not set: {shown}")
        expect(props.get("hw_disk_bus") == "virtio", f"property hw_disk_bus not set: {shown}")
        expect("compat" in (shown.get("tags") or []), f"tag not set: {shown}")
        listed = cloud.openstack_json("image", "list", "--property", "os_distro=cirros")
        names = {r.get("Name") for r in listed}
        expect(name in names and other not in names, f"image list --property os_distro=cirros: {listed}")
        listed = cloud.openstack_json("image", "list", "--tag", "compat")
        expect({r.get("Name") for r in listed} == {name}, f"image list --tag compat: {listed}")
        cloud.openstack_ok("image", "unset", "--property", "hw_disk_bus", "--tag", "compat", name)
        shown = cloud.openstack_json("image", "show", name)
        expect("hw_disk_bus" not in (shown.get("properties") or {}), f"image unset --property: {shown}")
        expect("compat" not in (shown.get("tags") or []), f"image unset --tag: {shown}")
    finally:
        _cleanup(cloud, name, other)


@check("image: image add project, image member accepted by the other project")
def sharing(cloud: Cloud) -> None:
    guest_config, guest_project = _guest_cloud(cloud)
    name = cloud.unique("shared")
    path = _qcow2(cloud, "shared", 4)
    try:
        created = cloud.openstack_json("image", "create", "--file", str(path), "--disk-format", "qcow2",
                                       "--container-format", "bare", "--shared", name)
        image_id = created["id"]
        # Not yet shared: the guest cannot see it.
        hidden = cloud.openstack("image", "show", image_id, cloud="guest", config=guest_config)
        expect(hidden.returncode != 0, "the guest project sees an image not shared with it")
        cloud.openstack_ok("image", "add", "project", image_id, guest_project)
        members = cloud.openstack_json("image", "member", "list", image_id)
        expect([m.get("Member ID") for m in members] == [guest_project], f"image member list: {members}")
        expect(members[0].get("Status") == "pending", f"new member not pending: {members}")
        listed = cloud.openstack_json("image", "list", cloud="guest", config=guest_config)
        expect(image_id not in {r.get("ID") for r in listed}, "a pending share is in the guest's list")
        cloud.openstack_ok("image", "set", "--accept", image_id, cloud="guest", config=guest_config)
        listed = cloud.openstack_json("image", "list", cloud="guest", config=guest_config)
        expect(image_id in {r.get("ID") for r in listed}, f"accepted share not in the guest's list: {listed}")
        out = cloud.tmp / "guest.qcow2"
        cloud.openstack_ok("image", "save", "--file", str(out), image_id, cloud="guest", config=guest_config)
        expect(out.read_bytes() == path.read_bytes(), "the guest downloaded different bytes")
        out.unlink()
        # The guest may not delete it; the owner removes the guest.
        denied = cloud.openstack("image", "delete", image_id, cloud="guest", config=guest_config)
        expect(denied.returncode != 0, "the guest deleted the owner's image")
        cloud.openstack_ok("image", "remove", "project", image_id, guest_project)
        gone = cloud.openstack("image", "show", image_id, cloud="guest", config=guest_config)
        expect(gone.returncode != 0, "the guest still sees the image after removal")
    finally:
        _cleanup(cloud, name)
        path.unlink(missing_ok=True)


@check("image: a qcow2 with a backing file is refused, through the CLI and the SDK")
def backing_file_refused(cloud: Cloud) -> None:
    import openstack
    from openstack import config as occ
    from openstack import exceptions as os_exc

    base = cloud.tmp / "base.raw"
    with open(base, "wb") as fh:
        fh.truncate(1 << 20)
    overlay = cloud.tmp / "overlay.qcow2"
    _qemu_img(cloud, "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw", str(overlay))
    name = cloud.unique("backed")
    region = occ.OpenStackConfig(config_files=[str(cloud.clouds_yaml)]).get_one(cloud="oxistack")
    conn = openstack.connection.Connection(config=region)
    image: Any = None
    try:
        result = cloud.openstack("image", "create", "--file", str(overlay), "--disk-format", "qcow2",
                                 "--container-format", "bare", name)
        expect(result.returncode != 0, "image create with a backing-file qcow2 succeeded")
        expect("backing file" in result.output, f"the refusal does not say why: {result.output.strip()}")
        # The client deletes an image whose upload failed; none may be active.
        listed = cloud.openstack_json("image", "list", "--name", name)
        expect(all(r.get("Status") != "active" for r in listed), f"refused image is active: {listed}")
        # The same upload through the SDK's image proxy, keeping the image.
        image = conn.image.create_image(name=name, disk_format="qcow2", container_format="bare")
        image.data = overlay.read_bytes()
        # Image.upload hands back the response rather than raising.
        resp = image.upload(conn.image)
        try:
            os_exc.raise_from_response(resp)
            raise CheckFailed("the SDK upload of a backing-file qcow2 succeeded")
        except os_exc.BadRequestException as exc:
            expect("backing file" in str(exc), f"the SDK's error does not say why: {exc}")
        shown = conn.image.get_image(image.id)
        expect(shown.status == "queued", f"refused image is {shown.status}, want queued")
        expect(not shown.size, f"refused image has a size: {shown.size}")
    finally:
        if image is not None:
            conn.image.delete_image(image.id, ignore_missing=True)
        conn.close()
        base.unlink(missing_ok=True)
        overlay.unlink(missing_ok=True)


@check("image: openstacksdk create_image / download_image round-trip")
def sdk_round_trip(cloud: Cloud) -> None:
    import openstack
    from openstack import config as occ

    region = occ.OpenStackConfig(config_files=[str(cloud.clouds_yaml)]).get_one(cloud="oxistack")
    conn = openstack.connection.Connection(config=region)
    path = cloud.tmp / "sdk.raw"
    with open(path, "wb") as fh:
        fh.write(os.urandom(3 << 20))
    name = cloud.unique("sdk")
    image: Any = None
    try:
        image = conn.create_image(name, filename=str(path), disk_format="raw", container_format="bare",
                                  wait=True, timeout=120)
        expect(image.status == "active", f"sdk create_image: status {image.status}")
        expect(image.checksum == _md5(path), "sdk create_image: checksum differs from the file's md5")
        out = cloud.tmp / "sdk.out"
        conn.download_image(image.id, output_file=str(out))
        expect(out.read_bytes() == path.read_bytes(), "sdk download_image returned different bytes")
        out.unlink()
        found = conn.image.find_image(name)
        expect(found is not None and found.id == image.id, "sdk find_image did not find it")
    finally:
        if image is not None:
            conn.delete_image(image.id, wait=True)
        conn.close()
        path.unlink(missing_ok=True)


@check("image: openstack image delete removes the image and its data")
def delete_removes_data(cloud: Cloud) -> None:
    path = _qcow2(cloud, "todelete", 2)
    name = cloud.unique("del")
    created = cloud.openstack_json("image", "create", "--file", str(path), "--disk-format", "qcow2",
                                   "--container-format", "bare", name)
    data_file = cloud.tmp / "images" / created["id"]
    expect(data_file.is_file(), f"no data file at {data_file}")
    cloud.openstack_ok("image", "delete", name)
    listed = cloud.openstack_json("image", "list")
    expect(name not in {r.get("Name") for r in listed}, "deleted image still listed")
    expect(not data_file.exists(), f"data file {data_file} still there after delete")
    path.unlink(missing_ok=True)


@check("image: image metadef namespace/property/object/resource type association (protected until unset)")
def metadefs(cloud: Cloud) -> None:
    ns = cloud.unique("OSC::Compat")
    md = ("image", "metadef")
    try:
        created = cloud.openstack_json(*md, "namespace", "create", "--public", "--protected",
                                       "--description", "compat", "--display-name", "Compat", ns)
        expect(created.get("namespace") == ns and created.get("protected") is True, f"namespace create: {created}")
        types = {r.get("Name") for r in cloud.openstack_json(*md, "resource", "type", "list")}
        expect("OS::Glance::Image" in types, f"resource type list: {types}")
        cloud.openstack_ok(*md, "resource", "type", "association", "create", ns, "OS::Glance::Image")
        prop = cloud.openstack_json(*md, "property", "create", "--name", "disk_bus", "--type", "string",
                                    "--title", "Disk bus", "--schema", '{"enum": ["virtio", "scsi"]}', ns)
        expect(prop.get("enum") == ["virtio", "scsi"], f"property create: {prop}")
        cloud.openstack_ok(*md, "object", "create", "--namespace", ns, "obj1")
        objects = {r.get("name") for r in cloud.openstack_json(*md, "object", "list", ns)}
        expect(objects == {"obj1"}, f"object list: {objects}")
        shown = cloud.openstack_json(*md, "namespace", "show", ns)
        expect(shown.get("resource_type_associations") == ["OS::Glance::Image"], f"namespace show: {shown}")
        listed = {r.get("namespace") for r in cloud.openstack_json(*md, "namespace", "list")}
        expect(ns in listed, f"namespace list: {listed}")
        refused = cloud.openstack(*md, "namespace", "delete", ns)
        expect(refused.returncode != 0 and "protected" in refused.output, "a protected namespace was deleted")
        cloud.openstack_ok(*md, "namespace", "set", "--private", "--unprotected", ns)
        cloud.openstack_ok(*md, "namespace", "delete", ns)
        listed = {r.get("namespace") for r in cloud.openstack_json(*md, "namespace", "list")}
        expect(ns not in listed, f"deleted namespace still listed: {listed}")
    finally:
        cloud.openstack(*md, "namespace", "set", "--unprotected", ns)
        cloud.openstack(*md, "namespace", "delete", ns)
