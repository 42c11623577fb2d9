#!/usr/bin/env bash
# Prints the path of a real Ollama 0.24.0 binary for tests/real_ollama, building it if needed.
#
#   scripts/ollama-binary.sh [SHARED_BUILD_SH]   default: ../shared/engines/ollama/build.sh
#
# Runs the shared offline build (which reuses a binary it built before). On a CPU with AMX
# (Intel Sapphire Rapids and later) that build's `-march=native` makes ggml's CPU backend
# call the AMX buffer type, whose sources cgo does not compile, and the link fails
# (`undefined reference to ggml_backend_amx_buffer_type`); seen on this workspace's Xeon.
# There the compilers are given `-mno-amx-*`, which GCC honours whatever -march says, so
# the one build works.
set -euo pipefail
BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)/../shared/engines/ollama/build.sh}
[ -x "$BUILD" ] || { echo "ollama-binary: no $BUILD" >&2; exit 2; }
if grep -qw amx_tile /proc/cpuinfo 2>/dev/null; then
  NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  export CC="gcc $NO_AMX" CXX="g++ $NO_AMX"
  echo "ollama-binary: this CPU has AMX; building with $NO_AMX" >&2
fi
"$BUILD" | tail -n 1
