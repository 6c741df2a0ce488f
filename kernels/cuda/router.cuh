// MoE router on the device (kernels/ops/moe.h router_row): softcap, f32 softmax, top-k with
// ties to the lower index, gates not renormalized.
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

namespace g2::cuda {

// logits: [T, E] f32, in place (become softcap(logits)); idx: [T, k] int32; gate: [T, k] f32.
// All device pointers. E <= 256, k <= 16 (kRouterMaxExperts / kRouterMaxTopK).
void launch_router(float* logits, int64_t tokens, int experts, int k, float softcap, int32_t* idx, float* gate,
                   cudaStream_t s);

}  // namespace g2::cuda
