#!/bin/sh
# Installs nftables (the `nft` binary) for test/mesh/netns-dcutr.test.ts's NAT routers, when missing.
# Best effort and idempotent: never fails, so a CI run without root or apt just skips that test.

if command -v nft >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-nat-tools: nft missing and cannot apt-get install it here (the DCUtR netns test will skip)" >&2
  exit 0
fi
# A stale package index makes the install fail: refresh it once, quietly.
(apt-get install -y -q --no-install-recommends nftables >/dev/null 2>&1 ||
  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends nftables >/dev/null 2>&1; }) ||
  echo "ensure-nat-tools: could not install nftables (the DCUtR netns test will skip)" >&2
exit 0
