#include "tests/gpu/gate_kernel.cuh"

namespace g2::gputest {
namespace {

__global__ void gate_kernel(volatile int* open) {
  while (*open == 0) __nanosleep(1000);
}

}  // namespace

void launch_gate(volatile int* open, cudaStream_t s) { gate_kernel<<<1, 1, 0, s>>>(open); }

}  // namespace g2::gputest
