#!/usr/bin/env bash
# Builds Paged (native backends with CMake, managed projects with dotnet) and runs it or its tests.
#   ./build.sh              build everything; the CLI lands at out/paged
#   ./build.sh run ARGS...  build if needed, then run out/paged ARGS...
#   ./build.sh test         build, run every test, print "N passed, N failed" from the TRX reports
# PAGED_READY_TO_RUN=1 publishes the CLI precompiled (ReadyToRun, linux-x64) into out/ instead of copying the build.
# PAGED_WITH_CUDA=1 installs nvcc first when it is missing (Debian's nvidia-cuda-toolkit, from the
# contrib/non-free components), so that libpaged_cuda.so is compiled too; .ci/run sets it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
jobs="$(nproc 2>/dev/null || echo 2)"

log() { printf '[build] %s\n' "$*" >&2; }

# Installs what a fresh Debian machine lacks (no GPU needed). nvcc is optional: see .ci/run.
ensure_tools() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v c++ >/dev/null || missing+=(g++)
  command -v make >/dev/null || missing+=(make)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if ! command -v dotnet >/dev/null; then
    log "error: the .NET 10 SDK is required (https://dot.net); install it and run again"
    exit 1
  fi
}

# Debian's CUDA 11.8 toolkit (nvcc, cudart, cuBLAS; no driver, no GPU needed to compile).
install_nvcc() {
  command -v nvcc >/dev/null && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing nvcc (nvidia-cuda-toolkit from contrib/non-free)"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    $sudo sed -i -E '/^Components:/{/contrib/!s/$/ contrib/;/non-free( |$)/!s/$/ non-free/}' /etc/apt/sources.list.d/debian.sources
  elif [ -f /etc/apt/sources.list ]; then
    $sudo sed -i -E '/^deb /{/contrib/!s/ main/ main contrib/;/non-free( |$)/!s/ main/ main non-free/}' /etc/apt/sources.list
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit clang-14 >/dev/null
  command -v nvcc >/dev/null || { log "error: nvcc is still missing after installing nvidia-cuda-toolkit"; exit 1; }
}

build() {
  ensure_tools
  if [ "${PAGED_WITH_CUDA:-0}" = "1" ]; then install_nvcc; fi
  log "native: cmake (Release)"
  mkdir -p build
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build/configure.log 2>&1 || { cat build/configure.log >&2; exit 1; }
  grep -E "CUDA backend" build/configure.log | sed 's/^-- /[build] /' >&2 || true
  cmake --build build -j "$jobs" >/dev/null
  log "managed: dotnet build Kernels.sln (Release)"
  dotnet build Kernels.sln -c Release -nologo -v quiet -clp:ErrorsOnly
  mkdir -p out
  if [ "${PAGED_READY_TO_RUN:-0}" = "1" ]; then
    # Precompiled (ReadyToRun) CLI: about 0.25 s less start-up per command (docs/benchmarks.md, "Start-up").
    log "managed: dotnet publish the CLI ReadyToRun (linux-x64) into out/"
    dotnet publish managed/Paged.Cli/Paged.Cli.csproj -c Release -r linux-x64 --self-contained false \
      -p:PublishReadyToRun=true -o out -nologo -v quiet -clp:ErrorsOnly
  else
    cp -r managed/Paged.Cli/bin/Release/net10.0/. out/
  fi
  log "done: out/paged"
}

run_tests() {
  local results="$root/TestResults"
  rm -rf "$results"
  local rc=0
  dotnet test --solution Kernels.sln -c Release --no-build --report-trx --results-directory "$results" "$@" || rc=$?
  # MSTest's own summary is not what CI reads: total the TRX <Counters> of every test project.
  local passed=0 failed=0 total=0 files f
  files=$(find "$results" -name '*.trx' 2>/dev/null || true)
  for f in $files; do
    local counters
    counters=$(grep -o '<Counters [^>]*>' "$f" | head -1)
    count() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
    total=$((total + $(count total)))
    passed=$((passed + $(count passed)))
    failed=$((failed + $(count failed) + $(count error) + $(count timeout) + $(count aborted)))
    # A test host that crashed leaves its remaining tests neither passed nor failed: count the crash.
    if grep -q '<RunInfo [^>]*outcome="Error"' "$f"; then
      log "test run did not complete: $f ($(grep -o '<Text>[^<]*' "$f" | head -1 | sed 's/<Text>//'))"
      failed=$((failed + 1))
    fi
  done
  if [ -z "$files" ] && [ "$rc" -ne 0 ]; then failed=$((failed + 1)); fi
  echo "$passed passed, $failed failed, $((total - passed - failed)) skipped"
  [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
}

case "${1:-build}" in
  build) build ;;
  run)
    shift
    build
    exec out/paged "$@"
    ;;
  test)
    shift
    build
    run_tests "$@"
    ;;
  *) echo "usage: ./build.sh [build | run ARGS... | test]" >&2; exit 2 ;;
esac
