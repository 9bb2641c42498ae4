#!/bin/sh
# Builds the small test guest from Debian packages, offline from apt's
# point of view (only `apt-get download` and `dpkg-deb -x`, nothing is
# installed on the host):
#   OUT_DIR/vmlinuz, OUT_DIR/initrd.img  direct kernel boot
#   OUT_DIR/disk.qcow2                   MBR + SYSLINUX on a FAT partition,
#                                        the same kernel and initrd
#   OUT_DIR/manifest.json                files, sizes, sha256, packages
# Usage: scripts/build-test-guest.sh [OUT_DIR]   (default: $ROOT/target/guest)
#
# Idempotent: when the outputs exist and OUT_DIR/.stamp matches this
# script's hash and the candidate versions of its packages, it does
# nothing. Downloads are cached in OUT_DIR-cache (beside OUT_DIR).
# Concurrent runs on the same OUT_DIR serialise on OUT_DIR.lock.
#
# The guest's behaviour (init, DHCP script, metadata, markers) is written
# out below; docs: crates/testkit/README.md ("The test guest").
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/target/guest}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CACHE=$OUT-cache
SELF="$ROOT/scripts/build-test-guest.sh"
[ -f "$SELF" ] || SELF=$0

log() { echo "build-test-guest: $*" >&2; }
die() { log "error: $*"; exit 1; }

for t in apt-get apt-cache dpkg-deb readelf gzip sha256sum flock find sort; do
	command -v "$t" >/dev/null 2>&1 || die "$t is needed on the host"
done

# The kernel package is whatever the meta package points at today.
KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n 1)
[ -n "$KPKG" ] || die "cannot resolve linux-image-cloud-amd64 (apt-get update?)"

# Libraries come from these packages, never from the host.
LIBPKGS="libc6 libcrypt1 libtomcrypt1 libtommath1 libgmp10 zlib1g"
PKGS="$KPKG busybox-static dropbear-bin syslinux syslinux-common mtools $LIBPKGS"
# qemu-img is only downloaded when the host lacks it; its libraries are
# the host's qemu's (qemu-system-x86 is the same release).
if ! command -v qemu-img >/dev/null 2>&1; then
	PKGS="$PKGS qemu-utils"
fi

# One apt-cache call for all (each call costs seconds on a busy machine).
VERSIONS=$(apt-cache policy $PKGS 2>/dev/null | awk '
	/^[^ ].*:$/ { p = substr($0, 1, length($0) - 1) }
	/^  Candidate: / && p != "" { print p "=" $2; p = "" }')
for p in $PKGS; do
	case "
$VERSIONS" in *"
$p="*) ;; *) die "no candidate version for $p (apt-get update?)" ;; esac
done
case "$VERSIONS" in *"=(none)"*) die "no candidate version: $VERSIONS" ;; esac
STAMP=$( (sha256sum <"$SELF" | cut -d' ' -f1; printf '%s' "$VERSIONS") | sha256sum | cut -d' ' -f1)

up_to_date() {
	for f in vmlinuz initrd.img disk.qcow2 manifest.json .stamp; do
		[ -s "$OUT/$f" ] || return 1
	done
	[ "$(cat "$OUT/.stamp")" = "$STAMP" ]
}

exec 9>"$OUT.lock"
flock 9
if up_to_date; then
	log "up to date: $OUT"
	exit 0
fi

