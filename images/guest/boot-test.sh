#!/usr/bin/env bash
# Boots the guest image that build.sh made in OUT_DIR under QEMU, the way the qemu driver will,
# and checks it end to end:
#   - a qcow2 overlay over base/rootfs.raw, kcube.img, a seed tar and a blank data disk;
#   - SSH answers on a forwarded port (dropbear, key from the seed) and runs `uname -a`;
#   - the node becomes ready: its "ready" line on the serial console, then GET /readyz through
#     the forwarded API port with the admin client certificate the node wrote;
#   - QMP system_powerdown makes the guest stop the node and QEMU exit within 30 s;
#   - with --twice, a second boot on the same disks keeps the node's data (no re-format).
# Prints timings from QEMU's start, QEMU's RSS and the guest's `free -m`.
#
# Usage: boot-test.sh OUT_DIR [--accel tcg|kvm] [--twice] [--keep] [--node-args ARGS]
#                     [--cpu MODEL] [--tb-size MIB] [--ssh CMD]
#   --keep        keep the run directory (logs, disks) after a successful run
#   --node-args   extra `kcube node run` arguments, through the seed's KCUBE_NODE_ARGS (e.g. -v)
#   --cpu MODEL   QEMU CPU model (default: max under TCG, host under KVM, as the qemu driver)
#   --tb-size MIB TCG translation cache size (QEMU's default is 1 GiB, most of QEMU's RSS)
#   --ssh CMD     also run CMD in the guest over SSH once the node is ready, and print its output
# Needs qemu-system-x86_64, qemu-img, python3 (QMP and free ports), curl, and ssh + ssh-keygen
# or dropbear's dbclient + dropbearkey.
set -euo pipefail

out=""
accel=tcg
twice=""
keep=""
node_args=""
cpu=""
tb_size=""
extra_cmd=""
while [ $# -gt 0 ]; do
    case "$1" in
        --accel) accel="${2:?}"; shift 2 ;;
        --accel=*) accel="${1#--accel=}"; shift ;;
        --twice) twice=1; shift ;;
        --keep) keep=1; shift ;;
        --node-args) node_args="${2?}"; shift 2 ;;
        --node-args=*) node_args="${1#--node-args=}"; shift ;;
        --cpu) cpu="${2:?}"; shift 2 ;;
        --tb-size) tb_size="${2:?}"; shift 2 ;;
        --ssh) extra_cmd="${2:?}"; shift 2 ;;
        -*) echo "boot-test: unknown option $1" >&2; exit 2 ;;
        *) out="$1"; shift ;;
    esac
done
[ -n "$out" ] || { echo "usage: boot-test.sh OUT_DIR [--accel tcg|kvm] [--twice] [--keep]" >&2; exit 2; }
out="$(cd "$out" && pwd)"
for file in base/vmlinuz base/initrd.img base/rootfs.raw base/cmdline kcube.img; do
    [ -f "$out/$file" ] || { echo "boot-test: $out/$file is missing (run build.sh)" >&2; exit 1; }
done

run="$(mktemp -d /var/tmp/kcube-boot-test.XXXXXX)"
qemu_pid=""
failed=1
cleanup() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        sleep 1
        kill -9 "$qemu_pid" 2>/dev/null || true
    fi
    if [ -n "$failed" ]; then
        echo "boot-test: FAILED; serial log and disks kept in $run; the end of the serial log:" >&2
        tail -n 30 "$run/serial.log" 2>/dev/null >&2 || true
    elif [ -z "$keep" ]; then
        rm -rf "$run"
    else
        echo "boot-test: kept $run" >&2
    fi
}
trap cleanup EXIT

say() { echo "boot-test: $*" >&2; }
fail() {
    say "FAIL: $*"
    exit 1
}
now_ms() { date +%s%3N; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# QMP: the greeting, qmp_capabilities, then one command.
qmp() {
    python3 - "$run/qmp.sock" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())
for command in ("qmp_capabilities", sys.argv[2]):
    f.write(json.dumps({"execute": command}) + "\n")
    f.flush()
    while True:
        reply = json.loads(f.readline())
        if "return" in reply or "error" in reply:
            break
    if "error" in reply:
        sys.exit(f"QMP {command}: {reply['error']}")
EOF
}

