// Backend: the compute interface the layer forward is written against once (docs/architecture.md
// "Model"). The CPU backend (libmodel/cpu_backend.*) loops over kernels/ G2_HD functions and
// calls OpenBLAS for GEMMs; the CUDA backend (libmodel/cuda/) launches kernels that call the
// same G2_HD functions per thread and cuBLAS for GEMMs. The math exists once.
//
// Memory model: every activation and weight the forward touches is an f32 array in the
// backend's memory (`BackendBuffer`: host memory for cpu, device memory for cuda), row-major.
// Weights are already dequantized to f32 and laid out [out, in] (PyTorch order) before they
// reach a backend. Small control data (token positions, routed rows, top-k indices) stays on
// the host and is passed as host pointers: the host decides which expert weights to load.
//
// Device failures: the ops are void, so a backend whose device fails (a CUDA/cuBLAS error,
// out of memory, a TP peer that never answers) throws DeviceError (kernels/device_error.h).
// Whoever drives a backend catches it at its boundary (catch_device_errors below): run_forward
// returns it as an Io Error, so tools exit 2 with the message instead of aborting.
//
// Determinism: every reduction a backend does outside the GEMM runs in a fixed order
// (index order), so two runs on one backend are bit-identical. GEMM results may differ
// between backends within f32 accumulation-order error.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "kernels/device_error.h"
#include "kernels/ops/activation.h"
#include "libconvert/status.h"

namespace g2 {

class Backend;
class StoredWeight;  // libmodel/stored_weight.h

// A float array in a backend's memory. Move-only; frees itself through its release hook.
class BackendBuffer {
 public:
  BackendBuffer() = default;
  BackendBuffer(float* data, size_t n, std::function<void(float*)> release)
      : data_(data), n_(n), release_(std::move(release)) {}
  BackendBuffer(BackendBuffer&& o) noexcept { swap(o); }
  BackendBuffer& operator=(BackendBuffer&& o) noexcept {
    BackendBuffer t(std::move(o));
    swap(t);
    return *this;
  }
  BackendBuffer(const BackendBuffer&) = delete;
  BackendBuffer& operator=(const BackendBuffer&) = delete;
  ~BackendBuffer() {
    if (data_ && release_) release_(data_);
  }
  float* data() const { return data_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }

 private:
  void swap(BackendBuffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(n_, o.n_);
    std::swap(release_, o.release_);
  }
  float* data_ = nullptr;
  size_t n_ = 0;
  std::function<void(float*)> release_;
};

// Everything attention needs besides the q/k/v arrays. One query row per token; token t sits
// at absolute position pos0 + t and attends causally to keys 0..t (this call's keys only:
// the verifying runtime runs whole prompts, no KV cache).
struct AttentionParams {
  int n_tokens = 0;     // T
  int n_heads = 0;      // q heads in this call (a TP rank's local heads)
  int n_kv_heads = 0;   // kv heads in this call; q head h uses kv head h / (n_heads / n_kv_heads)
  int head_dim = 0;
  int pos0 = 0;              // absolute position of token 0
  float scale = 1.0f;        // attn_output_multiplier (= head_dim^-0.5 for Grok-2)
  float softcap = 0.0f;      // attn_logit_softcapping, <= 0: off
  int temperature_len = 0;   // attn_temperature_len, <= 0: off (kernels/ops/attention.h)
  bool round_scores_bf16 = false;  // reference mode: q.k rounded to bf16 before the scale
  bool round_probs_bf16 = false;   // reference mode: softmax probabilities rounded to bf16
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;

  // ---- memory -------------------------------------------------------------------------
  virtual BackendBuffer alloc(size_t n) = 0;  // n floats, zero-filled
  virtual void upload(float* dst, const float* host_src, size_t n) = 0;
  virtual void download(float* host_dst, const float* src, size_t n) = 0;
  // Move a host array into backend memory. The cpu backend adopts it without copying;
  // the default copies (alloc + upload).
  virtual BackendBuffer from_host(std::vector<float>&& host);
  // Wait for queued work (no-op on cpu).
  virtual void sync() {}

  // ---- tensor parallelism, one rank per process/worker ------------------------------------
  // In place: x[n] = sum over the TP group's ranks of x[n]. Called by the forward with
  // ForwardOptions::only_rank set, once after the attention output projection and once after
  // every row-parallel FFN projection, in the same order on every rank. A single-process
  // backend has no group: the default is a no-op. CUDA: NCCL (libmodel/cuda/nccl_comm.h).
  virtual Status all_reduce_sum(float* x, size_t n) {
    (void)x;
    (void)n;
    return Status::Ok();
  }
  // This rank stops taking part in its group's collectives for good (it failed half-way
  // through a sequence of all-reduces): its peers' pending and later all-reduces fail instead
  // of waiting for it. CUDA: ncclCommAbort. No group: nothing to do.
  virtual void abandon_group() {}