# ---------------------------------------------------------------- download
mkdir -p "$CACHE/debs"
SANDBOX=""
[ "$(id -u)" = 0 ] && SANDBOX="-o APT::Sandbox::User=root"
for pv in $VERSIONS; do
	p=${pv%%=*}
	v=${pv#*=}
	# apt names the file with the epoch's colon escaped.
	fv=$(echo "$v" | sed 's/:/%3a/')
	if ! ls "$CACHE/debs/${p}_${fv}_"*.deb >/dev/null 2>&1; then
		log "downloading $p=$v"
		# shellcheck disable=SC2086
		(cd "$CACHE/debs" && apt-get download -q $SANDBOX "$p=$v" >/dev/null) ||
			die "apt-get download $p=$v failed"
	fi
done

WORK=$(mktemp -d "$CACHE/work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
X=$WORK/x
mkdir -p "$X"
for pv in $VERSIONS; do
	p=${pv%%=*}
	fv=$(echo "${pv#*=}" | sed 's/:/%3a/')
	dpkg-deb -x "$(ls "$CACHE/debs/${p}_${fv}_"*.deb | head -n 1)" "$X/$p"
done

# Tools run from the extracted packages: mtools for syslinux's installer.
PATH="$X/mtools/usr/bin:$PATH"
export PATH
QEMU_IMG=qemu-img
command -v qemu-img >/dev/null 2>&1 || QEMU_IMG="$X/qemu-utils/usr/bin/qemu-img"
BB="$X/busybox-static/bin/busybox"
KVER=${KPKG#linux-image-}
KDIR="$X/$KPKG/lib/modules/$KVER/kernel"
[ -f "$X/$KPKG/boot/vmlinuz-$KVER" ] || die "no vmlinuz-$KVER in $KPKG"

# ---------------------------------------------------------------- initrd tree
R=$WORK/root
mkdir -p "$R"
for d in bin sbin usr/bin usr/sbin etc root proc sys dev tmp run var/run lib/modules \
	lib64 usr/lib/dropbear etc/dropbear www mnt/config; do
	mkdir -p "$R/$d"
done
chmod 700 "$R/root"
chmod 1777 "$R/tmp"
cp "$BB" "$R/bin/busybox"
# Every applet as a link at its usual place (what `busybox --install -s`
# would do inside the guest).
"$BB" --list-full | while read -r a; do
	[ "$a" = bin/busybox ] && continue
	[ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done

# Modules in load order; each one's `depends=` must come earlier. The
# config drive is an IDE cdrom (libvirt's default on x86: ata_piix,
# sr_mod, cdrom) or a virtio disk (virtio_blk); either way iso9660.
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
failover net_failover virtio_net virtio_blk scsi_common scsi_mod virtio_scsi
cdrom sr_mod libata ata_piix isofs"
loaded=" "
: >"$R/etc/modules"
for m in $MODULES; do
	f=$(find "$KDIR" -name "$m.ko" | head -n 1)
	[ -n "$f" ] || die "module $m.ko not in $KPKG (compressed or built in?)"
	deps=$(grep -a -o 'depends=[a-z0-9_,-]*' "$f" | head -n 1 | sed 's/^depends=//; s/,/ /g')
	for d in $deps; do
		case "$loaded" in *" $d "*) ;; *) die "module $m needs $d loaded before it" ;; esac
	done
	cp "$f" "$R/lib/modules/$m.ko"
	echo "$m" >>"$R/etc/modules"
	loaded="$loaded$m "
done

# dropbear and the closure of its libraries' NEEDED entries, each found
# in the downloaded packages. They live in /usr/lib/dropbear, off the
# default search path, and dropbear runs with LD_LIBRARY_PATH: the static
# busybox dlopens NSS modules from the default path for name lookups, and
# a shared libc found there crashes it (wget segfaults).
cp "$X/dropbear-bin/usr/sbin/dropbear" "$R/usr/sbin/dropbear"
cp "$X/dropbear-bin/usr/bin/dropbearkey" "$R/usr/bin/dropbearkey"
find_lib() {
	for p in $LIBPKGS; do
		for d in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu lib64; do
			[ -e "$X/$p/$d/$1" ] && { echo "$X/$p/$d/$1"; return 0; }
		done
	done
	return 1
}
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }
todo="$R/usr/sbin/dropbear $R/usr/bin/dropbearkey"
done_libs=" "
while [ -n "$todo" ]; do
	set -- $todo
	cur=$1
	shift
	todo="$*"
	for n in $(needed "$cur"); do
		case "$done_libs" in *" $n "*) continue ;; esac
		src=$(find_lib "$n") || die "library $n (needed by ${cur##*/}) is in none of: $LIBPKGS"
		cp -L "$src" "$R/usr/lib/dropbear/$n"
		done_libs="$done_libs$n "
		todo="$todo $R/usr/lib/dropbear/$n"
	done
done
interp=$(readelf -l "$R/usr/sbin/dropbear" | sed -n 's/.*Requesting program interpreter: \(.*\)\]$/\1/p')
[ "$interp" = /lib64/ld-linux-x86-64.so.2 ] || die "unexpected interpreter $interp"
src=$(find_lib ld-linux-x86-64.so.2) || die "no dynamic loader in libc6"
cp -L "$src" "$R/lib64/ld-linux-x86-64.so.2"

