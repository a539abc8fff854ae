#!/bin/bash
# The kernel grid of native/simt/kernel_tests.cpp against the REAL CUDA backend: builds libpaged_cuda.so
# for sm_90 (nvcc, no -Werror: newer toolkits warn differently) and runs the grid on the GPU, then under
# compute-sanitizer memcheck. For a machine with a GPU (none here); results go to $OUT or /tmp/pb.
#   tools/cuda_kernel_grid.sh   (from the repository root; PAGED_CUDA_ARCH=80 for A100)
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/pb}"
ARCH="${PAGED_CUDA_ARCH:-90}"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
nvcc --version | tail -2
B=/tmp/pb-build; rm -rf $B; mkdir -p $B $OUT
INC="-Inative/include -Inative/common -Inative/cuda -Inative/cpu"
CUB=$(ldconfig -p | grep -o '/[^ ]*libcublas.so[^ ]*' | head -1)
[ -z "$CUB" ] && CUB=$(find /usr/local /usr/lib /opt -name 'libcublas.so*' 2>/dev/null | head -1)
echo "cublas: $CUB"
t0=$(date +%s)
for f in native/cuda/*.cu; do
  echo "nvcc -c -O3 -std=c++17 --expt-relaxed-constexpr -arch=sm_$ARCH -Xcompiler -fPIC,-fvisibility=hidden -DPG_BACKEND_NAME='\"cuda\"' $INC $f -o $B/$(basename $f).o"
done > $B/jobs
for f in native/common/status.cpp native/common/checks.cpp native/common/op_checks.cpp native/common/layouts.cpp native/cpu/sample_rows.cpp; do
  echo "g++ -c -O2 -std=c++17 -fPIC -fvisibility=hidden $INC -I/usr/local/cuda/include $f -o $B/$(basename $f).o"
done >> $B/jobs
xargs -P 16 -I{} bash -c "{}" < $B/jobs 2>&1 | grep -v "^$" | head -40
nvcc -shared -o $B/libpaged_cuda.so $B/*.o -L$(dirname "$CUB") -lcublas -lcudart || exit 4
g++ -O2 -std=c++17 -Inative/include -Inative/simt -Inative/common native/simt/kernel_tests.cpp native/simt/simt.cpp native/common/status.cpp -L$B -lpaged_cuda -Wl,-rpath,$B -Wl,-rpath,$(dirname "$CUB") -lpthread -o $B/kt || exit 5
echo "build: $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
$B/kt > $OUT/grid.log 2>&1; echo "grid rc=$? in $(( $(date +%s) - t0 )) s"
grep -E "FAIL|passed" $OUT/grid.log | head -30
t0=$(date +%s)
timeout 240 compute-sanitizer --tool memcheck --print-limit 20 $B/kt > $OUT/memcheck.log 2>&1; echo "memcheck rc=$? in $(( $(date +%s) - t0 )) s"
grep -E "ERROR SUMMARY|Invalid|FAIL|passed" $OUT/memcheck.log | head -20
