// CudaBackend: every Backend op is one launcher from kernels/cuda/ (each calling the shared
// G2_HD math) or one cuBLAS call; everything runs in order on one compute stream. Host
// control arrays (expert rows, gates, top-k results) cross with small stream-ordered copies.
//
// from_host() and matmul_stored() are the weight-streaming path: a weight is copied (or, for a
// stored view, dequantized by all host cores) into one of two pinned staging buffers and sent
// to the device on a separate copy stream; the compute stream waits on the copy's event. While the GPU computes layer L
// (its kernels are queued asynchronously), the host prepares layer L+1's weights and their copies overlap the compute;
// a staging buffer is only refilled once its previous copy has finished.
//
// Memory is stream-ordered (cudaMallocAsync / cudaFreeAsync from the device's default pool,
// which keeps freed memory for reuse): releasing a buffer queues its free behind the work
// that reads it instead of calling cudaFree, which synchronises the whole device after every
// weight, stalls the copy stream's overlap and, with one thread per GPU in one process, can
// block a thread in cudaFree while its peers wait in an NCCL all-reduce for it.
//
// Host waits (download, router, sync) go through wait(): with a TP communicator it polls the
// stream and NCCL's asynchronous error state and gives up after the communicator's timeout
// (NcclComm::wait), so a peer rank that died leaves this one with an error, not a hang.
#include "libmodel/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/check.h"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/moe.cuh"
#include "kernels/cuda/rmsnorm.cuh"
#include "kernels/cuda/rope.cuh"
#include "kernels/cuda/router.cuh"
#include "kernels/ops/rope.h"
#include "kernels/cpu/work_pool.h"
#include "libmodel/cuda/gemm.h"
#include "libmodel/cuda/nccl_comm.h"
#include "libmodel/stored_weight.h"

