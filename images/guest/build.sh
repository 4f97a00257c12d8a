#!/usr/bin/env bash
# Builds the kcube guest image (for the qemu driver) from Debian packages only, into OUT_DIR:
#
#   base/vmlinuz      the Debian cloud kernel (from linux-image-cloud-amd64's .deb)
#   base/initrd.img   the boot initramfs: busybox + the virtio modules that mount the root disk
#   base/rootfs.raw   ext4 root file system: a minimal bookworm (mmdebstrap) with containerd, runc,
#                     CNI plugins, nftables, iptables, iproute2, dropbear, the kernel's modules
#                     and the libraries kcube needs; /sbin/kcube-init is PID 1
#   base/cmdline      the kernel command line to boot it with
#   base/manifest     kernel and package versions, the recipe key
#   kcube.img         ext4 disk with /kcube (debug info stripped) and /images/*.tar, mounted
#                     read-only at /opt/kcube in the guest
#
# Usage: build.sh OUT_DIR [--kcube PATH] [--images DIR] [--rebuild-base]
#   --kcube PATH     the kcube binary to put in the guest (its libraries decide part of base/)
#   --images DIR     image tarballs for the node (default: images/ next to the kcube binary)
#   --rebuild-base   rebuild base/ even when its recipe is unchanged (e.g. to take a new kernel)
#
# base/ is rebuilt only when its recipe changes (this script, the init scripts, the package and
# module lists, or the Debian packages of kcube's libraries); replacing only the kcube binary
# rewrites kcube.img alone, in about a second. Outputs are written next to their final name and
# renamed into place, so a VM that has the old files open keeps them. The same inputs (package
# versions included) give byte-identical files: fixed SOURCE_DATE_EPOCH, fixed UUIDs and hash
# seeds, sorted archives. Needs root (mmdebstrap --mode=root, file ownership in the images),
# mmdebstrap, apt-get, dpkg, e2fsprogs (mkfs.ext4), cpio, gzip, kmod (depmod, modprobe).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
started=$SECONDS
progress() { echo "guest [$((SECONDS - started))s]: $*" >&2; }
die() {
    echo "guest: error: $*" >&2
    exit 1
}

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; }

out=""
kcube=""
images=""
rebuild_base=""
while [ $# -gt 0 ]; do
    case "$1" in
        --kcube) kcube="${2:?--kcube needs a path}"; shift 2 ;;
        --kcube=*) kcube="${1#--kcube=}"; shift ;;
        --images) images="${2:?--images needs a directory}"; shift 2 ;;
        --images=*) images="${1#--images=}"; shift ;;
        --rebuild-base) rebuild_base=1; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) usage; die "unknown option $1" ;;
        *) [ -z "$out" ] || die "one OUT_DIR only"; out="$1"; shift ;;
    esac
done
[ -n "$out" ] || { usage; die "OUT_DIR is required"; }

export PATH="$PATH:/usr/sbin:/sbin"
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap --mode=root and root-owned files in the images)"
for tool in mmdebstrap apt-get apt-cache dpkg dpkg-deb mkfs.ext4 debugfs cpio gzip depmod modprobe \
    sha256sum ldd; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install mmdebstrap e2fsprogs cpio kmod)"
done
merged_usr_hook=/usr/share/mmdebstrap/hooks/merged-usr
[ -d "$merged_usr_hook" ] || die "$merged_usr_hook is missing (mmdebstrap >= 1.1)"

# Reproducibility: every timestamp in the outputs is this one; LC_ALL=C sorts bytewise.
export SOURCE_DATE_EPOCH=1700000000
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
export LC_ALL=C TZ=UTC
umask 022
suite=bookworm
mirror="${KCUBE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${KCUBE_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
sources=("deb $mirror $suite main" "deb $mirror $suite-updates main"
    "deb $security_mirror $suite-security main")
# Fixed file system identities (random by default in mke2fs).
root_uuid=6b637562-6500-4000-8000-000000000001
kcube_uuid=6b637562-6500-4000-8000-000000000002
kernel_cmdline="console=ttyS0 quiet loglevel=4 panic=-1 cryptomgr.notests tsc=reliable no_timer_check 8250.nr_uarts=1 i8042.noaux"
root_size=2G

mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$out/work"
mkdir -p "$work"
exec 9>"$out/.lock"
flock -n 9 || { progress "waiting for another build in $out"; flock 9; }

# Lines of a list file without comments and blank lines.
list() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$1"; }

