#!/usr/bin/env bash
# Installs what oxistack needs to build and run (Debian packages, then a
# release build) and starts the all-in-one cloud in the foreground.
# Arguments are passed to `oxistack up` (e.g. --listen 10.0.0.5).
set -euo pipefail
cd "$(dirname "$0")/.."

# libssl-dev: the image and object stores hash uploads with OpenSSL.
packages=(gcc pkg-config libssl-dev ca-certificates)
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
exec ./target/release/oxistack up "$@"
