// Every CUDA Backend op against the CPU backend on random inputs (label gpu: compiled in CI,
// run with `ctest -L gpu` on a machine with a device).
#include <cmath>

#include "tests/gpu/gpu_util.h"

namespace g2 {
namespace {

using gputest::both;
using gputest::close_f32;
using gputest::expect_close;
using gputest::fetch;
using gputest::randn;

struct Backends {
  std::unique_ptr<Backend> cpu = make_cpu_backend();
  std::unique_ptr<Backend> gpu;
  Backends() {
    auto g = make_cuda_backend(0);
    if (g.ok()) gpu = std::move(*g);
  }
};

TEST(CudaOps, Rmsnorm) {
  G2_REQUIRE_GPU();
  Backends b;
  for (int H : {7, 384, 8192}) {
    const int T = 5;
    auto x = both(*b.cpu, *b.gpu, randn(size_t(T) * H, 1, 3.0f));
    auto s = both(*b.cpu, *b.gpu, randn(size_t(H), 2));
    auto yc = b.cpu->alloc(size_t(T) * H), yg = b.gpu->alloc(size_t(T) * H);
    b.cpu->rmsnorm(x.cpu.data(), s.cpu.data(), yc.data(), T, H, 1e-5f);
    b.gpu->rmsnorm(x.gpu.data(), s.gpu.data(), yg.data(), T, H, 1e-5f);
    expect_close(fetch(*b.gpu, yg), fetch(*b.cpu, yc), close_f32(), "rmsnorm");
  }
}

// Both backends rotate by the same f32 angles (the host-built inv_freq table), so even at
// positions in the thousands only cosf/sinf ulps differ: a bound 100x tighter than the other
// ops'. (With inv_freq from the device's own powf, an ulp of inv_freq times the position
// exceeded even close_f32() at position ~1000.)
TEST(CudaOps, Rope) {
  G2_REQUIRE_GPU();
  Backends b;
  const int T = 9, nh = 6, hd = 128;
  Tolerance tight = close_f32(1e-6);
  tight.atol = 1e-6;
  tight.rtol = 1e-5;
  for (float theta : {10000.0f, 208533496.0f})
    for (int pos0 : {0, 1000, 8000}) {
      auto x = both(*b.cpu, *b.gpu, randn(size_t(T) * nh * hd, 3));
      b.cpu->rope(x.cpu.data(), T, nh, hd, pos0, theta);
      b.gpu->rope(x.gpu.data(), T, nh, hd, pos0, theta);
      expect_close(fetch(*b.gpu, x.gpu), fetch(*b.cpu, x.cpu), tight, "rope");
    }
}

TEST(CudaOps, AttentionGqaCausalSoftcapTemperature) {
  G2_REQUIRE_GPU();
  Backends b;
  for (bool reference : {false, true}) {
    AttentionParams p;
    p.n_tokens = 37;
    p.n_heads = 8;
    p.n_kv_heads = 2;
    p.head_dim = 16;
    p.pos0 = 1020;  // crosses attn_temperature_len
    p.scale = 0.25f;
    p.softcap = 30.0f;
    p.temperature_len = 1024;
    p.round_scores_bf16 = p.round_probs_bf16 = reference;
    const size_t qn = size_t(p.n_tokens) * p.n_heads * p.head_dim, kn = size_t(p.n_tokens) * p.n_kv_heads * p.head_dim;
    auto q = both(*b.cpu, *b.gpu, randn(qn, 4, 2.0f));
    auto k = both(*b.cpu, *b.gpu, randn(kn, 5, 2.0f));
    auto v = both(*b.cpu, *b.gpu, randn(kn, 6));
    auto oc = b.cpu->alloc(qn), og = b.gpu->alloc(qn);
    b.cpu->attention(q.cpu.data(), k.cpu.data(), v.cpu.data(), oc.data(), p);
    b.gpu->attention(q.gpu.data(), k.gpu.data(), v.gpu.data(), og.data(), p);
    // reference mode rounds to bf16: a 1-ulp device/host difference before a rounding can
    // move a value by one bf16 step
    expect_close(fetch(*b.gpu, og), fetch(*b.cpu, oc), reference ? close_f32(1e-3) : close_f32(), "attention");
  }
}

TEST(CudaOps, RouterSoftcapSoftmaxTopK) {
  G2_REQUIRE_GPU();
  Backends b;
  const int T = 33, E = 8, k = 2;
  std::vector<float> logits = randn(size_t(T) * E, 7, 20.0f);
  for (int e = 0; e < E; ++e) logits[size_t(E) + size_t(e)] = 1.0f;  // token 1: all tied -> experts 0, 1
  auto l = both(*b.cpu, *b.gpu, logits);
  std::vector<int32_t> ic(size_t(T) * k), ig(size_t(T) * k);
  std::vector<float> gc(size_t(T) * k), gg(size_t(T) * k);
  b.cpu->router(l.cpu.data(), T, E, k, 30.0f, ic.data(), gc.data());
  b.gpu->router(l.gpu.data(), T, E, k, 30.0f, ig.data(), gg.data());
  EXPECT_EQ(ig, ic);
  EXPECT_EQ(ig[2], 0);
  EXPECT_EQ(ig[3], 1);
  expect_close(gg, gc, close_f32(), "router gates");
  expect_close(fetch(*b.gpu, l.gpu), fetch(*b.cpu, l.cpu), close_f32(), "capped logits");
}

TEST(CudaOps, ElementwiseAndGeluMul) {
  G2_REQUIRE_GPU();
  Backends b;
  const size_t n = 100003;
  const auto base = randn(n, 8, 40.0f), other = randn(n, 9);
  auto x = both(*b.cpu, *b.gpu, base), y = both(*b.cpu, *b.gpu, other);
  b.cpu->add(y.cpu.data(), x.cpu.data(), n);
  b.gpu->add(y.gpu.data(), x.gpu.data(), n);
  b.cpu->scale(y.cpu.data(), n, 0.37f);
  b.gpu->scale(y.gpu.data(), n, 0.37f);
  b.cpu->softcap(y.cpu.data(), n, 30.0f);
  b.gpu->softcap(y.gpu.data(), n, 30.0f);
  expect_close(fetch(*b.gpu, y.gpu), fetch(*b.cpu, y.cpu), close_f32(), "add/scale/softcap");
  b.cpu->round_bf16(x.cpu.data(), n);
  b.gpu->round_bf16(x.gpu.data(), n);
  EXPECT_EQ(fetch(*b.gpu, x.gpu), fetch(*b.cpu, x.cpu)) << "round_bf16 is bit-exact";
  for (GeluKind kind : {GeluKind::Tanh, GeluKind::Erf}) {
    auto g = both(*b.cpu, *b.gpu, randn(n, 10, 3.0f)), u = both(*b.cpu, *b.gpu, randn(n, 11));
    auto oc = b.cpu->alloc(n), og = b.gpu->alloc(n);
    b.cpu->gelu_mul(g.cpu.data(), u.cpu.data(), oc.data(), n, kind, false);
    b.gpu->gelu_mul(g.gpu.data(), u.gpu.data(), og.data(), n, kind, false);
    expect_close(fetch(*b.gpu, og), fetch(*b.cpu, oc), close_f32(), "gelu_mul");
  }
}

TEST(CudaOps, ExpertGatherScatterCombine) {
  G2_REQUIRE_GPU();
  Backends b;
  const int T = 6, k = 2, H = 300;
  auto src = both(*b.cpu, *b.gpu, randn(size_t(T) * H, 12));
  const std::vector<int32_t> rows = {4, 0, 5, 2};
  auto dc = b.cpu->alloc(rows.size() * H), dg = b.gpu->alloc(rows.size() * H);
  b.cpu->gather_rows(src.cpu.data(), rows.data(), int(rows.size()), H, dc.data());
  b.gpu->gather_rows(src.gpu.data(), rows.data(), int(rows.size()), H, dg.data());
  EXPECT_EQ(fetch(*b.gpu, dg), fetch(*b.cpu, dc));
  auto sc = b.cpu->alloc(size_t(T) * H), sg = b.gpu->alloc(size_t(T) * H);
  b.cpu->scatter_rows(dc.data(), rows.data(), int(rows.size()), H, sc.data());
  b.gpu->scatter_rows(dg.data(), rows.data(), int(rows.size()), H, sg.data());
  EXPECT_EQ(fetch(*b.gpu, sg), fetch(*b.cpu, sc));
  auto slots = both(*b.cpu, *b.gpu, randn(size_t(T) * k * H, 13));
  const std::vector<float> gate = randn(size_t(T) * k, 14);
  for (bool round_gate : {false, true}) {
    auto oc = b.cpu->alloc(size_t(T) * H), og = b.gpu->alloc(size_t(T) * H);
    b.cpu->combine_topk(slots.cpu.data(), gate.data(), T, k, H, oc.data(), round_gate);
    b.gpu->combine_topk(slots.gpu.data(), gate.data(), T, k, H, og.data(), round_gate);
    // same order of terms; nvcc may fuse multiply-adds, so not bit-exact
    expect_close(fetch(*b.gpu, og), fetch(*b.cpu, oc), close_f32(), "combine_topk");
  }
}

TEST(CudaOps, FromHostStreamsThroughPinnedBuffers) {
  G2_REQUIRE_GPU();
  Backends b;
  // More arrays than staging buffers, of growing sizes: each must arrive intact.
  std::vector<BackendBuffer> bufs;
  std::vector<std::vector<float>> want;
  for (int i = 0; i < 5; ++i) {
    want.push_back(randn(size_t(1000 * (i + 1)), 20 + uint32_t(i)));
    bufs.push_back(b.gpu->from_host(std::vector<float>(want.back())));
  }
  for (size_t i = 0; i < bufs.size(); ++i) EXPECT_EQ(fetch(*b.gpu, bufs[i]), want[i]) << i;
}

// Out of device memory is a DeviceError with the size and the runtime's message (the tools
// exit 2 with it), and the backend stays usable afterwards.
TEST(CudaOps, OutOfMemoryIsADeviceErrorNotAnAbort) {
  G2_REQUIRE_GPU();
  Backends b;
  try {
    (void)b.gpu->alloc(size_t(1) << 42);  // 16 TiB
    FAIL() << "a 16 TiB allocation succeeded";
  } catch (const DeviceError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cannot allocate 17592186044416 bytes"), std::string::npos) << m;
  }
  auto x = both(*b.cpu, *b.gpu, randn(64, 5));
  EXPECT_EQ(fetch(*b.gpu, x.gpu), fetch(*b.cpu, x.cpu));
}

}  // namespace
}  // namespace g2
