#!/bin/sh
# Runs a command (a Refuge node, the benchmarks) with the allocator settings Refuge recommends on Linux.
# glibc's malloc fragments LevelDB's native memory: a node receiving 1M replicated docs peaks at ~460 MB,
# ~270 MB with jemalloc preloaded (Debian: libjemalloc2). Without jemalloc, a fixed MALLOC_MMAP_THRESHOLD_
# at least keeps LevelDB's big write-batch buffers out of glibc's heap, which its adaptive threshold
# would let them into and which rarely shrinks (a 100k-doc bulk load peaks ~50 MB lower; the 1M-doc
# replication still reaches ~440 MB). REFUGE_JEMALLOC=0 skips jemalloc.
# With jemalloc, unless MALLOC_CONF is set, freed pages go back to the system after about a second
# from a background thread, not after jemalloc's default 10 s: the docs benchmark's peak fell from
# 281-300 MB to 242-263 MB with no change in speed beyond the noise.
# `with-allocator.sh --print-library` prints the jemalloc library it would preload (nothing if none).

library=""
if [ "${REFUGE_JEMALLOC:-1}" != "0" ] && [ "$(uname -s)" = "Linux" ]; then
  for lib in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 \
    /usr/lib64/libjemalloc.so.2 /usr/lib/libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2; do
    if [ -r "$lib" ]; then
      library="$lib"
      break
    fi
  done
fi
if [ "${1:-}" = "--print-library" ]; then
  [ -n "$library" ] && echo "$library"
  exit 0
fi
if [ -n "$library" ]; then
  case ":${LD_PRELOAD:-}:" in
    *jemalloc*) ;;
    *) LD_PRELOAD="$library${LD_PRELOAD:+:$LD_PRELOAD}" && export LD_PRELOAD ;;
  esac
  if [ -z "${MALLOC_CONF:-}" ]; then
    MALLOC_CONF="background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0" && export MALLOC_CONF
  fi
elif [ -z "${MALLOC_MMAP_THRESHOLD_:-}" ]; then
  MALLOC_MMAP_THRESHOLD_=131072 && export MALLOC_MMAP_THRESHOLD_
fi
exec "$@"
