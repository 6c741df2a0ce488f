// Double-buffered weight streaming for the CUDA backend (docs/cuda.md): one layer's weights on
// the device at a time, the copy of layer L+1 overlapping the compute of layer L.
//
// Two slots, each a pinned host staging buffer (cudaHostAlloc) and a device buffer of
// `capacity` bytes (max_layer_buffer_bytes of the plan, host/buffer_plan.h). Layer L uses
// slot L % 2. The protocol, per layer:
//
//   streamer.prefetch(plan(0), fill);
//   for L in layers:
//     base = streamer.acquire(L);          // compute stream waits for L's copy (event)
//     ... enqueue layer L's kernels reading base + slice.dst_offset ...
//     streamer.release(L);                 // event: L's compute done -> slot reusable
//     if (L + 1 < n) streamer.prefetch(plan(L + 1), fill);   // host fills while GPU computes L
//
// prefetch() blocks the host only until the slot's previous copy has left the staging
// buffer; the device-side overwrite waits (on the copy stream) for the previous layer's
// compute on that slot. Only the slices in the plan are copied: routed experts only.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "libconvert/status.h"
#include "libmodel/cuda/host/buffer_plan.h"

namespace g2 {

class LayerStreamer {
 public:
  // Writes one planned slice's bytes (slice.bytes of them) to dst, pinned host memory.
  using Fill = std::function<Status(const StreamSlice& slice, void* dst)>;

  static Expected<std::unique_ptr<LayerStreamer>> create(uint64_t capacity, cudaStream_t compute);
  ~LayerStreamer();
  LayerStreamer(const LayerStreamer&) = delete;
  LayerStreamer& operator=(const LayerStreamer&) = delete;

  Status prefetch(const LayerBufferPlan& plan, const Fill& fill);
  // Device base of `layer`'s buffer; the compute stream is ordered after its copy.
  Expected<const uint8_t*> acquire(int layer);
  void release(int layer);

  uint64_t capacity() const { return capacity_; }
  cudaStream_t copy_stream() const { return copy_; }

 private:
  struct Slot {
    uint8_t* host = nullptr;    // pinned staging
    uint8_t* device = nullptr;
    cudaEvent_t copied = nullptr, released = nullptr;
    int layer = -1;
    bool in_use = false;  // acquired and not yet released
  };
  LayerStreamer() = default;
  Slot slots_[2];
  uint64_t capacity_ = 0;
  cudaStream_t compute_ = nullptr, copy_ = nullptr;
};

}  // namespace g2
