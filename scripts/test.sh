#!/usr/bin/env bash
# The oxistack test command: everything CI runs, runnable by hand as root on a
# fresh Debian 12 machine that has the Rust toolchain and python3.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh --no-postgres   # skip the PostgreSQL runs
#   scripts/test.sh --compat-only   # build the binary, run only the client compat tests
#
# Steps: install missing Debian packages; the project virtualenv .venv with
# the upstream OpenStack clients (tests/compat/requirements.txt); cargo fmt
# --check; clippy; cargo deny (deny.toml; cargo-deny installed if missing);
# one build of everything in the `ci` profile (release without LTO, see
# Cargo.toml); cargo test with SQLite;
# cargo test again against a throwaway PostgreSQL cluster
# (OXISTACK_TEST_DATABASE_URL); the compat tests (tests/compat/run.py) against
# the real binary with SQLite and with PostgreSQL (OXISTACK_DATABASE_URL);
# the fuzz run (tests/fuzz/run.py: schemathesis against each service's
# checked-in OpenAPI document, no 5xx and no dropped connection allowed), once,
# on SQLite; upstream tempest's API groups for every served service
# (tests/tempest/conformance.py, configured by python-tempestconf) on each
# store, with the skips listed in tests/tempest/skips.txt.
# Run as root (as CI does), the tests that need root, network namespaces or
# QEMU (testkit::root, names `root_…`) run too: OXISTACK_ROOT_TESTS=1 is set
# unless OXISTACK_ROOT_TESTS=0 is given. Not as root, they skip and say so.
# Every process and temporary directory it makes is removed on exit, also on
# failure or interruption. The last line is "N passed, N failed", the sum of
# the compat checks, fuzzed operations and tempest tests; the exit status is
# non-zero if any step failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# Debian packages the tests need; add to this list as the project grows
# (e.g. qemu-utils for the image tests). Checked with dpkg, installed if missing.
# gcc, pkg-config and libssl-dev build the binary (uploads are hashed with
# OpenSSL). The network data plane's root tests need iproute2, nftables,
# dnsmasq (dnsmasq-base, and dhcp_release from dnsmasq-utils), radvd (IPv6
# router advertisements), busybox (udhcpc as the instances' DHCP client)
# and isc-dhcp-client (dhclient -6, their DHCPv6 client). The compute
# root tests boot the test guest (scripts/build-test-guest.sh, which
# downloads its own Debian packages) under qemu-system-x86 with config
# drives from genisoimage, and reach it with ssh and curl.
APT_PACKAGES=(gcc pkg-config libssl-dev postgresql qemu-utils iproute2 nftables dnsmasq-base dnsmasq-utils radvd busybox isc-dhcp-client qemu-system-x86 genisoimage openssh-client curl)
PG_PORT_FIRST=55432
VENV="$ROOT/.venv"
REQUIREMENTS="$ROOT/tests/compat/requirements.txt"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BINARY="$TARGET_DIR/ci/oxistack"
# cargo-deny, pinned; installed with `cargo install --locked` when this exact
# version is not on PATH (about 3 CPU-minutes to build).
CARGO_DENY_VERSION=0.20.2

WITH_POSTGRES=1
COMPAT_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --no-postgres) WITH_POSTGRES=0 ;;
        --compat-only) COMPAT_ONLY=1 ;;
        -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
    esac
done

# The first cargo test and compat runs use the default (SQLite); never inherit a URL.
unset OXISTACK_TEST_DATABASE_URL OXISTACK_DATABASE_URL

# Root-gated tests: on as root unless turned off; never half-on otherwise.
if [[ $(id -u) -eq 0 && ${OXISTACK_ROOT_TESTS:-1} != 0 ]]; then
    export OXISTACK_ROOT_TESTS=1
    ROOT_TESTS_NOTE="run (root, OXISTACK_ROOT_TESTS=1)"
elif [[ $(id -u) -eq 0 ]]; then
    ROOT_TESTS_NOTE="skipped (OXISTACK_ROOT_TESTS=0 given)"
else
    unset OXISTACK_ROOT_TESTS
    ROOT_TESTS_NOTE="skipped (not root)"
fi
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

# ---- bookkeeping and cleanup --------------------------------------------------

STEPS=()          # "ok|FAILED  name" lines for the closing summary
FAILED_STEPS=0
COMPAT_PASSED=0
COMPAT_FAILED=0
FUZZ_PASSED=0
FUZZ_FAILED=0
TEMPEST_PASSED=0
TEMPEST_FAILED=0
TEMPEST_SKIPPED=0
CHILD_PID=""      # the long-running command in progress, stopped by the trap
PG_DIR=""         # temp dir of the throwaway PostgreSQL cluster
PG_BIN=""
PG_PORT=""
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/oxistack-test.XXXXXX")

