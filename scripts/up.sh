#!/usr/bin/env bash
# Installs what oxistack needs to build and run (Debian packages, then a
# release build) and starts the all-in-one cloud.
#
# As root on a host run by systemd (PID 1 is systemd): installs the binary
# as /usr/local/bin/oxistack and packaging/oxistack.service as the
# `oxistack` service (state in /var/lib/oxistack), starts it and waits for
# its APIs. Arguments for `oxistack up` (e.g. --listen 10.0.0.5) go to
# OXISTACK_UP_ARGS in /etc/default/oxistack.
# Otherwise, or with OXISTACK_FOREGROUND=1: runs `oxistack up` in the
# foreground with the arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."

# libssl-dev: the image and object stores hash uploads with OpenSSL.
# iproute2, nftables, dnsmasq-base, dnsmasq-utils, radvd: the network data
# plane (`--dataplane linux`) runs nft, dnsmasq, dhcp_release and radvd.
# qemu-system-x86, qemu-utils, genisoimage: the QEMU compute driver (the
# default `--compute-driver qemu`) runs guests, makes their disks and their
# config drives.
packages=(gcc pkg-config libssl-dev ca-certificates iproute2 nftables dnsmasq-base dnsmasq-utils radvd qemu-system-x86 qemu-utils genisoimage)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${missing[*]} (run as root to install them)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

cargo build --release -p oxistack

if [ "${OXISTACK_FOREGROUND:-0}" != 1 ] && [ "$(id -u)" -eq 0 ] \
    && [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]; then
    install -m 0755 target/release/oxistack /usr/local/bin/oxistack.new
    mv -f /usr/local/bin/oxistack.new /usr/local/bin/oxistack
    install -m 0644 packaging/oxistack.service /etc/systemd/system/oxistack.service
    if [ $# -gt 0 ]; then
        printf 'OXISTACK_UP_ARGS="%s"\n' "$*" > /etc/default/oxistack
    fi
    systemctl daemon-reload
    systemctl enable oxistack.service
    systemctl restart oxistack.service
    for _ in $(seq 1 60); do
        if /usr/local/bin/oxistack status --state-dir /var/lib/oxistack >/dev/null 2>&1; then
            break
        fi
        sleep 1
    done
    /usr/local/bin/oxistack status --state-dir /var/lib/oxistack || {
        echo "oxistack did not come up; see: journalctl -u oxistack" >&2
        exit 1
    }
    exit 0
fi
exec ./target/release/oxistack up "$@"
