#!/bin/sh
# Runs a command (a Refuge node) with jemalloc preloaded when the system has it (Debian: libjemalloc2).
# glibc's malloc fragments LevelDB's native allocations: a node receiving 1M replicated docs peaks at
# ~460 MB under glibc and ~270 MB under jemalloc. REFUGE_JEMALLOC=0 turns this off.
# `with-jemalloc.sh --print-library` prints the library it would preload (nothing when none).

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
fi
exec "$@"
