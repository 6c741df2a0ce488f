#include "libmodel/cuda/layer_streamer.h"

#include <string>

#include "kernels/cuda/check.h"

namespace g2 {
namespace {

Error cuda_error(const char* what, cudaError_t e) {
  cudaGetLastError();
  return Error{ErrorKind::Io, std::string("layer streamer: ") + what + ": " + cudaGetErrorString(e)};
}

}  // namespace

Expected<std::unique_ptr<LayerStreamer>> LayerStreamer::create(uint64_t capacity, cudaStream_t compute) {
  std::unique_ptr<LayerStreamer> s(new LayerStreamer());
  s->capacity_ = capacity;
  s->compute_ = compute;
  if (cudaError_t e = cudaStreamCreateWithFlags(&s->copy_, cudaStreamNonBlocking); e != cudaSuccess)
    return cuda_error("cudaStreamCreate", e);
  for (Slot& sl : s->slots_) {
    if (cudaError_t e = cudaHostAlloc(reinterpret_cast<void**>(&sl.host), capacity, cudaHostAllocDefault);
        e != cudaSuccess)
      return cuda_error(("cudaHostAlloc of " + std::to_string(capacity) + " pinned bytes").c_str(), e);
    if (cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&sl.device), capacity); e != cudaSuccess)
      return cuda_error(("cudaMalloc of " + std::to_string(capacity) + " bytes").c_str(), e);
    G2_CUDA_CHECK(cudaEventCreateWithFlags(&sl.copied, cudaEventDisableTiming));
    G2_CUDA_CHECK(cudaEventCreateWithFlags(&sl.released, cudaEventDisableTiming));
  }
  return s;
}

LayerStreamer::~LayerStreamer() {
  if (copy_) cudaStreamSynchronize(copy_);
  if (compute_) cudaStreamSynchronize(compute_);
  for (Slot& sl : slots_) {
    if (sl.copied) cudaEventDestroy(sl.copied);
    if (sl.released) cudaEventDestroy(sl.released);
    if (sl.device) cudaFree(sl.device);
    if (sl.host) cudaFreeHost(sl.host);
  }
  if (copy_) cudaStreamDestroy(copy_);
}

Status LayerStreamer::prefetch(const LayerBufferPlan& plan, const Fill& fill) {
  if (plan.total_bytes > capacity_)
    return invalid("layer streamer: layer " + std::to_string(plan.layer) + " needs " +
                   std::to_string(plan.total_bytes) + " bytes, the buffers hold " + std::to_string(capacity_));
  Slot& sl = slots_[plan.layer & 1];
  if (sl.in_use)
    return Error{ErrorKind::Internal, "layer streamer: layer " + std::to_string(sl.layer) +
                                          " still holds the slot layer " + std::to_string(plan.layer) + " needs"};
  // The staging buffer is free once the previous copy out of it has completed.
  G2_CUDA_CHECK(cudaEventSynchronize(sl.copied));
  for (const StreamSlice& s : plan.slices) G2_TRY(fill(s, sl.host + s.dst_offset));
  // The device buffer is free once the compute that read it (the layer two back) is done.
  G2_CUDA_CHECK(cudaStreamWaitEvent(copy_, sl.released, 0));
  // Slices are packed in dst order: one copy of the planned span.
  G2_CUDA_CHECK(cudaMemcpyAsync(sl.device, sl.host, plan.total_bytes, cudaMemcpyHostToDevice, copy_));
  G2_CUDA_CHECK(cudaEventRecord(sl.copied, copy_));
  sl.layer = plan.layer;
  return Status::Ok();
}

Expected<const uint8_t*> LayerStreamer::acquire(int layer) {
  Slot& sl = slots_[layer & 1];
  if (sl.layer != layer)
    return Error{ErrorKind::Internal, "layer streamer: layer " + std::to_string(layer) + " was not prefetched"};
  G2_CUDA_CHECK(cudaStreamWaitEvent(compute_, sl.copied, 0));
  sl.in_use = true;
  return static_cast<const uint8_t*>(sl.device);
}

void LayerStreamer::release(int layer) {
  Slot& sl = slots_[layer & 1];
  G2_ASSERT(sl.layer == layer && sl.in_use, "release of a layer that was not acquired");
  G2_CUDA_CHECK(cudaEventRecord(sl.released, compute_));
  sl.in_use = false;
}

}  // namespace g2
