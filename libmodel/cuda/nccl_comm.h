// Tensor-parallel all-reduce through NCCL, one process per GPU. Bootstrap: parse the
// launcher's environment (host/dist_env.h), rank 0 creates the ncclUniqueId and hands its
// 128 bytes to every rank through the rendezvous (a shared file or a tiny TCP exchange on
// MASTER_ADDR:MASTER_PORT), then ncclCommInitRank. After that every tensor moves
// through NCCL only: the layer forward all-reduces the attention output projection and the
// FFN output (each rank holds its shard_range of the weights, so each computes a partial
// sum over its slice of the contracting axis).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "libconvert/status.h"
#include "libmodel/cuda/host/dist_env.h"

namespace g2 {

class NcclComm {
 public:
  // Sets the device to env.local_rank, runs the rendezvous (timeout_ms bounds the wait for
  // the other ranks) and creates the communicator. Errors name the env vars / address.
  // Without NCCL at build time: Unsupported.
  static Expected<std::unique_ptr<NcclComm>> create(const DistEnv& env, int timeout_ms = 300000);
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int device() const { return device_; }

  // In place: x[n] = sum over ranks of x[n] (f32), queued on `stream`.
  Status all_reduce_sum(float* x, size_t n, cudaStream_t stream);

 private:
  NcclComm() = default;
  void* comm_ = nullptr;  // ncclComm_t (kept opaque so this header needs no nccl.h)
  int rank_ = 0, size_ = 1, device_ = 0;
};

}  // namespace g2
