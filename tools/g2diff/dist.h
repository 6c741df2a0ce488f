// g2diff --dist: one process per GPU. Each process is one tensor-parallel rank,
// placed by the launcher's environment (torchrun RANK/WORLD_SIZE/LOCAL_RANK, Open MPI
// OMPI_COMM_WORLD_*, MPICH PMI_*: libmodel/cuda/host/dist_env.h); it runs its rank's shards
// on its CUDA device and the forward's all-reduces go through NCCL (docs/cuda.md).
#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "libconvert/status.h"
#include "libmodel/backend.h"
#include "libmodel/forward.h"
#include "libmodel/weights.h"

namespace g2 {

// Ok when this build and machine can run --dist; else the exit-2 reason (no CUDA backend in
// the build, no NCCL, or no device).
Status dist_available();

struct DistRank {
  int rank = 0, world_size = 1;
  std::unique_ptr<Backend> backend;  // CUDA, self-checked against the CPU on w's layer 0
};

// Joins the TP group of size tp (world size must equal tp): NCCL bootstrap through the
// launcher's environment, then the CUDA backend on the node-local device whose
// all_reduce_sum is the NCCL all-reduce, self-checked against the CPU on w's layer 0 with the
// run's options `run` at this rank (only_rank = its TP rank). Then every rank's verdict goes
// through one all-reduce: all ranks go on, or all return an error naming the ranks that
// failed (a failed rank never leaves the others waiting in the forward's first all-reduce).
// Collective: every rank must call it. Every wait is bounded by G2_DIST_TIMEOUT_S.
Expected<DistRank> join_tp_group(WeightSource& w, std::span<const int32_t> tokens, int tp, const ForwardOptions& run);

}  // namespace g2
