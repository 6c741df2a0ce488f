// gpu-probe: scripts/gpu-check.sh's first step, compiled with the machine's nvcc alone (no
// project dependencies, no CMake) so it runs before anything is built. It checks the driver
// against the toolkit before anything else: cudaGetDeviceCount failing for any reason (no
// driver, a driver older than the CUDA runtime this nvcc links, no device) is reported with
// cudaGetErrorString and exit 2, never as "no device, skip the GPU tests". Then every device
// must run a kernel. Prints key=value lines (read by gpu-check.sh):
//   driver_cuda=13.0  runtime=13.0  devices=1
//   device0=NVIDIA H100 80GB HBM3|9.0|85045559296
#include <cuda_runtime.h>

#include <cstdio>

namespace {

__global__ void touch(int* x) { *x = 42; }

void version(const char* key, int v) { std::printf("%s=%d.%d\n", key, v / 1000, v % 1000 / 10); }

int fail(const char* what, cudaError_t e) {
  std::fprintf(stderr, "gpu-probe: %s: %s (%s)\n", what, cudaGetErrorString(e), cudaGetErrorName(e));
  return 2;
}

}  // namespace

int main() {
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);  // 0 when no driver is loaded
  cudaRuntimeGetVersion(&runtime);
  version("driver_cuda", driver);
  version("runtime", runtime);
  int n = 0;
  if (cudaError_t e = cudaGetDeviceCount(&n); e != cudaSuccess) {
    std::fprintf(stderr,
                 "gpu-probe: cudaGetDeviceCount: %s (%s); the driver supports CUDA %d.%d%s, this nvcc's runtime is "
                 "CUDA %d.%d%s\n",
                 cudaGetErrorString(e), cudaGetErrorName(e), driver / 1000, driver % 1000 / 10,
                 driver == 0 ? " (no driver loaded)" : "", runtime / 1000, runtime % 1000 / 10,
                 driver != 0 && driver < runtime ? ": the driver is older than the toolkit, update it" : "");
    return 2;
  }
  if (driver < runtime)  // minor-version compatibility may still run it: say so, go on
    std::fprintf(stderr, "gpu-probe: note: the driver supports CUDA %d.%d, older than the runtime %d.%d\n",
                 driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
  std::printf("devices=%d\n", n);
  if (n == 0) {
    std::fprintf(stderr, "gpu-probe: cudaGetDeviceCount found no device\n");
    return 2;
  }
  for (int d = 0; d < n; ++d) {
    cudaDeviceProp p{};
    if (cudaError_t e = cudaGetDeviceProperties(&p, d); e != cudaSuccess) return fail("cudaGetDeviceProperties", e);
    std::printf("device%d=%s|%d.%d|%zu\n", d, p.name, p.major, p.minor, p.totalGlobalMem);
    int* x = nullptr;
    int h = 0;
    if (cudaError_t e = cudaSetDevice(d); e != cudaSuccess) return fail("cudaSetDevice", e);
    if (cudaError_t e = cudaMalloc(&x, sizeof(int)); e != cudaSuccess) return fail("cudaMalloc", e);
    touch<<<1, 1>>>(x);
    if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return fail("kernel launch", e);
    if (cudaError_t e = cudaMemcpy(&h, x, sizeof(int), cudaMemcpyDeviceToHost); e != cudaSuccess)
      return fail("cudaMemcpy after a kernel", e);
    cudaFree(x);
    if (h != 42) {
      std::fprintf(stderr, "gpu-probe: device %d ran a kernel but returned %d, not 42\n", d, h);
      return 2;
    }
  }
  return 0;
}
