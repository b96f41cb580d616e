#!/bin/sh
# Installs the Debian packages the tests use when they are missing: nftables (`nft`, the NAT routers of
# test/mesh/netns-dcutr.test.ts), libjemalloc2 (the allocator scripts/with-allocator.sh preloads) and
# chromium (the browser of test/browser, driven headless by playwright-core).
# Best effort and idempotent: never fails, so a run without root or apt just skips what needs them.

missing=""
command -v nft >/dev/null 2>&1 || missing="$missing nftables"
[ -n "$(sh "$(dirname "$0")/with-allocator.sh" --print-library)" ] || missing="$missing libjemalloc2"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-packages:$missing missing and cannot apt-get install here (tests that need them skip)" >&2
  exit 0
fi
# A stale package index makes the install fail: refresh it once, quietly.
# shellcheck disable=SC2086
(apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 ||
  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1; }) ||
  echo "ensure-system-packages: could not install$missing (tests that need them skip)" >&2
exit 0
