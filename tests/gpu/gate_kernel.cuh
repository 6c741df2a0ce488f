// A kernel that holds a stream until the host opens a gate (a flag in mapped pinned memory):
// work queued behind it provably has not run, so a host call that returns while the gate is
// closed did not wait for the stream (tests/gpu only).
#pragma once
#include <cuda_runtime.h>

namespace g2::gputest {

// *open (mapped pinned host memory, cudaHostAllocMapped) is polled until non-zero.
void launch_gate(volatile int* open, cudaStream_t s);

}  // namespace g2::gputest
