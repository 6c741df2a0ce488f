#include "libmodel/cuda/verified_backend.h"

#include <string>

namespace g2 {

Expected<VerifiedBackend> make_verified_cuda_backend(WeightSource& w, std::span<const int32_t> tokens, int device,
                                                     const SelfCheckOptions& check, const CudaBackendOptions& opt) {
  auto cuda = make_cuda_backend(device, opt);
  if (!cuda) return cuda.error();
  auto cpu = make_cpu_backend();
  auto rep = backend_self_check(w, *cpu, **cuda, tokens, check);
  if (!rep) return rep.error();
  if (!rep->pass)
    return invalid("CUDA self-check failed on " + cuda_device_description(device) +
                   ": layer 0 / logits disagree with the CPU backend beyond tolerance; refusing to continue\n" +
                   rep->summary());
  return VerifiedBackend{std::move(*cuda), std::move(*rep)};
}

}  // namespace g2