log() { printf '\n==== %s\n' "$*"; }

# All descendants of a pid, parents before children.
descendants() {
    local file child
    for file in /proc/"$1"/task/*/children; do
        [[ -r "$file" ]] || continue
        for child in $(<"$file"); do
            echo "$child"
            descendants "$child"
        done
    done
}

# Stop the command in progress and everything it started: TERM, then KILL.
stop_child() {
    [[ -n "$CHILD_PID" ]] || return 0
    local pids more
    mapfile -t pids < <(echo "$CHILD_PID"; descendants "$CHILD_PID")
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$CHILD_PID" 2>/dev/null || break
        sleep 0.2
    done
    mapfile -t more < <(descendants "$CHILD_PID")
    pids+=("${more[@]}")
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait "$CHILD_PID" 2>/dev/null || true
    CHILD_PID=""
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    stop_child
    pg_stop
    rm -rf "$SCRATCH"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Run a command (or a function of this script) in the background and wait
# for it: a signal then reaches the trap at once, the trap can stop the
# command, and `set -e` holds inside functions. Returns its exit status.
run() {
    local status=0
    "$@" &
    CHILD_PID=$!
    wait "$CHILD_PID" || status=$?
    CHILD_PID=""
    return "$status"
}

# step NAME COMMAND...: run, record ok/FAILED; never exits.
step() {
    local name=$1 status=0 started=$SECONDS
    shift
    log "$name"
    run "$@" || status=$?
    if [[ $status -eq 0 ]]; then
        STEPS+=("ok      $name ($((SECONDS - started)) s)")
    else
        STEPS+=("FAILED  $name (exit $status, $((SECONDS - started)) s)")
        FAILED_STEPS=$((FAILED_STEPS + 1))
    fi
    return 0
}

# step_ok NAME COMMAND...: like step, and says whether it passed.
step_ok() {
    local before=$FAILED_STEPS
    step "$@"
    [[ $FAILED_STEPS -eq $before ]]
}

# must NAME COMMAND...: like step, but stop the whole run on failure.
must() {
    local before=$FAILED_STEPS
    step "$@"
    if [[ $FAILED_STEPS -ne $before ]]; then
        summary
        exit 1
    fi
}

summary() {
    log "summary"
    local line
    for line in "${STEPS[@]}"; do printf '  %s\n' "$line"; done
    printf '  compat checks: %d passed, %d failed\n' "$COMPAT_PASSED" "$COMPAT_FAILED"
    printf '  fuzzed operations: %d passed, %d failed\n' "$FUZZ_PASSED" "$FUZZ_FAILED"
    printf '  tempest: %d passed, %d failed, %d skipped (listed in tests/tempest/skips.txt)\n' \
        "$TEMPEST_PASSED" "$TEMPEST_FAILED" "$TEMPEST_SKIPPED"
    printf '  root-gated tests (network namespaces, QEMU): %s\n' "$ROOT_TESTS_NOTE"
    printf '%d passed, %d failed\n' "$((COMPAT_PASSED + FUZZ_PASSED + TEMPEST_PASSED))" \
        "$((COMPAT_FAILED + FUZZ_FAILED + TEMPEST_FAILED))"
}

# ---- system packages ----------------------------------------------------------

apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    log "installing Debian packages: ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "need root to install ${missing[*]}" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ---- the project virtualenv ---------------------------------------------------

venv_ready() {
    [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' 2>/dev/null
}

setup_venv() {
    if ! venv_ready; then
        rm -rf "$VENV"
        if ! python3 -m venv "$VENV"; then
            rm -rf "$VENV"
            # Debian's python3 ships venv/ensurepip separately.
            apt_install python3-venv
            python3 -m venv "$VENV"
        fi
    fi
    local want have=""
    want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
    [[ -f "$VENV/.requirements.sha256" ]] && have=$(<"$VENV/.requirements.sha256")
    if [[ "$want" == "$have" ]]; then
        echo "virtualenv $VENV is up to date with $REQUIREMENTS"
        return 0
    fi
    rm -f "$VENV/.requirements.sha256"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQUIREMENTS"
    echo "$want" >"$VENV/.requirements.sha256"
}

# ---- the throwaway PostgreSQL cluster -----------------------------------------

find_pg_bin() {
    local dir candidates
    # Debian 12's PostgreSQL 15 first, else the newest installed.
    mapfile -t candidates < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
    for dir in /usr/lib/postgresql/15/bin "${candidates[@]}"; do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    echo "no PostgreSQL server binaries under /usr/lib/postgresql" >&2
    return 1
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Foreground part: choose binaries, port and directory (the trap needs them).
pg_prepare() {
    PG_BIN=$(find_pg_bin) || return 1
    PG_PORT=$PG_PORT_FIRST
    while port_in_use "$PG_PORT"; do
        PG_PORT=$((PG_PORT + 1))
        if [[ $PG_PORT -gt $((PG_PORT_FIRST + 100)) ]]; then
            echo "no free port in $PG_PORT_FIRST..$((PG_PORT_FIRST + 100))" >&2
            return 1
        fi
    done
    # Under /tmp, not $TMPDIR: the postgres user must be able to reach it.
    PG_DIR=$(mktemp -d /tmp/oxistack-pg.XXXXXX) || return 1
    chown postgres:postgres "$PG_DIR" || return 1
}

pg_start() {
    runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust \
        -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || {
        cat "$PG_DIR/initdb.log" >&2
        return 1
    }
    # Durability is pointless for a cluster that lives minutes: trade it for speed.
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || {
        cat "$PG_DIR/server.log" >&2
        return 1
    }
    echo "PostgreSQL on 127.0.0.1:$PG_PORT, socket and data in $PG_DIR"
    "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc 'select version()'
}

pg_createdb() {
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1" || return 1
    echo "postgres://postgres@127.0.0.1:$PG_PORT/$1"
}

pg_stop() {
    [[ -n "$PG_DIR" && -d "$PG_DIR" ]] || return 0
    if [[ -f "$PG_DIR/data/postmaster.pid" ]]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 20 stop \
            >/dev/null 2>&1 || true
        # Still there? Kill the postmaster we started (its pid is on the file's first line).
        if [[ -f "$PG_DIR/data/postmaster.pid" ]]; then
            local pid
            pid=$(head -n1 "$PG_DIR/data/postmaster.pid")
            if [[ "$pid" =~ ^[0-9]+$ ]]; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
            sleep 1
        fi
    fi
    rm -rf "$PG_DIR"
    PG_DIR=""
}

# ---- test steps -----------------------------------------------------------------

install_cargo_deny() {
    if [[ "$(cargo deny --version 2>/dev/null)" == "cargo-deny $CARGO_DENY_VERSION" ]]; then
        echo "cargo-deny $CARGO_DENY_VERSION is installed"
        return 0
    fi
    cargo install --locked cargo-deny --version "$CARGO_DENY_VERSION"
}

# Licences, bans and sources always; advisories when RustSec's database (a
# git clone from GitHub) can be fetched, which some build hosts cannot do.
cargo_deny() {
    if cargo deny fetch db; then
        cargo deny check --hide-inclusion-graph
    else
        echo "RustSec's advisory database cannot be fetched from this machine;" \
            "checking licenses, bans and sources only" >&2
        cargo deny check --hide-inclusion-graph licenses bans sources
    fi
}

cargo_tests() {
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --cargo-profile ci --workspace --no-tests=warn
        cargo test --profile ci --workspace --doc
    else
        cargo test --profile ci --workspace
    fi
}

# compat LABEL: run tests/compat/run.py against the built binary, add up its counts.
compat() {
    local label=$1 results="$SCRATCH/compat-$1.txt" passed failed
    rm -f "$results"
    step "compat tests ($label)" "$VENV/bin/python" "$ROOT/tests/compat/run.py" \
        --binary "$BINARY" --label "$label" --results "$results"
    if [[ -s "$results" ]] && read -r passed failed <"$results"; then
        COMPAT_PASSED=$((COMPAT_PASSED + passed))
        COMPAT_FAILED=$((COMPAT_FAILED + failed))
    else
        echo "compat runner ($label) reported no results" >&2
        COMPAT_FAILED=$((COMPAT_FAILED + 1))
    fi
}

# fuzz LABEL: schemathesis against each service's checked-in OpenAPI document
# (tests/fuzz/run.py) with the built binary, add up its counts.
fuzz() {
    local label=$1 results="$SCRATCH/fuzz-$1.txt" passed failed
    rm -f "$results"
    step "fuzz ($label)" "$VENV/bin/python" "$ROOT/tests/fuzz/run.py" \
        --binary "$BINARY" --label "fuzz $label" --results "$results"
    if [[ -s "$results" ]] && read -r passed failed <"$results"; then
        FUZZ_PASSED=$((FUZZ_PASSED + passed))
        FUZZ_FAILED=$((FUZZ_FAILED + failed))
    else
        echo "fuzz runner ($label) reported no results" >&2
        FUZZ_FAILED=$((FUZZ_FAILED + 1))
    fi
}

# tempest LABEL: upstream tempest's API groups against the built binary
# (tests/tempest/conformance.py), add up its counts.
tempest() {
    local label=$1 results="$SCRATCH/tempest-$1.txt" passed failed skipped
    rm -f "$results"
    step "tempest ($label)" "$VENV/bin/python" "$ROOT/tests/tempest/conformance.py" \
        --binary "$BINARY" --label "tempest $label" --results "$results"
    if [[ -s "$results" ]] && read -r passed failed skipped <"$results"; then
        TEMPEST_PASSED=$((TEMPEST_PASSED + passed))
        TEMPEST_FAILED=$((TEMPEST_FAILED + failed))
        TEMPEST_SKIPPED=$((TEMPEST_SKIPPED + skipped))
    else
        echo "tempest runner ($label) reported no results" >&2
        TEMPEST_FAILED=$((TEMPEST_FAILED + 1))
    fi
}

# ---- the run --------------------------------------------------------------------

log "oxistack tests in $ROOT (CI=${CI:-false})"
cargo --version
python3 --version

must "Debian packages (${APT_PACKAGES[*]})" apt_install "${APT_PACKAGES[@]}"
must "virtualenv .venv ($REQUIREMENTS)" setup_venv
if [[ ${OXISTACK_ROOT_TESTS:-0} == 1 ]]; then
    # Built once here (cached under the target directory), used by every
    # root test that boots a guest (testkit::guest reads OXISTACK_GUEST_DIR).
    export OXISTACK_GUEST_DIR="$TARGET_DIR/guest"
    must "test guest (scripts/build-test-guest.sh)" "$ROOT/scripts/build-test-guest.sh" "$OXISTACK_GUEST_DIR"
fi

if [[ $COMPAT_ONLY -eq 0 ]]; then
    must "cargo fmt --check" cargo fmt --all -- --check
    step "cargo clippy" cargo clippy --profile ci --workspace --all-targets -- -D warnings
    if step_ok "cargo-deny $CARGO_DENY_VERSION" install_cargo_deny; then
        step "cargo deny (deny.toml)" cargo_deny
    fi
    must "cargo build (ci profile)" cargo build --profile ci --workspace --all-targets
    step "cargo test (SQLite)" cargo_tests
else
    must "cargo build (ci profile, oxistack)" cargo build --profile ci -p oxistack --bin oxistack
fi

compat sqlite
# Once, on SQLite: the documents and the handlers are the same on either store.
fuzz sqlite
tempest sqlite

if [[ $WITH_POSTGRES -eq 1 ]]; then
    if ! pg_prepare; then
        STEPS+=("FAILED  PostgreSQL cluster (preparing)")
        summary
        exit 1
    fi
    must "PostgreSQL cluster" pg_start
    if [[ $COMPAT_ONLY -eq 0 ]]; then
        if OXISTACK_TEST_DATABASE_URL=$(pg_createdb oxistack_test); then
            export OXISTACK_TEST_DATABASE_URL
            step "cargo test (PostgreSQL $OXISTACK_TEST_DATABASE_URL)" cargo_tests
            unset OXISTACK_TEST_DATABASE_URL
        else
            STEPS+=("FAILED  createdb oxistack_test")
            FAILED_STEPS=$((FAILED_STEPS + 1))
        fi
    fi
    if OXISTACK_DATABASE_URL=$(pg_createdb oxistack_compat); then
        export OXISTACK_DATABASE_URL
        compat postgres
        unset OXISTACK_DATABASE_URL
    else
        STEPS+=("FAILED  createdb oxistack_compat")
        FAILED_STEPS=$((FAILED_STEPS + 1))
    fi
    # A database of its own: a cloud bootstrapped by another run keeps its
    # admin password to itself, so a new state dir would get no clouds.yaml.
    if OXISTACK_DATABASE_URL=$(pg_createdb oxistack_tempest); then
        export OXISTACK_DATABASE_URL
        tempest postgres
        unset OXISTACK_DATABASE_URL
    else
        STEPS+=("FAILED  createdb oxistack_tempest")
        FAILED_STEPS=$((FAILED_STEPS + 1))
    fi
    pg_stop
fi

summary
if [[ $FAILED_STEPS -ne 0 || $COMPAT_FAILED -ne 0 || $FUZZ_FAILED -ne 0 || $TEMPEST_FAILED -ne 0 ]]; then
    exit 1
fi
