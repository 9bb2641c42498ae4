//! The small test guest (`scripts/build-test-guest.sh`) boots under QEMU
//! TCG in 128 MiB, both as kernel + initrd and from its qcow2 disk, and
//! does what its init promises: config drive or metadata service,
//! hostname, user data, DHCP with Neutron's options, SSH with the
//! injected key and the HTTP answer. Gated (QEMU, and root + namespaces
//! for the network test): see `testkit::root`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers may panic

use std::path::Path;
use std::time::{Duration, Instant};
use testkit::guest::{config_drive_iso, ConfigDrive, GuestImages, GuestVm};
use testkit::netns::TestNet;
use testkit::require_root;
use testkit::root::Need;

/// Under TCG on a shared machine a boot takes seconds; this is generous.
const BOOT: Duration = Duration::from_secs(120);

fn drive(uuid: &str, hostname: &str, key: &str) -> ConfigDrive {
    ConfigDrive {
        uuid: uuid.into(),
        hostname: hostname.into(),
        public_keys: vec![("k1".into(), key.into())],
        user_data: Some(b"#!/bin/sh\necho USER-DATA-SAYS-$(hostname)\n".to_vec()),
    }
}

/// Waits for the config-drive boot's markers in order; the console.
fn config_drive_boot(vm: &mut GuestVm, hostname: &str) -> String {
    assert_eq!(vm.wait_marker("metadata", BOOT).unwrap(), "config-drive");
    assert_eq!(vm.wait_marker("hostname", BOOT).unwrap(), hostname);
    vm.wait_marker("user-data ran", BOOT).unwrap();
    vm.wait_marker("ready", BOOT).unwrap();
    let console = vm.console();
    assert!(
        console.contains(&format!("USER-DATA-SAYS-{hostname}")),
        "{console}"
    );
    // Without a NIC there is no lease to report.
    assert!(!console.contains("OXISTACK-GUEST: dhcp"), "{console}");
    console
}

#[test]
fn root_guest_boots_both_forms_from_a_config_drive() {
    require_root!(
        Need::Qemu,
        Need::Command("genisoimage"),
        Need::Command("qemu-img")
    );
    let images = GuestImages::build_or_reuse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOxt3st0nlyAf4keKeyForTheTest test@oxistack";
    config_drive_iso(
        &drive(
            "9c0b4d9e-0c43-4e57-9a11-000000000001",
            "direct-vm.novalocal",
            key,
        ),
        &d.join("cd1"),
        &d.join("cd1.iso"),
    )
    .unwrap();
    config_drive_iso(
        &drive("9c0b4d9e-0c43-4e57-9a11-000000000002", "disk-vm", key),
        &d.join("cd2"),
        &d.join("cd2.iso"),
    )
    .unwrap();

    // Both at once (one TCG thread each). The direct boot gets its config
    // drive as an IDE cdrom (libvirt's default), the disk boot as a
    // second virtio disk (vdb), so both places the init looks are used.
    let cd1 = format!(
        "file={},media=cdrom,readonly=on",
        d.join("cd1.iso").display()
    );
    let cd2 = format!(
        "file={},if=virtio,format=raw,readonly=on",
        d.join("cd2.iso").display()
    );
    let started = Instant::now();
    let mut direct = GuestVm::direct(
        &[],
        &images,
        &["-nic", "none", "-drive", &cd1],
        &d.join("direct.log"),
    )
    .unwrap();
    let mut disk = GuestVm::disk(
        &[],
        &images,
        &d.join("overlay.qcow2"),
        &["-nic", "none", "-drive", &cd2],
        &d.join("disk.log"),
    )
    .unwrap();

    config_drive_boot(&mut direct, "direct-vm");
    eprintln!("direct boot ready after {:?}", started.elapsed());
    let console = config_drive_boot(&mut disk, "disk-vm");
    eprintln!("disk boot ready after {:?}", started.elapsed());
    // The disk really went through SYSLINUX.
    assert!(console.contains("SYSLINUX"), "{console}");
}

/// Serves `dir` over HTTP on 169.254.169.254:80 (the metadata address).
const METADATA_SERVER: &str = r#"
import http.server, functools, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
http.server.ThreadingHTTPServer(('169.254.169.254', 80), h).serve_forever()
"#;

