// Kernels: one block per (query token, head), a simple correct kernel rather than a fused
// flash kernel: the threads score the causal keys in parallel with the shared
// attention_score, thread 0 runs the shared softmax_row over the scores (the same
// sequential f32 sum the CPU does), then the threads produce output elements with the
// shared attention_value_element. Everything numeric is in kernels/ops/attention.h.
#include "kernels/codecs.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/check.h"
#include "kernels/cuda/geometry.h"
#include "kernels/ops/attention.h"
#include "kernels/ops/softmax_topk.h"

namespace g2::cuda {
namespace {

// Blocks cover tokens [tok0, tok0 + chunk); blockIdx.x = local_token * n_heads + head.
// scratch: null -> scores in dynamic shared memory; else [chunk * n_heads, n_tokens] global.
__global__ void attention_kernel(const float* q, const float* k, const float* v, float* out, AttentionArgs a,
                                 int tok0, float* scratch) {
  extern __shared__ float smem_scores[];
  const int local = int(blockIdx.x) / a.n_heads;
  const int h = int(blockIdx.x) % a.n_heads;
  const int t = tok0 + local;
  if (t >= a.n_tokens) return;
  float* scores = scratch ? scratch + int64_t(blockIdx.x) * a.n_tokens : smem_scores;
  const int d = a.head_dim, kh = h / (a.n_heads / a.n_kv_heads);
  const int64_t qs = int64_t(a.n_heads) * d, kvs = int64_t(a.n_kv_heads) * d;
  const float* qrow = q + int64_t(t) * qs + int64_t(h) * d;
  const float* kbase = k + int64_t(kh) * d;
  const float* vbase = v + int64_t(kh) * d;
  const int n_keys = t + 1;  // causal window
  const float temp = attn_temperature(a.pos0 + t, a.temperature_len);

  for (int j = int(threadIdx.x); j < n_keys; j += int(blockDim.x))
    scores[j] = attention_score(qrow, kbase + int64_t(j) * kvs, d, a.scale, a.softcap, temp, a.round_scores_bf16);
  __syncthreads();
  if (threadIdx.x == 0) softmax_row(scores, n_keys);
  __syncthreads();
  if (a.round_probs_bf16) {
    for (int j = int(threadIdx.x); j < n_keys; j += int(blockDim.x)) scores[j] = round_bf16(scores[j]);
    __syncthreads();
  }
  float* orow = out + int64_t(t) * qs + int64_t(h) * d;
  for (int i = int(threadIdx.x); i < d; i += int(blockDim.x))
    orow[i] = attention_value_element(scores, vbase, int(kvs), n_keys, i);
}

int max_dynamic_smem() {
  int dev = 0, optin = 0;
  G2_CUDA_CHECK(cudaGetDevice(&dev));
  G2_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  return optin;
}

}  // namespace

void launch_attention(const float* q, const float* k, const float* v, float* out, const AttentionArgs& a,
                      cudaStream_t s) {
  G2_KERNEL_REQUIRE(a.n_tokens >= 0 && a.n_heads > 0 && a.n_kv_heads > 0 && a.head_dim > 0);
  G2_KERNEL_REQUIRE(a.n_heads % a.n_kv_heads == 0);
  if (a.n_tokens == 0) return;
  const int smem_limit = max_dynamic_smem();
  const AttentionGeometry geo = attention_geometry(a.n_tokens, a.n_heads, smem_limit);
  G2_KERNEL_REQUIRE(geo.g.blocks <= kMaxGridX);
  if (!geo.global_scores && geo.g.smem > 48 * 1024)
    G2_CUDA_CHECK(cudaFuncSetAttribute(attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(geo.g.smem)));
  float* scratch = nullptr;
  if (geo.global_scores)
    G2_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&scratch), size_t(geo.scratch_floats) * sizeof(float), s));
  for (int64_t c = 0; c < geo.launches; ++c) {
    attention_kernel<<<unsigned(geo.g.blocks), unsigned(geo.g.threads), size_t(geo.g.smem), s>>>(
        q, k, v, out, a, int(c * geo.chunk_tokens), scratch);
    G2_CUDA_CHECK(cudaGetLastError());
  }
  if (scratch) G2_CUDA_CHECK(cudaFreeAsync(scratch, s));
}

}  // namespace g2::cuda
