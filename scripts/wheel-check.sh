#!/usr/bin/env bash
# Builds the pip wheel (pyproject.toml, maturin `bindings = "bin"`), installs it into a fresh venv
# and runs `anontrack --version` and `anontrack demo` from there, in a temporary folder.
#
# It builds with cargo's dev profile, which reuses what `cargo test` already compiled (dependencies
# are optimized there too), so it takes well under a minute after the tests; release wheels are
# built by .github/workflows/release.yml. Exit 0 when the installed command works.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v maturin >/dev/null; then
  python3 -m pip install -q --disable-pip-version-check 'maturin>=1.5,<2'
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

maturin build --quiet --locked --profile dev --out "$work/wheels" 2>&1 | grep -v '^\s*Compiling' || true
wheel=$(ls "$work"/wheels/anontrack-*.whl 2>/dev/null | head -n1)
[ -n "$wheel" ] || { echo "wheel-check: maturin built no wheel" >&2; exit 1; }
echo "wheel-check: built $(basename "$wheel")"

python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check --no-index "$wheel"
bin="$work/venv/bin/anontrack"
[ -x "$bin" ] || { echo "wheel-check: the wheel installed no anontrack command" >&2; exit 1; }

version=$("$bin" --version)
expected="anontrack $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
[ "$version" = "$expected" ] || { echo "wheel-check: --version says '$version', expected '$expected'" >&2; exit 1; }

mkdir "$work/run"
(cd "$work/run" && "$bin" demo >demo.out 2>demo.err) || {
  echo "wheel-check: \`anontrack demo\` from the wheel failed:" >&2
  cat "$work/run/demo.err" >&2
  exit 1
}
[ -f "$work/run/anontrack-demo/DEMO_dataprocessing.xlsx" ] || { echo "wheel-check: demo made no workbook" >&2; exit 1; }
grep -q "What just happened" "$work/run/demo.out" || { echo "wheel-check: demo did not finish its tour" >&2; exit 1; }
echo "wheel-check: ok (the wheel installs and its anontrack runs the demo)"