namespace g2 {
namespace {

// Stream-ordered temporary device array.
template <class T>
class Scratch {
 public:
  Scratch(size_t n, cudaStream_t s) : s_(s) {
    if (n) G2_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&p_), n * sizeof(T), s_));
  }
  ~Scratch() {
    if (p_) cudaFreeAsync(p_, s_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
  cudaStream_t s_;
};

// The compute stream as the release hooks of BackendBuffers see it: a buffer may outlive its
// backend (a caller's local destroyed after it), and then its free falls back to cudaFree.
struct StreamRef {
  int device = 0;
  cudaStream_t stream = nullptr;  // null once the backend is gone
};

void release_device(const std::shared_ptr<StreamRef>& ref, void* p) {
  cudaSetDevice(ref->device);
  if (ref->stream)
    cudaFreeAsync(p, ref->stream);  // ordered after every queued use of p on the compute stream
  else
    cudaFree(p);
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, const CudaBackendOptions& opt) : device_(device), opt_(opt) {
    G2_CUDA_CHECK(cudaSetDevice(device_));
    G2_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    G2_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
    for (auto& st : stage_) G2_CUDA_CHECK(cudaEventCreateWithFlags(&st.done, cudaEventDisableTiming));
    // Keep freed blocks in the pool (the default threshold 0 returns them to the driver at
    // every synchronisation, and the next layer's weights would map fresh memory again).
    cudaMemPool_t pool = nullptr;
    G2_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool, device_));
    uint64_t keep = UINT64_MAX;
    G2_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
    ref_ = std::make_shared<StreamRef>(StreamRef{device_, stream_});
    gemm_ = std::make_unique<GemmContext>(device_, stream_);
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(copy_stream_);
    // With a TP group the stream may hold an all-reduce a dead peer never joins: bounded wait.
    if (opt_.comm) (void)opt_.comm->wait(stream_);
    cudaStreamSynchronize(stream_);
    if (ref_) ref_->stream = nullptr;  // buffers released from now on use cudaFree
    if (rope_table_) cudaFree(rope_table_);
    gemm_.reset();
    for (auto& st : stage_) {
      cudaEventDestroy(st.done);
      if (st.host) cudaFreeHost(st.host);
    }
    cudaStreamDestroy(copy_stream_);
    cudaStreamDestroy(stream_);
  }

  std::string_view name() const override { return "cuda"; }
  cudaStream_t stream() const { return stream_; }

  // ---- memory -------------------------------------------------------------------------
  BackendBuffer alloc(size_t n) override {
    BackendBuffer b = raw_alloc(n, stream_);
    if (n) G2_CUDA_CHECK(cudaMemsetAsync(b.data(), 0, n * sizeof(float), stream_));
    return b;
  }
  void upload(float* dst, const float* src, size_t n) override {
    if (n) G2_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyHostToDevice, stream_));
  }
  void download(float* dst, const float* src, size_t n) override {
    if (!n) return;
    G2_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    wait();
  }
  BackendBuffer from_host(std::vector<float>&& host) override {
    BackendBuffer b = upload_staged(host.size(), [&](float* staging) {
      std::memcpy(staging, host.data(), host.size() * sizeof(float));
      host.clear();
      host.shrink_to_fit();
    });
    return b;
  }
  // The stored weight dequantized by every host core straight into the pinned staging buffer
  // (the same StoredWeight values the default's single-threaded dequantize() gives, without a
  // fresh f32 vector and a second copy), uploaded, then the f32 GEMM as before.
  void matmul_stored(const float* x, int ldx, const StoredWeight& w, float* y, int ldy, int T,
                     bool accumulate) override {
    BackendBuffer f = upload_staged(size_t(w.rows) * size_t(w.cols), [&](float* staging) {
      w.dequantize_into(staging, &pool_);
    });
    matmul(x, ldx, f.data(), int(w.cols), y, ldy, T, int(w.rows), int(w.cols), accumulate);
  }
  void sync() override { wait(); }

  // ---- tensor parallelism ---------------------------------------------------------------
  // x[n] = sum over the TP ranks (NCCL, queued on the compute stream); no-op without a comm.
  Status all_reduce_sum(float* x, size_t n) override {
    if (!opt_.comm) return Status::Ok();
    return opt_.comm->all_reduce_sum(x, n, stream_);
  }
  void abandon_group() override {
    if (opt_.comm) opt_.comm->abort();
  }

  // ---- GEMM ---------------------------------------------------------------------------
  void matmul(const float* x, int ldx, const float* w, int ldw, float* y, int ldy, int T, int N, int K,
              bool accumulate) override {
    if (T == 0 || N == 0) return;
    if (K == 0) {
      if (!accumulate) G2_CUDA_CHECK(cudaMemset2DAsync(y, size_t(ldy) * 4, 0, size_t(N) * 4, size_t(T), stream_));
      return;
    }
    if (opt_.gemm == CudaGemmPrecision::F32) {
      gemm_->f32(x, ldx, w, ldw, y, ldy, T, N, K, accumulate);
      return;
    }
    // Bf16: round the operands (including any leading-dimension padding) and keep the strides.
    Scratch<uint16_t> xb(size_t(T - 1) * ldx + K, stream_), wb(size_t(N - 1) * ldw + K, stream_);
    cuda::launch_f32_to_bf16(x, xb.get(), int64_t(T - 1) * ldx + K, stream_);
    cuda::launch_f32_to_bf16(w, wb.get(), int64_t(N - 1) * ldw + K, stream_);
    gemm_->bf16(xb.get(), ldx, wb.get(), ldw, y, ldy, T, N, K, accumulate);
  }

  // ---- per-row ops --------------------------------------------------------------------
  void rmsnorm(const float* x, const float* scale, float* y, int T, int H, float eps) override {
    cuda::launch_rmsnorm(x, scale, y, T, H, eps, stream_);
  }
  void rope(float* x, int T, int n_heads, int head_dim, int pos0, float theta) override {
    cuda::launch_rope(x, T, n_heads, head_dim, pos0, rope_table(head_dim, theta), stream_);
  }
  void attention(const float* q, const float* k, const float* v, float* out, const AttentionParams& p) override {
    cuda::AttentionArgs a;
    a.n_tokens = p.n_tokens;
    a.n_heads = p.n_heads;
    a.n_kv_heads = p.n_kv_heads;
    a.head_dim = p.head_dim;
    a.pos0 = p.pos0;
    a.scale = p.scale;
    a.softcap = p.softcap;
    a.temperature_len = p.temperature_len;
    a.round_scores_bf16 = p.round_scores_bf16;
    a.round_probs_bf16 = p.round_probs_bf16;
    cuda::launch_attention(q, k, v, out, a, stream_);
  }
  void router(float* logits, int T, int E, int k, float cap, int32_t* host_idx, float* host_gate) override {
    if (T == 0) return;
    Scratch<int32_t> idx(size_t(T) * k, stream_);
    Scratch<float> gate(size_t(T) * k, stream_);
    cuda::launch_router(logits, T, E, k, cap, idx.get(), gate.get(), stream_);
    G2_CUDA_CHECK(cudaMemcpyAsync(host_idx, idx.get(), size_t(T) * k * 4, cudaMemcpyDeviceToHost, stream_));
    G2_CUDA_CHECK(cudaMemcpyAsync(host_gate, gate.get(), size_t(T) * k * 4, cudaMemcpyDeviceToHost, stream_));
    wait();  // the host decides which experts to load
  }

  // ---- elementwise --------------------------------------------------------------------
  void add(float* y, const float* x, size_t n) override { cuda::launch_add(y, x, int64_t(n), stream_); }
  void scale(float* x, size_t n, float s) override { cuda::launch_scale(x, int64_t(n), s, stream_); }
  void round_bf16(float* x, size_t n) override { cuda::launch_round_bf16(x, int64_t(n), stream_); }
  void softcap(float* x, size_t n, float cap) override { cuda::launch_softcap(x, int64_t(n), cap, stream_); }
  void gelu_mul(const float* gate, const float* up, float* out, size_t n, GeluKind kind, bool round_gelu) override {
    cuda::launch_gelu_mul(gate, up, out, int64_t(n), int(kind), round_gelu, stream_);
  }

  // ---- row movement for experts -------------------------------------------------------
  void gather_rows(const float* src, const int32_t* host_rows, int n, int H, float* dst) override {
    if (n == 0) return;
    Scratch<int32_t> rows(size_t(n), stream_);
    to_device(rows.get(), host_rows, size_t(n));
    cuda::launch_gather_rows(src, rows.get(), n, H, dst, stream_);
  }
  void scatter_rows(const float* src, const int32_t* host_rows, int n, int H, float* dst) override {
    if (n == 0) return;
    Scratch<int32_t> rows(size_t(n), stream_);
    to_device(rows.get(), host_rows, size_t(n));
    cuda::launch_scatter_rows(src, rows.get(), n, H, dst, stream_);
  }
  void combine_topk(const float* slots, const float* host_gate, int T, int k, int H, float* out,
                    bool round_gate) override {
    if (T == 0) return;
    Scratch<float> gate(size_t(T) * k, stream_);
    to_device(gate.get(), host_gate, size_t(T) * k);
    cuda::launch_combine_topk(slots, gate.get(), T, k, H, out, round_gate, stream_);
  }

 private:
  struct Stage {
    void* host = nullptr;  // pinned (cudaHostAlloc)
    size_t bytes = 0;
    cudaEvent_t done = nullptr;
  };

  // n floats on the device, filled by fill(pinned host staging of n floats) and copied on the
  // copy stream; the compute stream waits for the copy. Two staging buffers alternate, a
  // buffer is refilled only once its previous copy has finished.
  template <class Fill>
  BackendBuffer upload_staged(size_t n, Fill&& fill) {
    const size_t bytes = n * sizeof(float);
    // Allocated in copy-stream order (the copy below is its first use); freed in compute-stream
    // order, which waits on the copy's event, so the free follows every use.
    BackendBuffer b = raw_alloc(n, copy_stream_);
    if (!n) return b;
    Stage& st = stage_[next_stage_];
    next_stage_ ^= 1;
    G2_CUDA_CHECK(cudaEventSynchronize(st.done));  // the previous copy out of this buffer is done
    if (st.bytes < bytes) {
      if (st.host) G2_CUDA_CHECK(cudaFreeHost(st.host));
      st.host = nullptr;
      G2_CUDA_CHECK(cudaHostAlloc(&st.host, bytes, cudaHostAllocDefault));
      st.bytes = bytes;
    }
    fill(static_cast<float*>(st.host));
    G2_CUDA_CHECK(cudaMemcpyAsync(b.data(), st.host, bytes, cudaMemcpyHostToDevice, copy_stream_));
    G2_CUDA_CHECK(cudaEventRecord(st.done, copy_stream_));
    G2_CUDA_CHECK(cudaStreamWaitEvent(stream_, st.done, 0));  // compute uses it only once copied
    return b;
  }
  // n floats from the pool, in `order`'s stream order; the release hook frees in compute order.
  BackendBuffer raw_alloc(size_t n, cudaStream_t order) {
    if (n == 0) return BackendBuffer();
    float* p = nullptr;
    if (cudaError_t e = cudaMallocAsync(reinterpret_cast<void**>(&p), n * sizeof(float), order); e != cudaSuccess) {
      cudaGetLastError();
      throw DeviceError("g2kit CUDA error: cannot allocate " + std::to_string(n * sizeof(float)) + " bytes on " +
                        cuda_device_description(device_) + ": " + cudaGetErrorString(e));
    }
    std::shared_ptr<StreamRef> ref = ref_;
    return BackendBuffer(p, n, [ref](float* q) { release_device(ref, q); });
  }
  // Blocks until the compute stream is idle; with a TP communicator, bounded (NcclComm::wait).
  void wait() {
    if (opt_.comm) {
      if (Status st = opt_.comm->wait(stream_); !st) throw DeviceError(st.message());
      return;
    }
    G2_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  // The device copy of rope_inv_freq(head_dim, theta): built on the host, uploaded once per
  // (head_dim, theta), so the kernels rotate by the CPU backend's very angles.
  const float* rope_table(int head_dim, float theta) {
    if (!rope_table_ || head_dim != rope_dim_ || theta != rope_theta_) {
      const std::vector<float> f = rope_inv_freq(head_dim, theta);
      if (rope_table_) G2_CUDA_CHECK(cudaFreeAsync(rope_table_, stream_));
      rope_table_ = nullptr;
      G2_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&rope_table_), f.size() * sizeof(float), stream_));
      to_device(rope_table_, f.data(), f.size());
      rope_dim_ = head_dim;
      rope_theta_ = theta;
    }
    return rope_table_;
  }
  // Pageable host source: cudaMemcpyAsync returns once the bytes are staged, so the caller's
  // array may be freed right after, and the copy stays ordered on the compute stream.
  template <class T>
  void to_device(T* dst, const T* host, size_t n) {
    G2_CUDA_CHECK(cudaMemcpyAsync(dst, host, n * sizeof(T), cudaMemcpyHostToDevice, stream_));
  }

  int device_;
  CudaBackendOptions opt_;
  cudaStream_t stream_ = nullptr, copy_stream_ = nullptr;
  std::shared_ptr<StreamRef> ref_;
  WorkPool pool_{WorkPool::all_core_helpers()};  // host threads that dequantize stored weights into the staging buffers
  float* rope_table_ = nullptr;
  int rope_dim_ = 0;
  float rope_theta_ = 0.0f;
  Stage stage_[2];
  int next_stage_ = 0;
  std::unique_ptr<GemmContext> gemm_;
};

}  // namespace

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the "no driver / no device" error
    return 0;
  }
  return n;
}

