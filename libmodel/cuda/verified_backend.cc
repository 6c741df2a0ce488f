#include "libmodel/cuda/verified_backend.h"

#include <string>

namespace g2 {

Status verify_cuda_backend(WeightSource& w, Backend& cuda, std::span<const int32_t> tokens, int device,
                           const SelfCheckOptions& check, SelfCheckReport* report) {
  auto cpu = make_cpu_backend();
  auto rep = backend_self_check(w, *cpu, cuda, tokens, check);
  if (!rep) return rep.error();
  if (report) *report = *rep;
  if (!rep->pass) return self_check_refusal(*rep, cuda_device_description(device));
  return Status::Ok();
}

Expected<VerifiedBackend> make_verified_cuda_backend(WeightSource& w, std::span<const int32_t> tokens, int device,
                                                     const SelfCheckOptions& check, const CudaBackendOptions& opt) {
  auto cuda = make_cuda_backend(device, opt);
  if (!cuda) return cuda.error();
  VerifiedBackend v;
  G2_TRY(verify_cuda_backend(w, **cuda, tokens, device, check, &v.report));
  v.backend = std::move(*cuda);
  return v;
}

}  // namespace g2
