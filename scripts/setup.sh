#!/usr/bin/env bash
# Sets up mmfusion_annotate on a fresh Debian/Ubuntu machine: system libraries, the .venv/ virtual
# environment with the ROS 2 Jazzy wheels from PyPI, the numba kernels compiled into their cache, and (with
# --test) the test tools, including the npm packages of the independent bag reader under test/js.
#   bash scripts/setup.sh          # run-time install
#   bash scripts/setup.sh --test   # plus test tools
set -euo pipefail
cd "$(dirname "$0")/.."

WITH_TEST=0
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TEST=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (use --test or nothing)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_apt=()
# libgomp for numba's threading layer.
ldconfig -p | grep -q 'libgomp.so.1' || need_apt+=(libgomp1)
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ "$WITH_TEST" = 1 ]; then command -v npm >/dev/null || need_apt+=(nodejs npm); fi
# Debian's chromium: the review page is checked in a real headless browser.
if [ "$WITH_TEST" = 1 ]; then command -v chromium >/dev/null || need_apt+=(chromium); fi
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

# Compile the numba kernels into their on-disk cache (cache=True, next to the sources) now, not while the
# first `mmfusion demo` plays its drive: a short synthetic drive written (sim kernels) and replayed (fusion
# and pre-label kernels). MMFUSION_SKIP_WARM_UP=1 skips it.
if [ "${MMFUSION_SKIP_WARM_UP:-0}" != 1 ]; then
  echo "setup.sh: compiling the numba kernels (once per machine)"
  warm="$(mktemp -d)"
  if ! { .venv/bin/mmfusion sim cut_in --duration 1 -o "$warm/bag" >"$warm/log" 2>&1 \
         && .venv/bin/mmfusion replay "$warm/bag" -o "$warm/out" >>"$warm/log" 2>&1; }; then
    tail -n 5 "$warm/log" >&2
    rm -rf "$warm"
    echo "setup.sh: the installed package cannot write and replay a synthetic drive (above)" >&2
    exit 1
  fi
  rm -rf "$warm"
fi

if [ "$WITH_TEST" = 1 ] && [ -f test/js/package.json ]; then
  (cd test/js && npm ci --silent --no-audit --no-fund)
fi
echo "setup.sh: ready (.venv/bin/mmfusion, .venv/bin/python -m pytest)"