# --- the Debian packages of kcube's shared libraries --------------------------------------------
# dpkg knows the paths packages ship (/lib/... or /usr/lib/...), which on a merged-/usr host may
# differ from the path ldd prints, so each library is looked up under both prefixes, as printed
# and with its symlinks resolved, in one dpkg -S call.
kcube_lib_packages() {
    local binary=$1 libs lib real candidates=() line pkg path
    local missing
    missing="$(ldd "$binary" 2>&1 | grep 'not found' || true)"
    [ -z "$missing" ] || die "$binary needs libraries this host lacks: $missing"
    libs="$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')"
    for lib in $libs; do
        real="$(readlink -f "$lib")"
        for path in "$lib" "$real"; do
            path="/${path#/usr/}"
            candidates+=("$path" "/usr$path")
        done
    done
    declare -A owner=()
    while IFS= read -r line; do
        case "$line" in diversion* | *"no path found"*) continue ;; esac
        pkg="${line%%: /*}"
        path="/${line#*: /}"
        pkg="${pkg%%,*}"
        owner["$path"]="${pkg%%:*}"
    done < <(dpkg -S "${candidates[@]}" 2>/dev/null || true)
    for lib in $libs; do
        real="$(readlink -f "$lib")"
        pkg=""
        for path in "$lib" "$real"; do
            path="/${path#/usr/}"
            pkg="${owner[$path]:-${owner[/usr$path]:-}}"
            [ -z "$pkg" ] || break
        done
        [ -n "$pkg" ] || die "no Debian package ships $lib (kcube needs it; the guest cannot provide it)"
        echo "$pkg"
    done | sort -u
}

# mkfs.ext4 -d copies each file's ctime and atime from the staging directory, which no one can
# set to a fixed value (ctime is always "now"); this resets both to SOURCE_DATE_EPOCH for every
# inode, in one debugfs run, so that the same files give the same image.
fix_ext4_times() {
    local image=$1 stage=$2 path
    {
        printf 'sif / ctime @%s\nsif / atime @%s\n' "$SOURCE_DATE_EPOCH" "$SOURCE_DATE_EPOCH"
        (cd "$stage" && find . -mindepth 1 -print0 | sort -z) | while IFS= read -r -d '' path; do
            case "$path" in *'"'* | *$'\n'*) die "cannot stage a path with a quote or newline: $path" ;; esac
            path="${path#.}"
            printf 'sif "%s" ctime @%s\nsif "%s" atime @%s\n' \
                "$path" "$SOURCE_DATE_EPOCH" "$path" "$SOURCE_DATE_EPOCH"
        done
    } >"$image.times"
    debugfs -w -f "$image.times" "$image" >/dev/null 2>"$image.times.log" ||
        { cat "$image.times.log" >&2; die "debugfs could not fix the times in $image"; }
    ! grep -v '^debugfs ' "$image.times.log" | grep -q . ||
        { head "$image.times.log" >&2; die "debugfs could not fix the times in $image"; }
    rm -f "$image.times" "$image.times.log"
}

lib_packages=""
if [ -n "$kcube" ]; then
    [ -x "$kcube" ] || die "$kcube is not an executable"
    kcube="$(readlink -f "$kcube")"
    [ -n "$images" ] || images="$(dirname "$kcube")/images"
    [ -d "$images" ] || die "$images (the node's image tarballs) is missing; pass --images DIR"
    progress "mapping kcube's libraries to Debian packages"
    lib_packages="$(kcube_lib_packages "$kcube")"
elif [ -f "$out/base/lib-packages" ]; then
    lib_packages="$(cat "$out/base/lib-packages")"
fi
packages="$( (list "$here/packages"; echo "$lib_packages") | sed '/^$/d' | sort -u)"

# --- base/ ----------------------------------------------------------------------------------
recipe_key="$( {
    echo "suite=$suite epoch=$SOURCE_DATE_EPOCH root=$root_size"
    printf '%s\n' "${sources[@]}"
    echo "$packages"
    echo "$kernel_cmdline"
    cat "$here/build.sh" "$here/init" "$here/initramfs-init" "$here/modules"
} | sha256sum | cut -c1-16)"