# ---------------------------------------------------------------- /etc
cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
# '*' (not '!'): no password login, but not "locked" for dropbear's keys.
cat >"$R/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
EOF
chmod 600 "$R/etc/shadow"
echo "root:x:0:" >"$R/etc/group"
echo /bin/sh >"$R/etc/shells"
echo "passwd: files
group: files
shadow: files
hosts: files dns" >"$R/etc/nsswitch.conf"
echo "127.0.0.1 localhost" >"$R/etc/hosts"
echo guest >"$R/etc/hostname"
: >"$R/etc/resolv.conf"
cat >"$R/etc/profile" <<'EOF'
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
EOF
# Tempest runs some commands under sudo; the guest has only root.
cat >"$R/usr/bin/sudo" <<'EOF'
#!/bin/sh
while [ $# -gt 0 ]; do
	case "$1" in -*) shift ;; *) break ;; esac
done
exec "$@"
EOF

# `lsblk -lb --nodeps` as util-linux prints it, from /sys/block: tempest
# finds the TYPE column in the header and counts rows with "disk" there.
cat >"$R/usr/bin/lsblk" <<'EOF'
#!/bin/sh
# Supports only what tempest runs: `lsblk -lb --nodeps` (list, bytes, no
# partitions). RAM disks are left out, as lsblk does by default.
fmt='%-5s %7s %2s %12s %2s %-4s %s\n'
printf "$fmt" NAME MAJ:MIN RM SIZE RO TYPE MOUNTPOINTS
for d in /sys/block/*; do
	[ -e "$d/dev" ] || continue
	n=${d##*/}
	case "$n" in ram*) continue ;; esac
	t=disk
	case "$n" in loop*) t=loop ;; esac
	[ "$(cat "$d/device/type" 2>/dev/null)" = 5 ] && t=rom
	mp=$(awk -v dev="/dev/$n" '$1 == dev { print $2; exit }' /proc/mounts)
	printf "$fmt" "$n" "$(cat "$d/dev")" "$(cat "$d/removable")" \
		"$(($(cat "$d/size") * 512))" "$(cat "$d/ro")" "$t" "$mp"
done
EOF

cat >"$R/etc/udhcpc.sh" <<'EOF'
#!/bin/sh
# udhcpc's event script: address, MTU (26), classless routes (121, which
# replace the router option as RFC 3442 says), router, DNS.
event=$1
case "$event" in
deconfig)
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound|renew)
	[ -n "${mtu:-}" ] && ip link set dev "$interface" mtu "$mtu"
	if [ "$event" = bound ]; then
		ip addr flush dev "$interface"
	fi
	ip addr replace "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
	if [ -n "${staticroutes:-}" ]; then
		set -- $staticroutes
		while [ $# -ge 2 ]; do
			if [ "$2" = 0.0.0.0 ]; then
				ip route replace "$1" dev "$interface"
			else
				ip route replace "$1" via "$2" dev "$interface"
			fi
			shift 2
		done
	elif [ -n "${router:-}" ]; then
		for r in $router; do
			ip route replace default via "$r" dev "$interface"
			break
		done
	fi
	: >/etc/resolv.conf
	[ -n "${domain:-}" ] && echo "search $domain" >>/etc/resolv.conf
	for s in ${dns:-}; do
		echo "nameserver $s" >>/etc/resolv.conf
	done
	if [ "$event" = bound ]; then
		echo "OXISTACK-GUEST: dhcp $ip" >/dev/console
		echo "$ip" >/run/dhcp-ip
	fi
	;;
esac
exit 0
EOF

cat >"$R/init" <<'EOF'
#!/bin/sh
# The test guest's init (PID 1); see crates/testkit/README.md.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t devtmpfs dev /dev 2>/dev/null
# The initramfs has no /dev/console node, so the kernel gave us no stdio.
exec 0</dev/console 1>/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mark() { echo "OXISTACK-GUEST: $*"; }

hostname guest
for m in $(cat /etc/modules); do
	insmod "/lib/modules/$m.ko" || echo "init: insmod $m failed"
done

# ---- network: eth0 by DHCP (udhcpc stays in the background to renew)
ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 10 ]; do
	sleep 0.2
	i=$((i + 1))
