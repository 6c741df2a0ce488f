// Expert row movement and the gate-weighted combine on the device (kernels/ops/moe.h).
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

namespace g2::cuda {

// dst[i, :] = src[rows[i], :], i < n; rows: device int32 [n]; width H.
void launch_gather_rows(const float* src, const int32_t* rows, int64_t n, int H, float* dst, cudaStream_t s);
// dst[rows[i], :] = src[i, :], i < n (rows distinct).
void launch_scatter_rows(const float* src, const int32_t* rows, int64_t n, int H, float* dst, cudaStream_t s);
// out[t, :] = sum_{j<k} gate[t, j] * slots[t*k + j, :] in slot order; gate device [T, k].
void launch_combine_topk(const float* slots, const float* gate, int64_t T, int k, int H, float* out,
                         bool round_gate_bf16, cudaStream_t s);

}  // namespace g2::cuda