# --- the per-machine files ----------------------------------------------------------------------
ssh_port="$(free_port)"
api_port="$(free_port)"
while [ "$api_port" = "$ssh_port" ]; do api_port="$(free_port)"; done

if command -v ssh >/dev/null && command -v ssh-keygen >/dev/null; then
    ssh-keygen -q -t ed25519 -N '' -C kcube-boot-test -f "$run/id" >/dev/null
    cp "$run/id.pub" "$run/authorized_keys"
    guest_ssh() {
        ssh -q -i "$run/id" -p "$ssh_port" -o StrictHostKeyChecking=no \
            -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=10 \
            root@127.0.0.1 "$@"
    }
else
    dropbearkey -t ed25519 -f "$run/id" 2>/dev/null | grep '^ssh-' >"$run/authorized_keys"
    guest_ssh() { dbclient -q -y -y -i "$run/id" -p "$ssh_port" root@127.0.0.1 "$@"; }
fi

mkdir -p "$run/seed"
cp "$run/authorized_keys" "$run/seed/authorized_keys"
printf 'KCUBE_HOSTNAME=kcube-boot-test\nKCUBE_NODE_ARGS=%s\n' "$node_args" >"$run/seed/node.env"
tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name \
    -C "$run/seed" -cf "$run/seed.tar" .
qemu-img create -q -f qcow2 -F raw -b "$out/base/rootfs.raw" "$run/root.qcow2"
qemu-img create -q -f qcow2 "$run/data.qcow2" 20G

bios=()
[ ! -f /usr/share/qemu/qboot.rom ] || bios=(-bios /usr/share/qemu/qboot.rom)
[ -n "$cpu" ] || { [ "$accel" = tcg ] && cpu=max || cpu=host; }
accel_opts="$accel"
[ -z "$tb_size" ] || accel_opts="$accel,tb-size=$tb_size"

