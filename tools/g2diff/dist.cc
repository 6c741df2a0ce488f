#include "dist.h"

#if defined(G2_HAVE_CUDA)
#include "libmodel/cuda/host/dist_env.h"
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
  if (cuda_device_count() == 0) return unsupported("--dist: no CUDA device");
  return Status::Ok();
#endif
}

Expected<DistRank> join_tp_group(WeightSource& w, std::span<const int32_t> tokens, int tp) {
  G2_TRY(dist_available());
#if defined(G2_HAVE_CUDA)
  auto env = parse_dist_env_from_process();
  if (!env) return Error{env.error().kind, "--dist: " + env.message()};
  auto pos = tp_position(*env, tp);
  if (!pos) return Error{pos.error().kind, "--dist: " + pos.message()};
  auto comm = NcclComm::create(*env);
  if (!comm) return Error{comm.error().kind, "--dist: rank " + std::to_string(env->rank) + ": " + comm.message()};
  CudaBackendOptions opt;
  opt.comm = std::shared_ptr<NcclComm>(std::move(*comm));
  auto vb = make_verified_cuda_backend(w, tokens, pos->device, {}, opt);
  if (!vb) return Error{vb.error().kind, "--dist: rank " + std::to_string(env->rank) + ": " + vb.message()};
  DistRank d;
  d.rank = pos->tp_rank;
  d.world_size = env->world_size;
  d.backend = std::move(vb->backend);
  return d;
#else
  (void)w;
  (void)tokens;
  (void)tp;
  return unsupported("--dist: this build has no CUDA backend");
#endif
}

}  // namespace g2
