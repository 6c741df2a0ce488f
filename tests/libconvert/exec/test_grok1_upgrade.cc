// End to end over the real readers: a g2synth Grok-1 tiny JAX checkpoint -> --to grok2 (TP 2,
// rank layout) -> read back as one model: every weight equals the reference dequantisation
// bf16(int8 * bf16 scale) bit for bit (blocked scales honoured), router/norms exact.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "kernels/codecs.h"
#include "libconvert/exec/execute.h"

namespace g2 {
namespace {

namespace fs = std::filesystem;

TEST(Grok1Upgrade, RealReadersBitExactAgainstReference) {
  const std::string synth = std::string(G2_BIN_DIR) + "/g2synth";
  if (!fs::exists(synth)) GTEST_SKIP() << "g2synth is not built";
  char tmpl[] = "/tmp/g2conv_g1_XXXXXX";
  const std::string tmp = mkdtemp(tmpl);
  const std::string g1 = tmp + "/g1", out = tmp + "/out";
  const std::string cmd = synth + " --config " + std::string(G2_SOURCE_DIR) +
                          "/configs/grok-1-tiny.json --format grok1-jax --out " + g1 + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto src = open_checkpoint(g1);
  if (!src && src.error().kind == ErrorKind::Unsupported) GTEST_SKIP() << src.message();
  ASSERT_TRUE(src.ok()) << src.message();
  SourceDesc d;
  d.family = (*src)->family();
  d.config = (*src)->config();
  d.root = (*src)->root();
  for (const auto& t : (*src)->tensors()) d.tensors.push_back({t.name, t.dtype, t.shape});
  TargetSpec t;
  t.to_grok2 = true;
  t.tp = 2;
  t.layout = OutLayout::Rank;
  auto plan = make_plan(d, t);
  ASSERT_TRUE(plan.ok()) << plan.message();
  auto rep = execute_plan(*plan, **src, out, {});
  ASSERT_TRUE(rep.ok()) << rep.message();
  auto got = open_checkpoint(out);
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ((*got)->family(), Family::Grok2);

  const ModelConfig& c = d.config;
  const auto g1_layout = grok1_layout(c);
  int checked = 0;
  for (const auto& spec : grok2_layout((*got)->config())) {
    auto o = (*got)->load(spec.name);
    ASSERT_TRUE(o.ok()) << o.message();
    const Role role = spec.role == Role::LmHead ? Role::Embedding : spec.role;
    const TensorSpec* s1 = find_spec(g1_layout, role, spec.layer, -1);
    ASSERT_NE(s1, nullptr) << spec.name;
    auto w = (*src)->load(s1->name);
    ASSERT_TRUE(w.ok()) << w.message();
    if (w->view.dtype == DType::I8) {
      auto sc = (*src)->load(s1->name.substr(0, s1->name.size() - 2) + "/scales");
      ASSERT_TRUE(sc.ok());
      const Shape& ws = w->view.shape;
      const int64_t K = ws[ws.size() - 2], N = ws[ws.size() - 1];
      const int64_t G = sc->view.shape[sc->view.shape.size() - 2];
      const int64_t e = spec.expert < 0 ? 0 : spec.expert;
      const int8_t* q = w->view.as<const int8_t>() + e * K * N;
      const uint16_t* s = sc->view.as<const uint16_t>() + e * G * N;
      const uint16_t* ob = o->view.as<const uint16_t>();
      ASSERT_EQ(o->view.dtype, DType::BF16);
      ASSERT_EQ(o->view.shape, (Shape{N, K})) << spec.name;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < K; ++k) {
          uint32_t sb = uint32_t(s[(k / (K / G)) * N + n]) << 16;
          float sf;
          std::memcpy(&sf, &sb, 4);
          const float prod = float(q[k * N + n]) * sf;  // exact in f32
          ASSERT_EQ(ob[n * K + k], bf16::from_float(prod).bits) << spec.name << " [" << n << ", " << k << "]";
        }
    } else if (spec.role == Role::Router) {
      const int64_t H = c.hidden_size, E = c.num_local_experts;
      for (int64_t e = 0; e < E; ++e)
        for (int64_t h = 0; h < H; ++h)
          ASSERT_EQ(o->view.as<const float>()[e * H + h], w->view.as<const float>()[h * E + e]);
    } else if (o->view.dtype == DType::BF16) {  // embedding / lm_head: bf16(f32), as the reference uses it
      const float* f = w->view.as<const float>();
      for (uint64_t i = 0; i < o->view.numel(); ++i)
        ASSERT_EQ(o->view.as<const uint16_t>()[i], bf16::from_float(f[i]).bits);
    } else {  // norms: f32 kept
      ASSERT_EQ(std::memcmp(o->view.data, w->view.data, w->view.nbytes()), 0) << spec.name;
    }
    ++checked;
  }
  EXPECT_EQ(checked, int(grok2_layout((*got)->config()).size()));
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace g2
