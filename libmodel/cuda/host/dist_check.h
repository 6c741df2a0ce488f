// The TP group's common verdict before the forward (g2diff --dist). Each rank checks its own
// backend; if a rank that failed simply exited, the others would wait for it in their next
// all-reduce. So every rank, failed or not, contributes its verdict to one all-reduce and
// every rank learns which ranks failed: all go on, or all stop naming the same ranks.
// Backend-agnostic host code: tests/libmodel/cuda/host runs it with one CPU thread per rank; on GPUs
// Backend::all_reduce_sum is NCCL, every wait bounded by the communicator's timeout.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "libconvert/status.h"
#include "libmodel/backend.h"
#include "libmodel/cuda/host/self_check.h"
#include "libmodel/weights.h"

namespace g2 {

// Collective: every rank of the group calls it once with its own verdict. Returns the ranks
// (ascending) whose verdict was false; empty: everyone may go on. Errors: the all-reduce
// itself failed (a peer never arrived: a DeviceError or timeout, returned as an Error).
Expected<std::vector<int>> agree_on_verdict(Backend& be, int rank, int world_size, bool ok);

// "rank 3" / "ranks 1, 5" for messages.
std::string rank_list(const std::vector<int>& ranks);

// The self-check of one rank's backend `tested` (a member of a TP group of world_size, with
// check.forward.only_rank = rank), collective. The CPU reference half runs locally; the
// ranks agree it succeeded; the tested half runs the rank's forward with its all-reduces; the
// ranks agree on the verdicts. A rank whose tested forward fails half-way (its collectives
// out of step) calls Backend::abandon_group so its peers get an error instead of waiting.
// Ok on every rank, or an error on every rank: this rank's own failure, or the failed ranks.
// `where` names the device in the refusal ("NVIDIA H100 ..., rank 2").
Status dist_self_check(WeightSource& w, Backend& tested, std::span<const int32_t> tokens, const SelfCheckOptions& check,
                       int rank, int world_size, std::string_view where);

}  // namespace g2
