// Multi-process launch for NCCL tensor parallelism (one process per GPU), host side only:
//   - which rank this process is, from the launcher's environment (torchrun-style RANK /
//     WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT, or Open MPI's OMPI_COMM_WORLD_*,
//     or MPICH/Intel MPI's PMI_RANK / PMI_SIZE);
//   - which TP rank and device that is, and which shard of every tensor it holds (the
//     layout's shard_range: the same mapping a `--layout rank` checkpoint was written with);
//   - the rendezvous that hands rank 0's ncclUniqueId (opaque bytes) to every rank: a file
//     on a shared filesystem (G2_NCCL_ID_FILE) or a tiny TCP exchange on MASTER_ADDR:PORT.
// The tensors themselves only ever move through NCCL (libmodel/cuda/nccl_comm.h).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "libconvert/layout/layout.h"
#include "libconvert/model_config.h"
#include "libconvert/status.h"

namespace g2 {

enum class Launcher { Single, Torchrun, Mpi };
std::string_view launcher_name(Launcher l);

struct DistEnv {
  Launcher launcher = Launcher::Single;
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr;  // rendezvous host (TCP), empty when a file is used
  // TCP rendezvous port: G2_NCCL_PORT, else MASTER_PORT + 1 (torchrun's store holds MASTER_PORT).
  int master_port = 0;
  std::string id_file;      // G2_NCCL_ID_FILE: rendezvous through a shared file instead
  // G2_DIST_TIMEOUT_S (default 300): the longest this rank waits for the others anywhere (the
  // rendezvous, NCCL's setup, every all-reduce and the wait for its result); then it aborts
  // the communicator and fails instead of hanging behind a rank that died.
  int timeout_ms = 300000;
};

// Environment lookup (std::getenv in production, a map in tests); returns null when unset.
using EnvLookup = std::function<const char*(const char*)>;
Expected<DistEnv> parse_dist_env(const EnvLookup& get);
Expected<DistEnv> parse_dist_env_from_process();  // std::getenv

// This process's place in a TP group of size tp: g2kit runs pure tensor parallelism, one
// process per GPU, so world_size must equal tp; the device is the node-local rank.
struct TpPosition {
  int tp = 1, tp_rank = 0, device = 0;
};
Expected<TpPosition> tp_position(const DistEnv& env, int tp);

// The tensors of `layer` (-1: the non-layer tensors) and the shard of each a TP rank holds.
struct RankShard {
  const TensorSpec* spec = nullptr;
  ShardRange range;
  Shape shape;
};
Expected<std::vector<RankShard>> rank_shards(const std::vector<TensorSpec>& layout, const ModelConfig& c, int layer,
                                             int tp, int rank);

// Rank 0 publishes `payload`; every rank returns it. timeout_ms bounds the whole wait.
// TCP: rank 0 listens on master_port and serves world_size - 1 connections.
Expected<std::vector<uint8_t>> rendezvous_tcp(const std::string& addr, int port, int rank, int world_size,
                                              const std::vector<uint8_t>& payload, int timeout_ms);
// File: rank 0 writes `path` atomically (temp + rename); the others poll for it.
Expected<std::vector<uint8_t>> rendezvous_file(const std::string& path, int rank, const std::vector<uint8_t>& payload,
                                               size_t payload_size, int timeout_ms);

}  // namespace g2
