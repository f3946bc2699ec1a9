#!/usr/bin/env bash
# Sets up mmfusion_annotate on a fresh Debian/Ubuntu machine: system libraries, the .venv/ virtual
# environment with the ROS 2 Jazzy wheels from PyPI, and (with --test) the test tools, including the
# npm packages of the independent bag reader under test/js.
#   bash scripts/setup.sh          # run-time install
#   bash scripts/setup.sh --test   # plus test tools
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_TEST=0
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TEST=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (use --test or nothing)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_apt=()
# libgomp for numba's threading layer; open3d (a test/benchmark baseline) needs libusb at import time.
ldconfig -p | grep -q 'libgomp.so.1' || need_apt+=(libgomp1)
if [ "$WITH_TEST" = 1 ]; then ldconfig -p | grep -q 'libusb-1.0.so.0' || need_apt+=(libusb-1.0-0); fi
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ "$WITH_TEST" = 1 ]; then command -v npm >/dev/null || need_apt+=(nodejs npm); fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "setup.sh: installing system packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
extras="ros"
if [ "$WITH_TEST" = 1 ]; then extras="ros,test"; fi
.venv/bin/python -m pip install -q -e ".[${extras}]"

if [ "$WITH_TEST" = 1 ] && [ -f test/js/package.json ]; then
  (cd test/js && npm ci --silent --no-audit --no-fund)
fi
echo "setup.sh: ready (.venv/bin/mmfusion, .venv/bin/python -m pytest)"
