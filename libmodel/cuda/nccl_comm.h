// Tensor-parallel all-reduce through NCCL, one process per GPU. Bootstrap: parse the
// launcher's environment (host/dist_env.h), rank 0 creates the ncclUniqueId and hands its
// 128 bytes to every rank through the rendezvous (a shared file or a tiny TCP exchange on
// MASTER_ADDR:MASTER_PORT), then ncclCommInitRankConfig. After that every tensor moves
// through NCCL only: the layer forward all-reduces the attention output projection and the
// FFN output (each rank holds its shard_range of the weights, so each computes a partial
// sum over its slice of the contracting axis).
//
// Every wait is bounded: the communicator is non-blocking (NCCL >= 2.14), so setup and each
// all-reduce return at once and are polled with ncclCommGetAsyncError; wait() polls the
// stream the same way. A rank that failed or exited leaves its peers with an error after
// timeout_ms (the communicator is aborted with ncclCommAbort), never with a hang.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "libconvert/status.h"
#include "libmodel/cuda/host/dist_env.h"

namespace g2 {

class NcclComm {
 public:
  // Sets the device to env.local_rank, runs the rendezvous and creates the communicator;
  // timeout_ms (< 0: env.timeout_ms, G2_DIST_TIMEOUT_S) bounds every later wait too.
  // Errors name the env vars / address. Without NCCL at build time: Unsupported.
  static Expected<std::unique_ptr<NcclComm>> create(const DistEnv& env, int timeout_ms = -1);
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int device() const { return device_; }
  int timeout_ms() const { return timeout_ms_; }

  // In place: x[n] = sum over ranks of x[n] (f32), queued on `stream`.
  Status all_reduce_sum(float* x, size_t n, cudaStream_t stream);
  // Blocks until `stream` has finished everything queued on it, NCCL work included; an NCCL
  // error or more than timeout_ms without completion aborts the communicator and returns the
  // error (the stream's NCCL kernels stop, so the process can report and exit).
  Status wait(cudaStream_t stream);
  // ncclCommAbort: this rank leaves the group for good (its NCCL kernels stop; the peers'
  // collectives fail or time out instead of completing). Idempotent.
  void abort();
  bool aborted() const { return aborted_; }

 private:
  NcclComm() = default;
  Status poll_until_ready(const char* what);  // a non-blocking call's completion, bounded
  Status fail(const std::string& msg);        // abort the communicator, return the error
  void* comm_ = nullptr;  // ncclComm_t (kept opaque so this header needs no nccl.h)
  int rank_ = 0, size_ = 1, device_ = 0;
  int timeout_ms_ = 300000;
  bool aborted_ = false;
};

}  // namespace g2