  // ---- GEMM ---------------------------------------------------------------------------
  // y[T, N] (+)= x[T, K] @ w[N, K]^T with leading dimensions (in floats) ldx, ldw, ldy, so a
  // column block of x/w (a K-slice) or of y can be addressed in place. accumulate: y += ...
  virtual void matmul(const float* x, int ldx, const float* w, int ldw, float* y, int ldy, int T, int N, int K,
                      bool accumulate) = 0;
  // y[T, N] (+)= x[T, K] @ W^T with W [N = w.rows, K = w.cols] read where the checkpoint
  // stores it (libmodel/stored_weight.h: mapped host blocks of BF16/F32/FP8). x, y as in
  // matmul. The default dequantizes the view to f32 on the host (StoredWeight::dequantize,
  // the same values WeightSource::matrix gives), moves it in with from_host and calls matmul:
  // what the CUDA backend uses. The CPU backend multiplies in place (cpu_matmul_stored.h).
  virtual void matmul_stored(const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T,
                             bool accumulate);
  // Contiguous convenience form: y[T, N] = x[T, K] @ w[N, K]^T.
  void matmul(const float* x, const float* w, float* y, int T, int N, int K) {
    matmul(x, K, w, K, y, N, T, N, K, false);
  }

  // ---- per-row ops (kernels/ops/*.h) --------------------------------------------------
  // y[T, H] = rmsnorm(x[T, H]) * scale[H]; y may alias x.
  virtual void rmsnorm(const float* x, const float* scale, float* y, int T, int H, float eps) = 0;
  // Half-split RoPE in place over x[T, n_heads * head_dim]; token t at position pos0 + t.
  // inv_freq[i] = theta^(-2i/head_dim) (plain frequencies: rope_type default/original), the
  // table rope_inv_freq() (kernels/ops/rope.h) builds on the host for every backend.
  virtual void rope(float* x, int T, int n_heads, int head_dim, int pos0, float theta) = 0;
  // out[T, n_heads * head_dim] = softmax(mask(temp * softcap(scale * q.k))) @ v, per head.
  // q [T, n_heads * head_dim], k/v [T, n_kv_heads * head_dim].
  virtual void attention(const float* q, const float* k, const float* v, float* out, const AttentionParams& p) = 0;
  // Router over logits[T, E] (in place: logits become softcap(logits), what the softmax
  // sees, cap <= 0 = off); f32 softmax; top-k with ties to the lower index; gates are the
  // raw probabilities (no renormalization). Writes HOST arrays idx[T, k], gate[T, k].
  virtual void router(float* logits, int T, int E, int k, float softcap, int32_t* host_idx, float* host_gate) = 0;

  // ---- elementwise --------------------------------------------------------------------
  virtual void add(float* y, const float* x, size_t n) = 0;             // y += x
  virtual void scale(float* x, size_t n, float s) = 0;                  // x *= s
  virtual void round_bf16(float* x, size_t n) = 0;                      // x = bf16(x), RNE
  virtual void softcap(float* x, size_t n, float cap) = 0;              // x = cap * tanh(x / cap)
  // out[n] = gelu(gate[n]) * up[n]; round_gelu_bf16 rounds gelu(gate) to bf16 before the product.
  virtual void gelu_mul(const float* gate, const float* up, float* out, size_t n, GeluKind kind,
                        bool round_gelu_bf16) = 0;

  // ---- row movement for experts -------------------------------------------------------
  // dst[i, :] = src[rows[i], :] for i < n (rows on the host). Row width H.
  virtual void gather_rows(const float* src, const int32_t* host_rows, int n, int H, float* dst) = 0;
  // dst[rows[i], :] = src[i, :] for i < n.
  virtual void scatter_rows(const float* src, const int32_t* host_rows, int n, int H, float* dst) = 0;
  // out[t, :] = sum_{j<k} gate[t, j] * slots[t*k + j, :], summed in slot order j = 0..k-1.
  // round_gate_bf16: gates rounded to bf16 first (JAX reference). gate is a host array [T, k].
  virtual void combine_topk(const float* slots, const float* host_gate, int T, int k, int H, float* out,
                            bool round_gate_bf16) = 0;
};

// Runs f (returning Status or Expected<T>); a DeviceError thrown by a backend op inside it
// becomes an Io Error carrying the device's message.
template <class F>
auto catch_device_errors(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const DeviceError& e) {
    return io_error(e.what());
  }
}

// The OpenBLAS + kernels/ backend.
std::unique_ptr<Backend> make_cpu_backend();

}  // namespace g2