done
if [ -e /sys/class/net/eth0 ]; then
	ip link set eth0 up
	udhcpc -i eth0 -s /etc/udhcpc.sh -O mtu -O staticroutes -t 20 -T 1 -A 3 -b \
		-p /run/udhcpc.pid -x hostname:guest
else
	echo "init: no eth0"
fi

# ---- metadata: the config drive, else the metadata service
MD=/run/meta
mkdir -p $MD
source=""
find_config_drive() {
	dev=$(findfs LABEL=config-2 2>/dev/null)
	if [ -z "$dev" ]; then
		# findfs (busybox's blkid is not built) may not have seen it:
		# try the usual places.
		for d in /dev/sr0 /dev/vdb /dev/vdc /dev/vdd; do
			[ -b "$d" ] || continue
			if mount -t iso9660 -o ro "$d" /mnt/config 2>/dev/null; then
				if [ -f /mnt/config/openstack/latest/meta_data.json ]; then
					umount /mnt/config
					dev=$d
					break
				fi
				umount /mnt/config
			fi
		done
	fi
	[ -n "$dev" ] || return 1
	mount -o ro "$dev" /mnt/config 2>/dev/null ||
		mount -t iso9660 -o ro "$dev" /mnt/config 2>/dev/null || return 1
	ok=1
	if [ -f /mnt/config/openstack/latest/meta_data.json ]; then
		cp /mnt/config/openstack/latest/meta_data.json $MD/meta_data.json
		[ -f /mnt/config/openstack/latest/user_data ] &&
			cp /mnt/config/openstack/latest/user_data $MD/user_data
		ok=0
	fi
	umount /mnt/config
	return $ok
}
# Block devices (sr0 above all) are probed asynchronously: a few tries.
i=0
while [ $i -lt 15 ]; do
	if find_config_drive; then
		source=config-drive
		break
	fi
	i=$((i + 1))
	sleep 0.2
done
if [ -z "$source" ] && [ -e /sys/class/net/eth0 ]; then
	base=http://169.254.169.254/openstack/latest
	i=0
	while [ $i -lt 30 ]; do
		if timeout 5 wget -q -O $MD/meta_data.json $base/meta_data.json 2>/dev/null; then
			source=metadata-service
			timeout 5 wget -q -O $MD/user_data $base/user_data 2>/dev/null || rm -f $MD/user_data
			break
		fi
		rm -f $MD/meta_data.json
		i=$((i + 1))
		sleep 1
	done
fi

# (busybox 1.35 static wget segfaults with -T: timeout(1) bounds it.)
# JSON by sed/awk: Nova's meta_data.json is one line; strings must hold
# no escaped quote, public key values no '}'.
jstr() {
	sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p" $MD/meta_data.json | head -n 1
}
uuid=""
name=""
if [ -n "$source" ]; then
	mark "metadata $source"
	uuid=$(jstr uuid)
	name=$(jstr hostname)
	[ -n "$name" ] || name=$(jstr name)
	mkdir -p /root/.ssh
	chmod 700 /root /root/.ssh
	sed -n 's/.*"public_keys" *: *{\([^}]*\)}.*/\1/p' $MD/meta_data.json |
		awk '{
			s = $0
			while (match(s, /"[^"]*" *: *"[^"]*"/)) {
				kv = substr(s, RSTART, RLENGTH)
				s = substr(s, RSTART + RLENGTH)
				sub(/^"[^"]*" *: *"/, "", kv)
				sub(/"$/, "", kv)
				gsub(/\\n/, "\n", kv)
				gsub(/\\\//, "/", kv)
				sub(/\n+$/, "", kv)
				print kv
			}
		}' >/root/.ssh/authorized_keys
	chmod 600 /root/.ssh/authorized_keys
else
	mark "metadata none"
fi
if [ -n "$name" ]; then
	# A hostname is one label; Nova's may be an FQDN.
	hostname "${name%%.*}"
	echo "${name%%.*}" >/etc/hostname
	echo "127.0.1.1 $name ${name%%.*}" >>/etc/hosts
fi
mark "hostname $(hostname)"

# ---- services: dropbear (key made now) and the HTTP answer
printf '%s\n%s\n' "$uuid" "$(hostname)" >/www/index.html
httpd -p 80 -h /www
# Sessions get a clean environment (dropbear clears it without -e).
export LD_LIBRARY_PATH=/usr/lib/dropbear
dropbearkey -t ed25519 -f /etc/dropbear/dropbear_ed25519_host_key >/dev/null 2>&1
dropbear -r /etc/dropbear/dropbear_ed25519_host_key -p 22 -s -E 2>/run/dropbear.log
unset LD_LIBRARY_PATH