#[test]
fn root_guest_gets_dhcp_metadata_and_answers_ssh_and_http() {
    require_root!(
        Need::NetNs,
        Need::Qemu,
        Need::Command("dnsmasq"),
        Need::Command("python3"),
        Need::Command("ssh"),
        Need::Command("ssh-keygen"),
        Need::Command("curl"),
    );
    let images = GuestImages::build_or_reuse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // dnsmasq drops to nobody: its files must be reachable.
    std::fs::set_permissions(
        d,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .unwrap();

    let key = d.join("id");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test@oxistack", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let public = std::fs::read_to_string(d.join("id.pub")).unwrap();

    // The metadata service's tree (no config drive in this test).
    let uuid = "9c0b4d9e-0c43-4e57-9a11-000000000003";
    let md = ConfigDrive {
        uuid: uuid.into(),
        hostname: "net-vm.novalocal".into(),
        public_keys: vec![("k1".into(), public.trim().into())],
        user_data: Some(b"#!/bin/sh\nip route > /tmp/routes\n".to_vec()),
    };
    let latest = d.join("md/openstack/latest");
    std::fs::create_dir_all(&latest).unwrap();
    std::fs::write(latest.join("meta_data.json"), md.meta_data_json()).unwrap();
    std::fs::write(latest.join("user_data"), md.user_data.as_ref().unwrap()).unwrap();

    let mut net = TestNet::new().unwrap();
    let h = net.host("guest").unwrap();
    net.bridge(&h, "oxt-br").unwrap();
    h.ip(&["addr", "add", "10.90.0.1/24", "dev", "oxt-br"])
        .unwrap();
    h.ip(&["addr", "add", "169.254.169.254/32", "dev", "oxt-br"])
        .unwrap();
    net.tap(&h, "oxt-tap").unwrap();
    net.attach(&h, "oxt-tap", "oxt-br").unwrap();

    let mac = "fa:16:3e:00:00:0a";
    let leases = d.join("leases");
    let host_opt = format!("--dhcp-host={mac},10.90.0.10");
    let lease_opt = format!("--dhcp-leasefile={}", leases.display());
    // Neutron's way: static range, router, MTU forced, classless routes
    // including the metadata address.
    net.spawn(
        &h,
        &[
            "dnsmasq",
            "--keep-in-foreground",
            "--no-hosts",
            "--no-resolv",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--port=0",
            "--interface=oxt-br",
            "--bind-interfaces",
            "--dhcp-range=10.90.0.0,static,255.255.255.0,86400s",
            &host_opt,
            &lease_opt,
            "--dhcp-option=option:router,10.90.0.1",
            "--dhcp-option=option:dns-server,10.90.0.1",
            "--dhcp-option=option:classless-static-route,169.254.169.254/32,10.90.0.1,0.0.0.0/0,10.90.0.1",
            "--dhcp-option-force=option:mtu,1400",
        ],
    )
    .unwrap();
    let md_root = d.join("md");
    net.spawn(
        &h,
        &["python3", "-c", METADATA_SERVER, md_root.to_str().unwrap()],
    )
    .unwrap();

    let netdev = "tap,id=n0,ifname=oxt-tap,script=no,downscript=no".to_string();
    let nic = format!("virtio-net-pci,netdev=n0,mac={mac}");
    let started = Instant::now();
    let mut vm = GuestVm::direct(
        &["ip", "netns", "exec", h.name()],
        &images,
        &["-netdev", &netdev, "-device", &nic],
        &d.join("serial.log"),
    )
    .unwrap();
    assert_eq!(vm.wait_marker("dhcp", BOOT).unwrap(), "10.90.0.10");
    eprintln!("lease after {:?}", started.elapsed());
    assert_eq!(
        vm.wait_marker("metadata", BOOT).unwrap(),
        "metadata-service"
    );
    assert_eq!(vm.wait_marker("hostname", BOOT).unwrap(), "net-vm");
    vm.wait_marker("user-data ran", BOOT).unwrap();
    vm.wait_marker("ready", BOOT).unwrap();
    eprintln!("ready after {:?}", started.elapsed());

    let http = h
        .run(&["curl", "-sS", "--max-time", "10", "http://10.90.0.10/"])
        .unwrap();
    assert_eq!(http, format!("{uuid}\nnet-vm\n"));

    let ssh = |cmd: &str| -> String {
        h.run(&[
            "ssh",
            "-i",
            key.to_str().unwrap(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=30",
            "-o",
            "LogLevel=ERROR",
            "root@10.90.0.10",
            cmd,
        ])
        .unwrap()
    };
    assert_eq!(ssh("hostname").trim(), "net-vm");
    // The DHCP options were applied: MTU 26 and the classless routes.
    assert_eq!(ssh("cat /sys/class/net/eth0/mtu").trim(), "1400");
    let routes = ssh("cat /tmp/routes");
    assert!(routes.contains("default via 10.90.0.1"), "{routes}");
    assert!(routes.contains("169.254.169.254 via 10.90.0.1"), "{routes}");
    assert_eq!(ssh("cat /etc/resolv.conf").trim(), "nameserver 10.90.0.1");
    // lsblk as tempest reads it: a header with TYPE, no disk (no drives).
    let lsblk = ssh("lsblk -lb --nodeps");
    let header = lsblk.lines().next().unwrap();
    assert!(
        header.starts_with("NAME") && header.contains(" TYPE "),
        "{lsblk}"
    );
    // Tempest writes to the console through sudo.
    ssh("sudo sh -c 'echo SUDO-WORKS >/dev/console'");
    let t = Instant::now();
    while !vm.console().contains("SUDO-WORKS") {
        assert!(t.elapsed() < Duration::from_secs(10), "{}", vm.console());
        std::thread::sleep(Duration::from_millis(100));
    }
    // A key the guest was not given is refused.
    let other = d.join("other");
    std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .output()
        .unwrap();
    let refused = h
        .exec(&[
            "ssh",
            "-i",
            other.to_str().unwrap(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "root@10.90.0.10",
            "true",
        ])
        .unwrap();
    assert!(!refused.status.success());

    drop(vm);
    let name = h.name().to_string();
    drop(net);
    assert!(!testkit::netns::namespaces().unwrap().contains(&name));
    assert!(!Path::new(&format!("/run/netns/{name}")).exists());
}
