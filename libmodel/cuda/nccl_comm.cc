#include "libmodel/cuda/nccl_comm.h"

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#if defined(G2_HAVE_NCCL)
#include <nccl.h>
#endif

namespace g2 {

#if defined(G2_HAVE_NCCL)

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 14, 0)
#error "g2kit needs NCCL >= 2.14 (non-blocking communicators bound every wait for a peer rank)"
#endif

namespace {

using Clock = std::chrono::steady_clock;

// Short sleeps that grow to 1 ms: a healthy all-reduce of one layer finishes in microseconds
// to milliseconds, a dead peer is noticed within the timeout either way.
class Backoff {
 public:
  void pause() {
    std::this_thread::sleep_for(std::chrono::microseconds(us_));
    us_ = us_ < 1000 ? us_ * 2 : 1000;
  }

 private:
  int us_ = 20;
};

std::string seconds(int ms) { return std::to_string(ms / 1000) + " s"; }

}  // namespace

void NcclComm::abort() {
  if (comm_ && !aborted_) {
    ncclCommAbort(static_cast<ncclComm_t>(comm_));  // stops this rank's NCCL kernels
    aborted_ = true;
  }
}

Status NcclComm::fail(const std::string& msg) {
  abort();
  return io_error("NCCL rank " + std::to_string(rank_) + " of " + std::to_string(size_) + ": " + msg);
}

Status NcclComm::poll_until_ready(const char* what) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  Backoff b;
  for (;;) {
    ncclResult_t st = ncclSuccess;
    if (ncclResult_t r = ncclCommGetAsyncError(static_cast<ncclComm_t>(comm_), &st); r != ncclSuccess)
      return fail(std::string("ncclCommGetAsyncError: ") + ncclGetErrorString(r));
    if (st == ncclSuccess) return Status::Ok();
    if (st != ncclInProgress)
      return fail(std::string(what) + ": " + ncclGetErrorString(st) + " (did another rank fail?)");
    if (Clock::now() > deadline)
      return fail(std::string(what) + " did not complete within " + seconds(timeout_ms_) +
                  " (G2_DIST_TIMEOUT_S): another rank has probably failed or exited");
    b.pause();
  }
}

Expected<std::unique_ptr<NcclComm>> NcclComm::create(const DistEnv& env, int timeout_ms) {
  if (timeout_ms < 0) timeout_ms = env.timeout_ms;
  if (cudaSetDevice(env.local_rank) != cudaSuccess) {
    cudaGetLastError();
    return invalid("NCCL rank " + std::to_string(env.rank) + ": cannot use CUDA device " +
                   std::to_string(env.local_rank) + " (LOCAL_RANK / OMPI_COMM_WORLD_LOCAL_RANK)");
  }
  ncclUniqueId id{};
  std::vector<uint8_t> bytes;
  if (env.rank == 0) {
    if (ncclResult_t r = ncclGetUniqueId(&id); r != ncclSuccess)
      return io_error(std::string("ncclGetUniqueId: ") + ncclGetErrorString(r));
    bytes.assign(reinterpret_cast<const uint8_t*>(&id), reinterpret_cast<const uint8_t*>(&id) + sizeof id);
  }
  if (env.world_size > 1) {
    auto got = env.id_file.empty()
                   ? rendezvous_tcp(env.master_addr, env.master_port, env.rank, env.world_size, bytes, timeout_ms)
                   : rendezvous_file(env.id_file, env.rank, bytes, sizeof id, timeout_ms);
    if (!got) return got.error();
    if (got->size() != sizeof id)
      return io_error("rendezvous: expected a " + std::to_string(sizeof id) + "-byte NCCL id, got " +
                      std::to_string(got->size()));
    std::memcpy(&id, got->data(), sizeof id);
  }
  std::unique_ptr<NcclComm> c(new NcclComm());
  c->rank_ = env.rank;
  c->size_ = env.world_size;
  c->device_ = env.local_rank;
  c->timeout_ms_ = timeout_ms;
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // every call returns at once; completion is polled with a deadline
  ncclComm_t comm = nullptr;
  const ncclResult_t r = ncclCommInitRankConfig(&comm, env.world_size, id, env.rank, &config);
  c->comm_ = comm;
  if (r != ncclSuccess && r != ncclInProgress) {
    if (comm) ncclCommAbort(comm);
    c->comm_ = nullptr;
    return io_error("ncclCommInitRankConfig (rank " + std::to_string(env.rank) + " of " +
                    std::to_string(env.world_size) + "): " + ncclGetErrorString(r));
  }
  G2_TRY(c->poll_until_ready("ncclCommInitRankConfig"));
  return c;
}

// Abort, not ncclCommDestroy: a process leaving after an error may still have a collective
// its peers never joined, and ncclCommDestroy would wait for it. After a clean run every
// collective has completed (the backend waited for its stream), so abort only frees.
NcclComm::~NcclComm() { abort(); }

Status NcclComm::all_reduce_sum(float* x, size_t n, cudaStream_t stream) {
  if (n == 0 || size_ == 1) return Status::Ok();
  if (aborted_) return io_error("NCCL rank " + std::to_string(rank_) + ": the communicator was aborted");
  const ncclResult_t r = ncclAllReduce(x, x, n, ncclFloat32, ncclSum, static_cast<ncclComm_t>(comm_), stream);
  if (r == ncclInProgress) return poll_until_ready("ncclAllReduce");
  if (r != ncclSuccess) return fail(std::string("ncclAllReduce: ") + ncclGetErrorString(r));
  return Status::Ok();
}

Status NcclComm::wait(cudaStream_t stream) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  Backoff b;
  for (;;) {
    const cudaError_t e = cudaStreamQuery(stream);
    if (e == cudaSuccess) return Status::Ok();
    cudaGetLastError();  // "not ready" is no error: never let a later launch check report it
    if (e != cudaErrorNotReady)
      return fail(std::string("CUDA error while waiting for the stream: ") + cudaGetErrorString(e));
    if (!aborted_) {
      ncclResult_t st = ncclSuccess;
      ncclCommGetAsyncError(static_cast<ncclComm_t>(comm_), &st);
      if (st != ncclSuccess && st != ncclInProgress)
        return fail(std::string("NCCL error while waiting for an all-reduce: ") + ncclGetErrorString(st) +
                    " (did another rank fail?)");
    }
    if (Clock::now() > deadline)
      return fail("an all-reduce did not complete within " + seconds(timeout_ms_) +
                  " (G2_DIST_TIMEOUT_S): another rank has probably failed or exited");
    b.pause();
  }
}

#else  // built without NCCL

Expected<std::unique_ptr<NcclComm>> NcclComm::create(const DistEnv&, int) {
  return unsupported("this g2kit was built without NCCL: multi-GPU tensor parallelism is unavailable");
}
NcclComm::~NcclComm() = default;
void NcclComm::abort() {}
Status NcclComm::all_reduce_sum(float*, size_t, cudaStream_t) {
  return unsupported("this g2kit was built without NCCL");
}
Status NcclComm::wait(cudaStream_t stream) {
  if (cudaError_t e = cudaStreamSynchronize(stream); e != cudaSuccess) {
    cudaGetLastError();
    return io_error(std::string("cudaStreamSynchronize: ") + cudaGetErrorString(e));
  }
  return Status::Ok();
}
Status NcclComm::poll_until_ready(const char*) { return Status::Ok(); }
Status NcclComm::fail(const std::string& msg) { return io_error(msg); }

#endif

}  // namespace g2
