#!/usr/bin/env bash
# scripts/install puts a working `meanwhile` in PREFIX/bin: installed from the built binary
# (--binary, so the test does not build a second time), run from outside the source tree.
# Usage: install_test.sh SOURCE_DIR MEANWHILE_BIN
set -euo pipefail
src=$1
bin=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

out=$("$src/scripts/install" --binary "$bin" "$prefix/p")
[[ $out == *"installed $prefix/p/bin/meanwhile (meanwhile "* ]] || fail "unexpected output: $out"
[[ $out == *"is not on your PATH"* ]] || fail "no PATH hint for a prefix off PATH: $out"
[[ -x $prefix/p/bin/meanwhile ]] || fail "not installed"
[[ $(stat -c %a "$prefix/p/bin/meanwhile") == 755 ]] || fail "mode is not 755"
cmp -s "$bin" "$prefix/p/bin/meanwhile" || fail "installed binary differs"
# Runs from anywhere, and its help names the commands.
version=$(cd / && PATH="$prefix/p/bin:$PATH" meanwhile --version)
[[ $version == "meanwhile "* ]] || fail "--version from /: $version"
(cd / && PATH="$prefix/p/bin:$PATH" meanwhile --help) | grep -q "mcp" || fail "--help"
# On PATH: no hint. Installing again replaces it.
out=$(PATH="$prefix/p/bin:$PATH" "$src/scripts/install" --binary "$bin" "$prefix/p")
[[ $out != *"is not on your PATH"* ]] || fail "PATH hint though on PATH: $out"
# Bad input: exit 2 with a message, nothing installed.
set +e
err=$("$src/scripts/install" --frobnicate 2>&1)
rc=$?
set -e
[[ $rc == 2 && $err == *"unknown option --frobnicate"* ]] || fail "bad option: rc $rc: $err"
set +e
err=$("$src/scripts/install" --binary "$prefix/none" "$prefix/q" 2>&1)
rc=$?
set -e
[[ $rc == 1 && $err == *"is not an executable"* ]] || fail "missing binary: rc $rc: $err"
[[ ! -e $prefix/q/bin/meanwhile ]] || fail "installed from a missing binary"
echo "install_test: ok"
