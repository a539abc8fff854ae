#!/usr/bin/env bash
# tools/gpu_check.sh - the GPU check in one command, for a machine with an NVIDIA GPU and CUDA's nvcc
# (11.8 to 13) but possibly no .NET SDK: only a .NET 10 runtime (DOTNET_ROOT) and prebuilt outputs.
# See ../shared/design/GPU-CHECK.md for what travels and why.
#
#   tools/gpu_check.sh pack DIR
#       On a machine with the SDK, after ./build.sh: writes DIR/gpu-check-bundle.tar.xz holding the CLI
#       (out/), the test executables (Paged.Runtime.Tests, Paged.Engine.Tests), the stories260K model,
#       tokenizer and golden file, and this machine's .NET runtime. Carry DIR to the GPU machine.
#   tools/gpu_check.sh run [--bundle DIR] [--report DIR] [--arch ARCH] [--quick]
#       On the GPU machine, from the repository root: unpacks DIR/gpu-check-bundle.tar.xz (if given),
#       builds libpaged_cuda.so with the local nvcc, then runs each section below and writes
#       REPORT/report.md (default ./gpu-check-report) plus one log per section. A failing section is
#       recorded and the next one still runs (exit status: number of failed sections, capped at 100).
#
# PAGED_GPU_CHECK_LIB=/path/libpaged_cuda.so skips the build and uses that library.
# Paths (each may be given instead of --bundle): PAGED_CLI_DIR (the CLI: paged), PAGED_RUNTIME_TESTS_DIR,
# PAGED_ENGINE_TESTS_DIR (the test executables' folders), PAGED_SHARED_DIR (models/stories260K/...,
# golden/...), DOTNET_ROOT (a .NET 10 runtime). Defaults: the repository's own build outputs and ../shared.
# Sections: env, build, op-tests (cuda rows), engine-e2e (golden, n > 1, prefix forks, preemption on
# cuda; the golden rows with an f16 / bf16 KV cache), generate-n2 (also with --kv-cache-dtype f16),
# memcheck, racecheck, bench-260k, make-model-110m, bench-110m-{1,32,256}, bench-110m-{1,256}-kvbf16,
# bench-110m-prefill512, bench-kernels; bench-260k-eager, bench-110m-{1,32}-eager (--cuda-graphs off: the
# others replay one graph per decode step, the cuda default). The speed table has launches and graph
# replays per decode step (stories260K on simt: 55 before RoPE was fused with the cache write, 50 after,
# 2 with graphs: 1 replay + 1 greedy sampling launch).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 100

die() { echo "gpu_check: $*" >&2; exit 100; }

# ---------------------------------------------------------------------------------------------- pack
pack() {
  local dest="${1:?usage: tools/gpu_check.sh pack DIR}"
  local stage
  stage="$(mktemp -d)"
  mkdir -p "$dest" "$stage/bundle"
  local b="$stage/bundle"
  local cli="${PAGED_CLI_DIR:-$root/out}"
  [ -x "$cli/paged" ] || die "no CLI at $cli/paged (run ./build.sh first)"
  cp -r "$cli" "$b/cli"
  local t
  for t in Runtime Engine; do
    local dir="$root/tests/Paged.$t.Tests/bin/Release/net10.0"
    [ -x "$dir/Paged.$t.Tests" ] || die "no test executable in $dir (dotnet build Kernels.sln -c Release)"
    cp -r "$dir" "$b/${t,,}-tests"
  done
  # Other platforms' native assets are dead weight on linux-x64; so are this machine's backends
  # (the GPU machine builds libpaged_cuda.so; cpu and simt libraries travel for the reference rows).
  find "$b" -type d -name runtimes | while read -r r; do
    find "$r" -mindepth 1 -maxdepth 1 -type d ! -name 'linux-x64' -exec rm -rf {} +
  done
  find "$b" -name 'libpaged_cuda.so' -delete
  local shared="${PAGED_SHARED_DIR:-$root/../shared}"
  mkdir -p "$b/shared/models/stories260K" "$b/shared/golden"
  cp "$shared"/models/stories260K/{stories260K.bin,stories260K.gguf,tok512.bin} "$b/shared/models/stories260K/"
  cp "$shared"/golden/stories260K_greedy.jsonl "$b/shared/golden/"
  # The .NET runtime: the host (dotnet, host/fxr) and Microsoft.NETCore.App only (no SDK).
  local dn="${DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")}"
  local fx
  fx="$(ls -d "$dn"/shared/Microsoft.NETCore.App/10.* 2>/dev/null | sort -V | tail -1)"
  [ -n "$fx" ] || die "no .NET 10 runtime under $dn"
  mkdir -p "$b/dotnet/shared/Microsoft.NETCore.App"
  cp "$dn/dotnet" "$b/dotnet/"
  cp -r "$dn/host" "$b/dotnet/"
  cp -r "$fx" "$b/dotnet/shared/Microsoft.NETCore.App/"
  XZ_OPT="${XZ_OPT:--4 -T0}" tar -C "$stage" -cJf "$dest/gpu-check-bundle.tar.xz" bundle
  rm -rf "$stage"
  ls -l "$dest/gpu-check-bundle.tar.xz"
}

