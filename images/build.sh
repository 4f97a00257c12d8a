#!/usr/bin/env bash
# Builds the node's OCI images from Debian packages only (no registry), as image layout
# tarballs in OUT_DIR (default build/images):
#   pause.tar    localhost/kcube/pause:3.10   the pod sandbox (images/pause/pause.c, static)
#   busybox.tar  localhost/kcube/busybox:1.35 the test image: busybox-static with its applets
#                                             (sh, httpd, nc, sleep, wget, ...) and /index.html
# Reproducible: the same inputs give byte-identical tarballs. Needs gcc, dpkg-deb, python3,
# apt-get (to download busybox-static; no root needed for that).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../build/images}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

arch="$(dpkg --print-architecture)"

echo "images: pause" >&2
mkdir -p "$work/pause"
gcc -static -Os -s -Wall -Wextra -Werror -o "$work/pause/pause" "$here/pause/pause.c"
python3 "$here/oci_image.py" --rootfs "$work/pause" --name localhost/kcube/pause:3.10 \
  --entrypoint /pause --arch "$arch" "$out/pause.tar"

echo "images: busybox (from the busybox-static package)" >&2
deb="$(ls /var/cache/apt/archives/busybox-static_*.deb 2>/dev/null | head -n1 || true)"
if [ -z "$deb" ]; then
  (cd "$work" && apt-get download -q busybox-static >&2)
  deb="$(ls "$work"/busybox-static_*.deb | head -n1)"
fi
dpkg-deb -x "$deb" "$work/deb"
root="$work/busybox"
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/var/www"
cp "$work/deb/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
  > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
printf 'kcube test image\n' > "$root/index.html"
python3 "$here/oci_image.py" --rootfs "$root" --name localhost/kcube/busybox:1.35 \
  --cmd sh --arch "$arch" "$out/busybox.tar"
ls -l "$out"/*.tar >&2
