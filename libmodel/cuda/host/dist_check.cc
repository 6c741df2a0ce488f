#include "libmodel/cuda/host/dist_check.h"

namespace g2 {

Expected<std::vector<int>> agree_on_verdict(Backend& be, int rank, int world_size, bool ok) {
  if (world_size < 1 || rank < 0 || rank >= world_size)
    return invalid("agree_on_verdict: rank " + std::to_string(rank) + " outside a group of " +
                   std::to_string(world_size));
  return catch_device_errors([&]() -> Expected<std::vector<int>> {
    // One slot per rank, 1 where that rank failed: the sum over ranks is every rank's verdict.
    std::vector<float> flags(size_t(world_size), 0.0f);
    flags[size_t(rank)] = ok ? 0.0f : 1.0f;
    BackendBuffer buf = be.alloc(flags.size());
    be.upload(buf.data(), flags.data(), flags.size());
    G2_TRY(be.all_reduce_sum(buf.data(), flags.size()));
    be.download(flags.data(), buf.data(), flags.size());
    std::vector<int> failed;
    for (int r = 0; r < world_size; ++r)
      if (flags[size_t(r)] != 0.0f) failed.push_back(r);
    return failed;
  });
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string s = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) s += (i ? ", " : "") + std::to_string(ranks[i]);
  return s;
}

Status dist_self_check(WeightSource& w, Backend& tested, std::span<const int32_t> tokens, const SelfCheckOptions& check,
                       int rank, int world_size, std::string_view where) {
  auto cpu = make_cpu_backend();
  auto ref = self_check_reference(w, *cpu, tokens, check);
  auto prepared = agree_on_verdict(tested, rank, world_size, ref.ok());
  if (!ref) return ref.error();
  if (!prepared) return prepared.error();
  if (!prepared->empty())
    return invalid(rank_list(*prepared) + " could not run the self-check's CPU reference (see their messages): "
                   "every rank stops before the forward");
  auto rep = self_check_tested(w, *ref, cpu->name(), tested, tokens, check);
  if (!rep) {
    tested.abandon_group();  // its collectives stopped half-way: the peers must not wait for it
    return rep.error();
  }
  auto agreed = agree_on_verdict(tested, rank, world_size, rep->pass);
  if (!rep->pass) return self_check_refusal(*rep, where);
  if (!agreed) return agreed.error();
  if (!agreed->empty())
    return invalid("the self-check passed here, but " + rank_list(*agreed) +
                   " failed it (see their messages): every rank stops before the forward");
  return Status::Ok();
}

}  // namespace g2
