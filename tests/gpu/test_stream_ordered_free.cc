// Releasing a device buffer must not synchronise the device: the CUDA backend frees in
// stream order (cudaFreeAsync), so a weight released while the GPU still computes costs the
// host nothing, the copy stream keeps overlapping, and one thread per GPU in one process
// cannot block in cudaFree while its peers wait for it in an all-reduce. The backend's stream
// is held by a gate kernel; alloc + release must return while the gate is still closed (a
// watchdog opens it after 20 s so a regression fails instead of hanging).
#include <cuda_runtime.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "kernels/cuda/check.h"
#include "tests/gpu/gate_kernel.cuh"
#include "tests/gpu/gpu_util.h"

namespace g2 {
namespace {

TEST(CudaMemory, ReleasingABufferDoesNotWaitForTheStream) {
  G2_REQUIRE_GPU();
  auto be = make_cuda_backend(0);
  ASSERT_TRUE(be.ok()) << be.message();
  auto stream = static_cast<cudaStream_t>(cuda_backend_stream(**be));
  ASSERT_NE(stream, nullptr);
  int* open = nullptr;
  G2_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&open), sizeof(int), cudaHostAllocMapped));
  *reinterpret_cast<volatile int*>(open) = 0;
  int* open_dev = nullptr;
  G2_CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&open_dev), open, 0));
  std::atomic<bool> watchdog_fired{false}, done{false};
  std::thread watchdog([&] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!done) {
      watchdog_fired = true;
      *reinterpret_cast<volatile int*>(open) = 1;
    }
  });

  gputest::launch_gate(open_dev, stream);
  {
    BackendBuffer a = (*be)->alloc(size_t(64) << 20);                     // 256 MiB, queued behind the gate
    BackendBuffer w = (*be)->from_host(std::vector<float>(1 << 20, 1.0f));  // a weight on the copy stream
    (*be)->add(a.data(), w.data(), w.size());
  }  // both released here, while the gate holds the stream
  const bool returned_while_gated = *reinterpret_cast<volatile int*>(open) == 0 && !watchdog_fired;
  EXPECT_EQ(cudaStreamQuery(stream), cudaErrorNotReady) << "the gate should still hold the stream";
  cudaGetLastError();
  done = true;
  *reinterpret_cast<volatile int*>(open) = 1;
  watchdog.join();
  (*be)->sync();
  EXPECT_TRUE(returned_while_gated) << "releasing a buffer waited for queued work (cudaFree semantics)";
  // Freed memory returns to the pool and is reused: many layers' worth of alloc/release.
  for (int i = 0; i < 200; ++i) (void)(*be)->alloc(size_t(16) << 20);
  (*be)->sync();
  cudaFreeHost(open);
}

}  // namespace
}  // namespace g2
