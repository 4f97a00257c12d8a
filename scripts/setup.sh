#!/usr/bin/env bash
# The two set-up commands of README.md:
#   scripts/setup.sh start [kcube start flags]   install what is missing, build, start a cluster
#   scripts/setup.sh test                        install what is missing, build, run every test
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
shift || true
case "$mode" in
  start) preset=release ;;
  test)  preset=ci ;;
  *) echo "usage: scripts/setup.sh start|test" >&2; exit 2 ;;
esac

bash scripts/install-deps.sh
echo "setup: configuring and building ($preset)" >&2
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"

if [ "$mode" = start ]; then
  exec "./build/$preset/kcube" start "$@"
fi
# Every label: unit, integration, e2e. Tests that need something absent say so and fail or
# skip loudly; nothing is filtered out here.
exec ctest --preset "$preset" -j2 --timeout 1800
