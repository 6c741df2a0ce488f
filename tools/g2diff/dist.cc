#include "dist.h"

#if defined(G2_HAVE_CUDA)
#include "libmodel/cuda/host/dist_env.h"
#include "libmodel/cuda/host/dist_check.h"
#include "libmodel/cuda/nccl_comm.h"
#include "libmodel/cuda/verified_backend.h"
#endif

namespace g2 {

Status dist_available() {
#if !defined(G2_HAVE_CUDA)
  return unsupported("--dist: this build has no CUDA backend (one process per GPU needs CUDA and NCCL; "
                     "configure with nvcc present). On the CPU use --tp-exec, which runs every rank in one process");
#elif !defined(G2_HAVE_NCCL)
  return unsupported("--dist: this build has no NCCL (libnccl was not found at configure time)");
#else
  if (cuda_device_count() == 0) return unsupported("--dist: no CUDA device: " + cuda_unavailable_reason());
  return Status::Ok();
#endif
}

Expected<DistRank> join_tp_group(WeightSource& w, std::span<const int32_t> tokens, int tp, const ForwardOptions& run) {
  G2_TRY(dist_available());
#if defined(G2_HAVE_CUDA)
  auto env = parse_dist_env_from_process();
  if (!env) return Error{env.error().kind, "--dist: " + env.message()};
  auto pos = tp_position(*env, tp);
  if (!pos) return Error{pos.error().kind, "--dist: " + pos.message()};
  const std::string me = "--dist: rank " + std::to_string(env->rank) + ": ";
  auto comm = NcclComm::create(*env);
  if (!comm) return Error{comm.error().kind, me + comm.message()};
  CudaBackendOptions opt;
  opt.comm = std::shared_ptr<NcclComm>(std::move(*comm));
  auto be = make_cuda_backend(pos->device, opt);
  if (!be) return Error{be.error().kind, me + be.message()};
  SelfCheckOptions check;
  check.forward = run;
  check.forward.tp = tp;
  check.forward.only_rank = pos->tp_rank;
  const std::string where = cuda_device_description(pos->device) + ", rank " + std::to_string(pos->tp_rank);
  if (Status st = dist_self_check(w, **be, tokens, check, pos->tp_rank, tp, where); !st)
    return Error{st.error().kind, me + st.message()};
  DistRank d;
  d.rank = pos->tp_rank;
  d.world_size = env->world_size;
  d.backend = std::move(*be);
  return d;
#else
  (void)w;
  (void)tokens;
  (void)tp;
  (void)run;
  return unsupported("--dist: this build has no CUDA backend");
#endif
}

}  // namespace g2
