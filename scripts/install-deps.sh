#!/usr/bin/env bash
# Installs, with apt, exactly the Debian/Ubuntu packages kcube needs that are missing, and says
# which. Safe to run again: it installs nothing when everything is present.
#   scripts/install-deps.sh          build + test + run-time packages
set -euo pipefail

build_packages=(
  cmake ninja-build g++ pkg-config ccache git clang-format
  libcli11-dev libyaml-cpp-dev libspdlog-dev libarchive-dev doctest-dev
  libssl-dev openssl libsqlite3-dev libvirt-dev libnftables-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
)
# Boost 1.81 on Debian bookworm; the unversioned names elsewhere (Ubuntu).
boost_versioned=(libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev)
boost_generic=(libboost-dev libboost-json-dev libboost-url-dev)
# dig and dnsperf: real resolver clients for the DNS tests and benchmark.
test_packages=(python3 python3-kubernetes bind9-dnsutils dnsperf)
# What the node runs pods with (the none driver on this host; the tests start it as root), and
# the Service network's tools (ip for the pod bridge, nft to inspect the proxy's rules).
runtime_packages=(containerd runc containernetworking-plugins iproute2 nftables)
# The qemu driver: QEMU itself and qemu-img (copy-on-write disks).
runtime_packages+=(qemu-system-x86 qemu-utils)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 5; }
  SUDO="sudo"
fi

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

updated=0
apt_update_once() {
  if [ "$updated" -eq 0 ]; then
    echo "install-deps: apt-get update" >&2
    $SUDO apt-get update -qq
    updated=1
  fi
}

wanted=("${build_packages[@]}" "${test_packages[@]}" "${runtime_packages[@]}")
if is_installed libboost1.81-dev || apt-cache show libboost1.81-dev >/dev/null 2>&1; then
  wanted+=("${boost_versioned[@]}")
else
  wanted+=("${boost_generic[@]}")
fi

missing=()
for package in "${wanted[@]}"; do
  is_installed "$package" || missing+=("$package")
done

# kubectl is the reference client for the tests. Any kubectl on the machine will do (this
# machine kind ships several under /usr/lib/google-cloud-sdk/bin); else Debian's.
if ! command -v kubectl >/dev/null && ! ls /usr/lib/google-cloud-sdk/bin/kubectl* >/dev/null 2>&1; then
  missing+=(kubernetes-client)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#wanted[@]} packages already installed" >&2
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
apt_update_once
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
echo "install-deps: done" >&2