# ---- user data, when it is a script
if [ -f $MD/user_data ] && [ "$(head -c 2 $MD/user_data)" = "#!" ]; then
	chmod 700 $MD/user_data
	$MD/user_data
	echo "init: user data exited $?"
	mark "user-data ran"
fi
mark ready

# Reap orphans and keep PID 1 alive; a shell on the console for debugging.
while true; do
	setsid -c sh -l </dev/ttyS0 >/dev/ttyS0 2>&1 || sleep 5
done
EOF
chmod 755 "$R/init" "$R/etc/udhcpc.sh" "$R/usr/bin/lsblk" "$R/usr/bin/sudo"

# ---------------------------------------------------------------- images
(cd "$R" && find . | sort | "$BB" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9 -n >"$WORK/initrd.img"
cp "$X/$KPKG/boot/vmlinuz-$KVER" "$WORK/vmlinuz"

# disk: 64 MiB, one FAT partition from 1 MiB, SYSLINUX installed by its
# mtools-based installer (no loop mount, no root needed).
SECTORS=131072
START=2048
PSECT=$((SECTORS - START))
RAW=$WORK/disk.raw
dd if=/dev/zero of="$RAW" bs=512 count=0 seek=$SECTORS 2>/dev/null
MBR="$X/syslinux-common/usr/lib/syslinux/mbr/mbr.bin"
[ -f "$MBR" ] || die "no mbr.bin in syslinux-common"
dd if="$MBR" of="$RAW" bs=440 count=1 conv=notrunc 2>/dev/null
le32() {
	printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $((($1 >> 8) & 255)))"
	printf "\\$(printf %03o $((($1 >> 16) & 255)))\\$(printf %03o $((($1 >> 24) & 255)))"
}
# Entry 1: active, CHS fields saturated (LBA is what counts), type 0x0e
# (FAT16 LBA); then the boot signature.
{
	printf '\200\376\377\377\016\376\377\377'
	le32 $START
	le32 $PSECT
} | dd of="$RAW" bs=1 seek=446 conv=notrunc 2>/dev/null
printf '\125\252' | dd of="$RAW" bs=1 seek=510 conv=notrunc 2>/dev/null
IMG="$RAW@@$((START * 512))"
export MTOOLS_SKIP_CHECK=1
mformat -i "$IMG" -T $PSECT -h 64 -s 32 -H $START -v OXIGUEST ::
cat >"$WORK/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT guest
PROMPT 0
TIMEOUT 0
LABEL guest
	LINUX /vmlinuz
	INITRD /initrd.img
	APPEND console=ttyS0 quiet
EOF
mcopy -i "$IMG" "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/syslinux.cfg" ::/
"$X/syslinux/usr/bin/syslinux" --offset $((START * 512)) --install "$RAW"
"$QEMU_IMG" convert -f raw -O qcow2 "$RAW" "$WORK/disk.qcow2"

# ---------------------------------------------------------------- manifest
{
	echo "{"
	echo "  \"kernel_version\": \"$KVER\","
	echo "  \"cmdline\": \"console=ttyS0 quiet\","
	echo "  \"packages\": {"
	sep=""
	for pv in $VERSIONS; do
		printf '%s    "%s": "%s"' "$sep" "${pv%%=*}" "${pv#*=}"
		sep=",
"
	done
	echo
	echo "  },"
	echo "  \"files\": {"
	sep=""
	for f in vmlinuz initrd.img disk.qcow2; do
		printf '%s    "%s": {"size": %s, "sha256": "%s"}' "$sep" "$f" \
			"$(wc -c <"$WORK/$f" | tr -d ' ')" "$(sha256sum "$WORK/$f" | cut -d' ' -f1)"
		sep=",
"
	done
	echo
	echo "  }"
	echo "}"
} >"$WORK/manifest.json"

rm -f "$OUT/.stamp"
for f in vmlinuz initrd.img disk.qcow2 manifest.json; do
	mv "$WORK/$f" "$OUT/$f"
done
echo "$STAMP" >"$OUT/.stamp"
log "built $OUT ($(wc -c <"$OUT/initrd.img" | tr -d ' ') bytes of initrd)"