std::string cuda_unavailable_reason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaSuccess && n > 0) return "";
  cudaGetLastError();
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  auto ver = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
  std::string why = e == cudaSuccess ? std::string("no device") : std::string(cudaGetErrorString(e));
  return "cudaGetDeviceCount: " + why + " (driver supports CUDA " + (driver ? ver(driver) : std::string("none")) +
         ", runtime " + ver(runtime) + ")";
}

std::string cuda_device_description(int device) {
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, device) != cudaSuccess) return "device " + std::to_string(device) + " (unavailable)";
  char mem[32];
  std::snprintf(mem, sizeof mem, "%.1f GiB", double(p.totalGlobalMem) / double(1ull << 30));
  return std::string(p.name) + ", sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " + mem;
}

Expected<std::unique_ptr<Backend>> make_cuda_backend(int device, const CudaBackendOptions& opt) {
  const int n = cuda_device_count();
  if (n == 0) return unsupported("no CUDA device: " + cuda_unavailable_reason());
  if (device < 0 || device >= n)
    return invalid("CUDA device " + std::to_string(device) + " does not exist (this machine has " + std::to_string(n) +
                   ")");
  return catch_device_errors([&]() -> Expected<std::unique_ptr<Backend>> {
    return std::unique_ptr<Backend>(std::make_unique<CudaBackend>(device, opt));
  });
}

void* cuda_backend_stream(Backend& b) {
  auto* c = dynamic_cast<CudaBackend*>(&b);
  return c ? static_cast<void*>(c->stream()) : nullptr;
}

}  // namespace g2
