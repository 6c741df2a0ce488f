#include "libmodel/cuda/nccl_comm.h"

#include <cstring>
#include <string>
#include <vector>

#if defined(G2_HAVE_NCCL)
#include <nccl.h>
#endif

namespace g2 {

#if defined(G2_HAVE_NCCL)

Expected<std::unique_ptr<NcclComm>> NcclComm::create(const DistEnv& env, int timeout_ms) {
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
  ncclComm_t comm = nullptr;
  if (ncclResult_t r = ncclCommInitRank(&comm, env.world_size, id, env.rank); r != ncclSuccess)
    return io_error("ncclCommInitRank (rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size) +
                    "): " + ncclGetErrorString(r));
  std::unique_ptr<NcclComm> c(new NcclComm());
  c->comm_ = comm;
  c->rank_ = env.rank;
  c->size_ = env.world_size;
  c->device_ = env.local_rank;
  return c;
}

NcclComm::~NcclComm() {
  if (comm_) ncclCommDestroy(static_cast<ncclComm_t>(comm_));
}

Status NcclComm::all_reduce_sum(float* x, size_t n, cudaStream_t stream) {
  if (n == 0 || size_ == 1) return Status::Ok();
  if (ncclResult_t r = ncclAllReduce(x, x, n, ncclFloat32, ncclSum, static_cast<ncclComm_t>(comm_), stream);
      r != ncclSuccess)
    return io_error(std::string("ncclAllReduce: ") + ncclGetErrorString(r));
  return Status::Ok();
}

#else  // built without NCCL

Expected<std::unique_ptr<NcclComm>> NcclComm::create(const DistEnv&, int) {
  return unsupported("this g2kit was built without NCCL: multi-GPU tensor parallelism is unavailable");
}
NcclComm::~NcclComm() = default;
Status NcclComm::all_reduce_sum(float*, size_t, cudaStream_t) {
  return unsupported("this g2kit was built without NCCL");
}

#endif

}  // namespace g2