build_base() {
    local base_new="$out/base.new"
    rm -rf "$base_new"
    mkdir -p "$base_new"

    # The kernel: the package linux-image-cloud-amd64 points at, unpacked (never installed).
    progress "kernel: downloading linux-image-cloud-amd64"
    local debs="$work/debs"
    rm -rf "$debs"
    mkdir -p "$debs"
    chmod 0777 "$debs" # apt-get download drops to the _apt user when it can write here
    (cd "$debs" && apt-get download -q linux-image-cloud-amd64 2>&1 | grep -v '^W:' >&2) ||
        die "apt-get download linux-image-cloud-amd64 failed (apt-get update?)"
    local kernel_pkg
    kernel_pkg="$(dpkg-deb -f "$debs"/linux-image-cloud-amd64_*.deb Depends |
        tr ',' '\n' | sed -n 's/^ *\(linux-image-[^ ]*\).*/\1/p' | head -n1)"
    [ -n "$kernel_pkg" ] || die "cannot tell which kernel linux-image-cloud-amd64 depends on"
    (cd "$debs" && apt-get download -q "$kernel_pkg" 2>&1 | grep -v '^W:' >&2) ||
        die "apt-get download $kernel_pkg failed"
    local kernel="$work/kernel"
    rm -rf "$kernel"
    dpkg-deb -x "$debs/${kernel_pkg}"_*.deb "$kernel"
    local kver
    kver="$(ls "$kernel/lib/modules")"
    [ "$(echo "$kver" | wc -l)" = 1 ] || die "expected one module tree in $kernel_pkg, found: $kver"
    depmod -b "$kernel" "$kver"
    cp "$kernel/boot/vmlinuz-$kver" "$base_new/vmlinuz"

    # The root file system: a cached mmdebstrap tree, remade when the package list changes.
    local debian="$work/debian"
    local debian_key
    debian_key="$(printf '%s\n' "$suite" "$SOURCE_DATE_EPOCH" "${sources[@]}" "$packages" |
        sha256sum | cut -c1-16)"
    if [ "$(cat "$debian.key" 2>/dev/null)" != "$debian_key" ] || [ -n "$rebuild_base" ]; then
        progress "rootfs: mmdebstrap $suite ($(echo "$packages" | wc -l) packages; about a minute)"
        rm -rf "$debian" "$debian.key"
        mmdebstrap --mode=root --variant=essential --hook-dir="$merged_usr_hook" \
            --include="$(echo "$packages" | paste -sd, -)" \
            --dpkgopt='path-exclude=/usr/share/man/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' \
            --dpkgopt='path-exclude=/usr/share/info/*' \
            --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-include=/usr/share/doc/*/copyright' \
            --aptopt='Acquire::Retries "3"' \
            "$suite" "$debian" "${sources[@]}" 2>"$work/mmdebstrap.log" ||
            { tail -n 20 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $work/mmdebstrap.log)"; }
        echo "$debian_key" >"$debian.key"
    else
        progress "rootfs: reusing the cached mmdebstrap tree"
    fi

    progress "rootfs: staging (modules for $kver, init, configuration)"
    local stage="$work/stage"
    rm -rf "$stage"
    cp -a "$debian" "$stage"
    mkdir -p "$stage/usr/lib/modules"
    cp -a "$kernel/lib/modules/$kver" "$stage/usr/lib/modules/$kver"
    install -m 0755 "$here/init" "$stage/sbin/kcube-init"
    mkdir -p "$stage/etc/kcube" "$stage/opt/kcube" "$stage/var/lib/kcube" "$stage/root/.ssh" \
        "$stage/usr/local/bin" "$stage/sys/fs/bpf"
    list "$here/modules" >"$stage/etc/kcube/modules"
    chmod 0700 "$stage/root/.ssh"
    ln -sfn /opt/kcube/kcube "$stage/usr/local/bin/kcube"
    # busybox applets for the commands the minimal system lacks (ps, free, vi, ping, poweroff:
    # busybox's poweroff/reboot signal PID 1, which kcube-init handles).
    local applet
    for applet in $("$stage/usr/bin/busybox" --list); do
        case "$applet" in init | linuxrc | busybox) continue ;; esac
        [ -e "$stage/usr/bin/$applet" ] || [ -e "$stage/usr/sbin/$applet" ] ||
            ln -s ../../bin/busybox "$stage/usr/local/bin/$applet"
    done
    rm -f "$stage/etc/resolv.conf" "$stage/etc/hostname" "$stage/etc/hosts"
    ln -s /run/resolv.conf "$stage/etc/resolv.conf"
    echo kcube >"$stage/etc/hostname"
    : >"$stage/etc/machine-id"
    printf 'kcube guest (Debian %s) - root is on a copy-on-write disk; the node lives in /var/lib/kcube\n' \
        "$(cat "$stage/etc/debian_version")" >"$stage/etc/motd"
    printf '%s\n' "$lib_packages" | sed '/^$/d' >"$base_new/lib-packages"
    find "$stage" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"

    progress "rootfs: mkfs.ext4 -d ($(du -sm "$stage" | cut -f1) MiB of files, $root_size disk)"
    mkfs.ext4 -q -F -t ext4 -L kcube-root -U "$root_uuid" -m 0 -b 4096 \
        -E "hash_seed=$root_uuid,lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0" \
        -d "$stage" "$base_new/rootfs.raw" "$root_size" >/dev/null
    fix_ext4_times "$base_new/rootfs.raw" "$stage"

    # The boot initramfs: busybox and the modules (with their dependencies) that reach the root
    # disk; ext4 and crc32c are built into the cloud kernel.
    progress "initramfs: busybox + virtio_pci + virtio_blk"
    local initramfs="$work/initramfs"
    rm -rf "$initramfs"
    mkdir -p "$initramfs"/{bin,dev,proc,sys,newroot,modules}
    cp "$stage/usr/bin/busybox" "$initramfs/bin/busybox"
    ln -s busybox "$initramfs/bin/sh"
    mknod -m 0600 "$initramfs/dev/console" c 5 1
    install -m 0755 "$here/initramfs-init" "$initramfs/init"
    local module
    for module in virtio_pci virtio_blk; do
        modprobe -d "$kernel" -S "$kver" --show-depends "$module"
    done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' | while read -r module; do
        cp "$module" "$initramfs/modules/"
        basename "$module" >>"$initramfs/modules/order"
    done
    find "$initramfs" -print0 | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"
    (cd "$initramfs" && find . -print0 | sort -z |
        cpio --null --create --format=newc --reproducible --owner=0:0 --quiet) |
        gzip -n -9 >"$base_new/initrd.img"

    echo "$kernel_cmdline" >"$base_new/cmdline"
    {
        echo "recipe-key $recipe_key"
        echo "kernel $kernel_pkg $kver"
        echo "initramfs-modules $(paste -sd' ' "$initramfs/modules/order")"
        echo "packages:"
        chroot "$stage" dpkg-query -W -f '  ${Package} ${Version}\n'
    } >"$base_new/manifest"
    echo "$recipe_key" >"$base_new/key"
    # The mmdebstrap tree stays (the next base build and the library check use it).
    rm -rf "$stage" "$initramfs" "$kernel" "$debs"
    rm -rf "$out/base.old"
    [ ! -d "$out/base" ] || mv "$out/base" "$out/base.old"
    mv "$base_new" "$out/base"
    rm -rf "$out/base.old"
    progress "base ready: $(du -h --apparent-size "$out/base/rootfs.raw" | cut -f1) root disk" \
        "($(du -h "$out/base/rootfs.raw" | cut -f1) used), $(du -h "$out/base/initrd.img" | cut -f1) initramfs"
}

if [ -n "$rebuild_base" ] || [ "$(cat "$out/base/key" 2>/dev/null)" != "$recipe_key" ]; then
    if [ -f "$out/base/key" ] && [ -z "$rebuild_base" ]; then
        progress "base: recipe changed, rebuilding"
    fi
    build_base
else
    progress "base: up to date (key $recipe_key)"
fi

# --- kcube.img: the fast part -------------------------------------------------------------------
if [ -n "$kcube" ]; then
    # Every library kcube needs must resolve inside the guest's root file system.
    debian="$work/debian"
    if [ -d "$debian" ]; then
        unresolved="$("$debian/usr/lib64/ld-linux-x86-64.so.2" --inhibit-cache \
            --library-path "$debian/usr/lib/x86_64-linux-gnu:$debian/usr/lib" --list "$kcube" |
            grep 'not found' || true)"
        [ -z "$unresolved" ] || die "the guest root file system lacks libraries kcube needs: $unresolved"
    fi
    progress "kcube.img: $kcube + $(ls "$images"/*.tar 2>/dev/null | wc -l) image tarballs"
    kstage="$work/kcube-stage"
    rm -rf "$kstage"
    mkdir -p "$kstage/images"
    if command -v strip >/dev/null; then
        strip --strip-debug -o "$kstage/kcube" "$kcube"
    else
        cp "$kcube" "$kstage/kcube"
    fi
    chmod 0755 "$kstage/kcube"
    for tarball in "$images"/*.tar; do
        [ -e "$tarball" ] || continue
        cp "$tarball" "$kstage/images/"
    done
    (cd "$kstage" && sha256sum kcube >kcube.sha256)
    find "$kstage" -print0 | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"
    # The node re-imports an image tarball when its size or mtime changes, and tarballs keep
    # their size across many changes (512-byte records): each one gets an mtime derived from
    # its content, still reproducible.
    for tarball in "$kstage"/images/*.tar; do
        [ -e "$tarball" ] || continue
        touch -d "@$((SOURCE_DATE_EPOCH - 16#$(sha256sum <"$tarball" | cut -c1-6)))" "$tarball"
    done
    # Room for the files plus ext4's overhead (inodes, journal), rounded to MiB.
    size_mib=$(($(du -sm "$kstage" | cut -f1) * 11 / 10 + 8))
    rm -f "$out/kcube.img.new"
    mkfs.ext4 -q -F -t ext4 -L kcube-bin -U "$kcube_uuid" -m 0 -b 4096 -O ^has_journal \
        -E "hash_seed=$kcube_uuid,root_owner=0:0" \
        -d "$kstage" "$out/kcube.img.new" "${size_mib}M" >/dev/null
    fix_ext4_times "$out/kcube.img.new" "$kstage"
    mv "$out/kcube.img.new" "$out/kcube.img"
    rm -rf "$kstage"
    progress "kcube.img ready (${size_mib} MiB)"
fi
progress "done: $out"
