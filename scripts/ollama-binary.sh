#!/usr/bin/env bash
# Prints the path of a real Ollama 0.24.0 binary for tests/real_ollama, building it if needed.
#
#   scripts/ollama-binary.sh [SHARED_BUILD_SH]   default: ../shared/engines/ollama/build.sh
#
# Runs the shared offline build. On a CPU with AMX (Intel Sapphire Rapids and later) that
# build's `-march=native` makes ggml's CPU backend call the AMX buffer type, whose sources
# cgo does not compile, so the link fails (`undefined reference to
# ggml_backend_amx_buffer_type`). Then the same extracted source is built once more with AMX
# switched off; the binary goes where the shared build looks, so later runs reuse it.
set -euo pipefail
BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)/../shared/engines/ollama/build.sh}
OUT=${XDG_CACHE_HOME:-$HOME/.cache}/llm-harness/ollama-0.24.0
LOG=$(mktemp /tmp/ollama-build.XXXXXX.log)

[ -x "$BUILD" ] || { echo "ollama-binary: no $BUILD" >&2; exit 2; }
if bin=$("$BUILD" 2>"$LOG" | tail -n 1) && [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
if ! grep -q "ggml_backend_amx_buffer_type" "$LOG"; then
  echo "ollama-binary: the build failed (log: $LOG)" >&2
  exit 1
fi
echo "ollama-binary: AMX link failure; building again with AMX off (log: $LOG)" >&2
SRC="$OUT/src/ollama-0.24.0"
GO_DIR=$("$OUT/go-venv/bin/python" -c 'import go, os; print(os.path.join(os.path.dirname(go.__file__), "bin"))')
FLAGS="-O2 -march=native -mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
(
  cd "$SRC"
  env PATH="$GO_DIR:$PATH" GOTOOLCHAIN=local GOFLAGS=-mod=vendor GOPROXY=off \
    GOPATH="$OUT/gopath" GOCACHE="$OUT/gocache" CGO_ENABLED=1 \
    CGO_CFLAGS="$FLAGS" CGO_CXXFLAGS="$FLAGS" \
    go build -tags libsqlite3 -trimpath \
    -ldflags "-s -w -X=github.com/ollama/ollama/version.Version=0.24.0" -o "$OUT/ollama.tmp" .
) >>"$LOG" 2>&1 || { echo "ollama-binary: the AMX-free build failed too (log: $LOG)" >&2; exit 1; }
mv "$OUT/ollama.tmp" "$OUT/ollama"
echo "$OUT/ollama"