# ----------------------------------------------------------------------------------------------- run
report=""
declare -a rows=()
failed=0

# section NAME TIMEOUT_S CMD...: runs CMD with its output in REPORT/NAME.log; records PASS/FAIL and time.
section() {
  local name="$1" limit="$2"
  shift 2
  local log="$report/$name.log" start end rc
  echo "== $name" >&2
  start=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
  rc=$?
  end=$(date +%s)
  local status=PASS
  if [ $rc -ne 0 ]; then
    status="FAIL (exit $rc$([ $rc -eq 124 ] && echo ", timed out after ${limit}s"))"
    failed=$((failed + 1))
  fi
  echo "   $status in $((end - start)) s" >&2
  rows+=("| $name | $status | $((end - start)) s |")
  write_report  # after every section: a run cut short still leaves its report
  return $rc
}

skip() {
  rows+=("| $1 | SKIP: $2 | |")
  echo "== $1: SKIP ($2)" >&2
}

# The last line of a bench log that carries its key=value summary.
bench_line() { grep -E '^prefill_tok_s=' "$report/$1.log" 2>/dev/null | tail -1; }

run() {
  local bundle="" arch="${PAGED_CUDA_ARCH:-}" quick=0
  report="$root/gpu-check-report"
  while [ $# -gt 0 ]; do
    case "$1" in
      --bundle) bundle="$2"; shift 2 ;;
      --report) report="$2"; shift 2 ;;
      --arch) arch="$2"; shift 2 ;;
      --quick) quick=1; shift ;;
      *) die "unknown option $1" ;;
    esac
  done
  mkdir -p "$report" || die "cannot create $report"
  report="$(cd "$report" && pwd)"
  local work="$root/build-gpu-check"
  mkdir -p "$work"

  if [ -n "$bundle" ]; then
    [ -f "$bundle/gpu-check-bundle.tar.xz" ] || die "no $bundle/gpu-check-bundle.tar.xz"
    rm -rf "$work/bundle"
    tar -C "$work" -xJf "$bundle/gpu-check-bundle.tar.xz" || die "cannot unpack the bundle"
    : "${PAGED_CLI_DIR:=$work/bundle/cli}" "${PAGED_RUNTIME_TESTS_DIR:=$work/bundle/runtime-tests}"
    : "${PAGED_ENGINE_TESTS_DIR:=$work/bundle/engine-tests}" "${PAGED_SHARED_DIR:=$work/bundle/shared}"
    [ -n "${DOTNET_ROOT:-}" ] || export DOTNET_ROOT="$work/bundle/dotnet"
  fi
  local cli="${PAGED_CLI_DIR:-$root/out}"
  local rt="${PAGED_RUNTIME_TESTS_DIR:-$root/tests/Paged.Runtime.Tests/bin/Release/net10.0}"
  local et="${PAGED_ENGINE_TESTS_DIR:-$root/tests/Paged.Engine.Tests/bin/Release/net10.0}"
  local shared="${PAGED_SHARED_DIR:-$root/../shared}"
  shared="$(cd "$shared" 2>/dev/null && pwd || echo "$shared")"
  if [ -z "${DOTNET_ROOT:-}" ] && command -v dotnet >/dev/null; then
    export DOTNET_ROOT="$(dirname "$(readlink -f "$(command -v dotnet)")")"
  fi
  export DOTNET_ROOT DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  # Toolchain locations seen on the H200 machine (cmake/ninja in a venv, nvcc under /usr/local/cuda).
  local p
  for p in /usr/local/cuda/bin /opt/torch/.venv/bin; do
    [ -d "$p" ] && case ":$PATH:" in *":$p:"*) ;; *) PATH="$PATH:$p" ;; esac
  done
  export PATH

  local m260="$shared/models/stories260K/stories260K.bin" tok="$shared/models/stories260K/tok512.bin"
  local native="$work/native"

  section env 60 bash -c '
    echo "## nvidia-smi"; nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv || nvidia-smi -L
    echo "## nvcc"; nvcc --version | tail -2
    echo "## host compiler"; ${CUDAHOSTCXX:-c++} --version | head -1
    echo "## cmake"; cmake --version | head -1; command -v ninja && ninja --version
    echo "## compute-sanitizer"; command -v compute-sanitizer || true
    echo "## .NET (DOTNET_ROOT=$DOTNET_ROOT)"; "$DOTNET_ROOT/dotnet" --list-runtimes
    echo "## git"; git log -1 --oneline 2>/dev/null || true'

  # ---- build libpaged_cuda.so here (the machine's nvcc and cuBLAS) ----
  export PAGED_GC_ROOT="$root" PAGED_GC_WORK="$work" PAGED_GC_NATIVE="$native"
  export PAGED_GC_NVCC="$(command -v nvcc || true)" PAGED_GC_GEN=""
  command -v ninja >/dev/null && PAGED_GC_GEN="-G Ninja"
  # build_cuda ARCH WERROR: configure and build the paged_cuda target only; copy the library out.
  build_cuda() {
    rm -rf "$PAGED_GC_WORK/cmake"
    cmake -S "$PAGED_GC_ROOT" -B "$PAGED_GC_WORK/cmake" $PAGED_GC_GEN -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CUDA_COMPILER="$PAGED_GC_NVCC" -DCMAKE_CUDA_ARCHITECTURES="$1" -DPAGED_CUDA_WERROR="$2" &&
      cmake --build "$PAGED_GC_WORK/cmake" --target paged_cuda -j "$(nproc)" &&
      mkdir -p "$PAGED_GC_NATIVE" && cp "$PAGED_GC_WORK/cmake/native/libpaged_cuda.so" "$PAGED_GC_NATIVE/"
  }
  export -f build_cuda
  if [ -n "${PAGED_GPU_CHECK_LIB:-}" ]; then
    # A library built elsewhere (or earlier): PAGED_GPU_CHECK_LIB=/path/libpaged_cuda.so skips the build.
    mkdir -p "$native" && cp "$PAGED_GPU_CHECK_LIB" "$native/" && skip build "using $PAGED_GPU_CHECK_LIB"
  elif [ -z "$PAGED_GC_NVCC" ]; then
    skip build "no nvcc on PATH (or in /usr/local/cuda/bin)"
  else
    rm -f "$native/libpaged_cuda.so"
    local a built=0
    for a in ${arch:-native 90}; do
      if section "build-arch-$a" 600 bash -c 'build_cuda "$0" ON' "$a"; then
        built=1
        break
      fi
    done
    # A toolchain newer than the tested ones may warn: build without -Werror (the failure above stays
    # counted and the report shows it).
    [ $built -eq 1 ] || section "build-no-werror" 600 bash -c 'build_cuda "$0" OFF' "${arch:-90}"
  fi
  if [ -f "$native/libpaged_cuda.so" ]; then
    # The prebuilt cpu and simt libraries sit next to the executables; cuda comes from here.
    export PAGED_NATIVE_DIR="$native"
  fi
  local have_cuda=0
  [ -f "$native/libpaged_cuda.so" ] && have_cuda=1

  # ---- correctness ----
  if [ $have_cuda -eq 1 ] && [ -x "$rt/Paged.Runtime.Tests" ]; then
    section op-tests 540 env PAGED_TEST_BACKENDS=cuda "$rt/Paged.Runtime.Tests" \
      --filter "FullyQualifiedName!~SimtEmulatorTests" --output detailed
  else
    skip op-tests "no libpaged_cuda.so or no $rt/Paged.Runtime.Tests"
  fi
  if [ $have_cuda -eq 1 ] && [ -x "$et/Paged.Engine.Tests" ] && [ -f "$m260" ]; then
    section engine-e2e 540 env PAGED_TEST_DEVICES=cuda PAGED_SHARED_DIR="$shared" "$et/Paged.Engine.Tests" \
      --filter "FullyQualifiedName~DeviceEndToEndTests|FullyQualifiedName~HalfKvCacheEngineTests" --output detailed
  else
    skip engine-e2e "no libpaged_cuda.so, engine test executable or stories260K"
  fi
  local prompts="$work/prompts.txt"
  printf 'Once upon a time\nThe little dog\nLily wanted to\n' >"$prompts"
  local gen_args=(generate --model "$m260" --tokenizer "$tok" --device cuda --prompts-file "$prompts" --max-tokens 32)
  if [ $have_cuda -eq 1 ] && [ -x "$cli/paged" ] && [ -f "$m260" ]; then
    section generate-n2 120 bash -c "'$cli/paged' ${gen_args[*]} --n 2 --temperature 0.8 --seed 1 && \
      '$cli/paged' ${gen_args[*]} --n 2 --temperature 0 --kv-blocks 12 --block-size 4 --preemption swap && \
      '$cli/paged' ${gen_args[*]} --n 2 --temperature 0 --kv-blocks 12 --block-size 4 --preemption swap --kv-cache-dtype f16"
    if command -v compute-sanitizer >/dev/null; then
      section memcheck 300 compute-sanitizer --tool memcheck --error-exitcode 9 "$cli/paged" "${gen_args[@]}" --n 2 --max-tokens 16
      section racecheck 300 compute-sanitizer --tool racecheck --error-exitcode 9 "$cli/paged" "${gen_args[@]}" --n 2 --max-tokens 8
    else
      skip memcheck "no compute-sanitizer"
      skip racecheck "no compute-sanitizer"
    fi
  else
    skip generate-n2 "no libpaged_cuda.so, CLI or stories260K"
  fi

  # ---- speed ----
  local runs=3 gen_tokens=128
  [ $quick -eq 1 ] && runs=1 && gen_tokens=32
  local m110="$work/m110"
  if [ $have_cuda -eq 1 ] && [ -x "$cli/paged" ]; then
    [ -f "$m260" ] && section bench-260k 180 "$cli/paged" bench generate --model "$m260" --tokenizer "$tok" \
      --device cuda --batch 1 --gen-tokens 200 --runs "$runs"
    [ -f "$m260" ] && section bench-260k-eager 180 "$cli/paged" bench generate --model "$m260" --tokenizer "$tok" \
      --device cuda --batch 1 --gen-tokens 200 --runs "$runs" --cuda-graphs off
    if [ -f "$m110/model.bin" ] || section make-model-110m 180 "$cli/paged" make-model --shape stories110M --out "$m110"; then
      local b
      for b in 1 32 256; do
        section "bench-110m-$b" 240 "$cli/paged" bench generate --model "$m110/model.bin" --tokenizer "$m110/tokenizer.bin" \
          --device cuda --batch "$b" --prompt-tokens 16 --gen-tokens "$gen_tokens" --runs "$runs" --max-num-seqs "$b" \
          --max-num-batched-tokens $((b * 16 > 2048 ? b * 16 : 2048))
      done
      for b in 1 32; do  # the same without graphs: what replay saves
        section "bench-110m-$b-eager" 240 "$cli/paged" bench generate --model "$m110/model.bin" --tokenizer "$m110/tokenizer.bin" \
          --device cuda --batch "$b" --prompt-tokens 16 --gen-tokens "$gen_tokens" --runs "$runs" --max-num-seqs "$b" --cuda-graphs off
      done
      # A bf16 KV cache (half the bytes per token the attention reads) at 1 and 256 sequences.
      for b in 1 256; do
        section "bench-110m-$b-kvbf16" 240 "$cli/paged" bench generate --model "$m110/model.bin" --tokenizer "$m110/tokenizer.bin" \
          --device cuda --batch "$b" --prompt-tokens 16 --gen-tokens "$gen_tokens" --runs "$runs" --max-num-seqs "$b" \
          --max-num-batched-tokens $((b * 16 > 2048 ? b * 16 : 2048)) --kv-cache-dtype bf16
      done
      section bench-110m-prefill512 180 "$cli/paged" bench generate --model "$m110/model.bin" --tokenizer "$m110/tokenizer.bin" \
        --device cuda --batch 1 --prompt-tokens 512 --gen-tokens 2 --runs "$runs" --max-num-batched-tokens 512
      section bench-kernels 300 "$cli/paged" bench kernels --model "$m110/model.bin" --device cuda --batch 32 --prompt-tokens 1024
    fi
  else
    skip bench "no libpaged_cuda.so or CLI"
  fi

  write_report
  return $((failed > 100 ? 100 : failed))
}