boot() {
    local label=$1
    rm -f "$run/serial.log" "$run/qmp.sock"
    say "$label: QEMU ($accel_opts, -cpu $cpu) with ssh on 127.0.0.1:$ssh_port, API on 127.0.0.1:$api_port"
    t0=$(now_ms)
    qemu-system-x86_64 -name kcube-boot-test -machine q35 -accel "$accel_opts" -cpu "$cpu" -smp 2 -m 2048 \
        "${bios[@]}" -kernel "$out/base/vmlinuz" -initrd "$out/base/initrd.img" \
        -append "$(cat "$out/base/cmdline")" \
        -drive "file=$run/root.qcow2,format=qcow2,if=virtio,cache=unsafe,index=0" \
        -drive "file=$out/kcube.img,format=raw,if=virtio,cache=unsafe,index=1,readonly=on" \
        -drive "file=$run/seed.tar,format=raw,if=virtio,cache=unsafe,index=2,readonly=on" \
        -drive "file=$run/data.qcow2,format=qcow2,if=virtio,cache=unsafe,index=3" \
        -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$ssh_port-:22,hostfwd=tcp:127.0.0.1:$api_port-:8443" \
        -device virtio-net-pci,netdev=net0,romfile= -device virtio-rng-pci \
        -no-reboot -nodefaults -display none -serial "file:$run/serial.log" \
        -qmp "unix:$run/qmp.sock,server=on,wait=off" >"$run/qemu.out" 2>&1 &
    qemu_pid=$!

    # QEMU's user networking accepts connections before the guest listens: wait for the banner.
    local deadline=$((t0 + 120000)) banner="" ready_ms="" ssh_ms=""
    while [ -z "$ssh_ms" ] || [ -z "$ready_ms" ]; do
        kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited: $(cat "$run/qemu.out")"
        [ "$(now_ms)" -lt "$deadline" ] || fail "no SSH banner and node ready line within 120 s"
        if [ -z "$ssh_ms" ]; then
            banner="$(timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ssh_port && head -c 4 <&3" 2>/dev/null || true)"
            [ "$banner" != "SSH-" ] || ssh_ms=$(($(now_ms) - t0))
        fi
        if [ -z "$ready_ms" ] && grep -q 'kcube node .* ready' "$run/serial.log" 2>/dev/null; then
            ready_ms=$(($(now_ms) - t0))
        fi
        sleep 0.05
    done
    say "$label: SSH banner after $((ssh_ms))ms, node ready line after $((ready_ms))ms"
    grep -E '^kcube-init: |kcube node .* ready' "$run/serial.log" | sed 's/^/    serial| /' >&2

    local uname
    uname="$(guest_ssh uname -a)" || fail "ssh uname -a failed"
    say "$label: ssh uname -a: $uname"

    # /readyz through the forwarded port with the node's own admin client certificate.
    mkdir -p "$run/pki"
    for file in ca.crt admin.crt admin.key; do
        guest_ssh cat "/var/lib/kcube/node/pki/$file" >"$run/pki/$file" || fail "cannot read $file"
    done
    local readyz
    readyz="$(curl -sS --max-time 10 --cacert "$run/pki/ca.crt" --cert "$run/pki/admin.crt" \
        --key "$run/pki/admin.key" "https://127.0.0.1:$api_port/readyz")" ||
        fail "GET /readyz through 127.0.0.1:$api_port failed"
    [ "$readyz" = ok ] || fail "/readyz answered: $readyz"
    say "$label: GET https://127.0.0.1:$api_port/readyz -> $readyz ($(($(now_ms) - t0))ms after start)"

    # Memory once the node is up and idle (no workloads).
    sleep 5
    say "$label: guest free -m:"
    guest_ssh free -m | sed 's/^/    /' >&2
    say "$label: guest processes (RSS KiB):"
    guest_ssh 'cd /proc && for pid in [0-9]*; do read -r name <$pid/comm && while read -r key value _; do [ "$key" = VmRSS: ] && echo "$value $name"; done <$pid/status; done 2>/dev/null | sort -rn | head -n 8' 2>&1 | sed 's/^/    /' >&2 || true
    say "$label: QEMU RSS: $(($(ps -o rss= -p "$qemu_pid") / 1024)) MiB"
    if [ -n "$extra_cmd" ]; then
        say "$label: ssh $extra_cmd:"
        guest_ssh "$extra_cmd" 2>&1 | sed 's/^/    /' >&2 || true
    fi
    guest_ssh "grep -c . /proc/modules | sed 's/^/modules loaded: /'; mount | grep -E ' /(var/lib/kcube|opt/kcube) '" |
        sed 's/^/    /' >&2

    # Graceful stop: ACPI power button -> kcube-init stops the node and powers off.
    local t1
    t1=$(now_ms)
    qmp system_powerdown
    while kill -0 "$qemu_pid" 2>/dev/null; do
        [ $(($(now_ms) - t1)) -lt 30000 ] || fail "QEMU still runs 30 s after system_powerdown"
        sleep 0.1
    done
    wait "$qemu_pid" || true
    qemu_pid=""
    grep -qE 'kcube-init: poweroff.?$' "$run/serial.log" || fail "the guest did not power off cleanly"
    grep -q 'kcube node: .* received, stopping' "$run/serial.log" ||
        fail "the node did not get its stop signal"
    say "$label: powered off $(($(now_ms) - t1))ms after system_powerdown"
    grep -E 'requested|stopping|poweroff' "$run/serial.log" | sed 's/^/    serial| /' >&2
}

boot "boot 1"
if [ -n "$twice" ]; then
    cp "$run/serial.log" "$run/serial-1.log"
    boot "boot 2"
    if grep -q 'formatting the blank data disk' "$run/serial.log"; then
        fail "the second boot formatted the data disk again"
    fi
fi
failed=""
say "PASS"