write_report() {
  local md="$report/report.md"
  {
    echo "# GPU check ($(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$root" log -1 --format=%h 2>/dev/null || echo 'no git'))"
    echo
    sed -n '/## nvidia-smi/,/## nvcc/p' "$report/env.log" 2>/dev/null | grep -v -e '^##' -e 'command not found' | head -3
    grep -E 'release|Cuda compilation' "$report/env.log" 2>/dev/null | head -1
    echo
    echo "| section | result | time |"
    echo "|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    local log
    for log in op-tests engine-e2e; do
      [ -f "$report/$log.log" ] || continue
      echo "**$log**: $(grep -cE '^\s*passed ' "$report/$log.log") passed, $(grep -cE '^\s*failed ' "$report/$log.log") failed," \
           "$(grep -cE '^\s*skipped |inconclusive' "$report/$log.log") skipped/inconclusive"
      grep -E '^\s*failed ' "$report/$log.log" | head -20 | sed 's/^/    /'
      echo
    done
    for log in memcheck racecheck; do
      [ -f "$report/$log.log" ] && echo "**$log**: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$report/$log.log" | tail -1)"
    done
    echo
    echo "## Speed (paged bench generate, median of runs)"
    echo
    echo "| case | prefill tok/s | decode tok/s | overall tok/s | host waits / decode step | launches / decode step | graph replays / decode step |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    local b line
    for b in bench-260k bench-260k-eager bench-110m-1 bench-110m-1-eager bench-110m-32 bench-110m-32-eager bench-110m-256 \
             bench-110m-1-kvbf16 bench-110m-256-kvbf16 bench-110m-prefill512; do
      line="$(bench_line "$b")"
      [ -n "$line" ] || continue
      kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$line"; }
      echo "| $b | $(kv prefill_tok_s) | $(kv decode_tok_s) | $(kv overall_tok_s) | $(kv decode_syncs_per_step) | $(kv decode_launches_per_step) | $(kv decode_graph_replays_per_step) |"
    done
    if [ -f "$report/bench-kernels.log" ]; then
      echo
      echo "## paged bench kernels"
      echo
      grep -E '^\|' "$report/bench-kernels.log" | head -40
    fi
    echo
    echo "Logs: one per section beside this file."
  } >"$md"
  echo "report: $md" >&2
}

case "${1:-}" in
  pack) shift; pack "$@" ;;
  run) shift; run "$@" ;;
  *) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d'; exit 2 ;;
esac
