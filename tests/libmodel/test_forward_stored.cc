// The forward on stored weights (WeightSource::stored + Backend::matmul_stored) against the
// dequantized-copy path (ForwardOptions::fused_weights = false) on real checkpoint sets written
// by g2synth / g2convert: BF16 TP8 (experts split over rank files), a `rank` layout (column
// splits of o_proj/down_proj across files), FP8 e4m3 with block, channel and tensor scales,
// merged and rank-by-rank execution; and the fallback for Grok-1 int8 (no view).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "libmodel/compare.h"
#include "kernels/cpu/work_pool.h"
#include "libmodel/forward.h"
#include "model_fixtures.h"

namespace g2 {
namespace {

namespace fs = std::filesystem;
using testing::near;

struct Sets {
  fs::path dir;
  bool ok = false;
  Sets() {
    dir = fs::temp_directory_path() / ("g2stored-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string bin = G2_BIN_DIR, src = G2_SOURCE_DIR, d = dir.string();
    if (!fs::exists(bin + "/g2synth") || !fs::exists(bin + "/g2convert")) return;
    const std::string cfg2 = src + "/configs/grok-2-tiny.json", cfg1 = src + "/configs/grok-1-tiny.json";
    const std::string cmds[] = {
        bin + "/g2synth --config " + cfg2 + " --seed 5 --format grok2-tp --tp 8 --out " + d + "/tp8",
        bin + "/g2convert " + d + "/tp8 " + d + "/rank4 --tp 4 --layout rank",
        bin + "/g2convert " + d + "/tp8 " + d + "/fp8block --dtype fp8 --fp8-block 8 --tp 8 --layout rank",
        bin + "/g2convert " + d + "/tp8 " + d + "/fp8channel --dtype fp8 --fp8-scale channel --tp 2 --layout tp",
        bin + "/g2convert " + d + "/tp8 " + d + "/fp8tensor --dtype fp8 --fp8-scale tensor --layout hf",
        bin + "/g2synth --config " + cfg1 + " --seed 5 --format grok1-jax --out " + d + "/g1",
    };
    for (const auto& c : cmds)
      if (std::system((c + " >/dev/null 2>&1").c_str()) != 0) {
        ADD_FAILURE() << c;
        return;
      }
    ok = true;
  }
  ~Sets() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string operator/(const std::string& n) const { return (dir / n).string(); }
};

const Sets& sets() {
  static Sets s;
  return s;
}

CheckpointWeights open(const std::string& d) {
  auto src = open_checkpoint(d);
  EXPECT_TRUE(src.ok()) << d << ": " << (src.ok() ? "" : src.message());
  return CheckpointWeights(std::move(*src));
}

ActivationRecord run(WeightSource& w, bool fused, int tp = 1, Precision p = Precision::F32) {
  auto be = make_cpu_backend();
  ForwardOptions o;
  o.fused_weights = fused;
  o.tp = tp;
  o.precision = p;
  const std::vector<int32_t> tokens{3, 141, 59, 265, 35, 89, 793, 238, 46};  // 9: one full 8-token tile + 1
  auto r = run_forward(w, *be, tokens, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
  return r.ok() ? std::move(*r) : ActivationRecord{};
}

void expect_close(const ActivationRecord& a, const ActivationRecord& b, double tol) {
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l) {
    EXPECT_EQ(a.layers[l].experts, b.layers[l].experts) << "layer " << l;
    auto r1 = compare(a.layers[l].attn_residual, b.layers[l].attn_residual, near(tol));
    auto r2 = compare(a.layers[l].router_logits, b.layers[l].router_logits, near(tol));
    auto r3 = compare(a.layers[l].residual, b.layers[l].residual, near(tol));
    EXPECT_TRUE(r1.pass && r2.pass && r3.pass)
        << "layer " << l << " rel_rms " << r1.rel_rms << " " << r2.rel_rms << " " << r3.rel_rms;
  }
  EXPECT_TRUE(compare(a.logits, b.logits, near(tol)).pass);
}

const Role kLinear[] = {Role::AttnQ, Role::AttnK, Role::AttnV, Role::AttnO, Role::Router,
                        Role::MlpGate, Role::MlpUp, Role::MlpDown};

TEST(ForwardStored, ViewsDequantizeToMatrixBitForBit) {
  if (!sets().ok) GTEST_SKIP() << "g2synth / g2convert not built";
  WorkPool pool(2);
  for (const char* name : {"tp8", "rank4", "fp8block", "fp8channel", "fp8tensor"}) {
    SCOPED_TRACE(name);
    CheckpointWeights w = open(sets() / name);
    std::vector<std::pair<Role, int>> roles;
    for (Role r : kLinear) roles.push_back({r, -1});
    for (Role r : {Role::ExpertGate, Role::ExpertUp, Role::ExpertDown}) roles.push_back({r, 5});
    for (auto [role, e] : roles) {
      auto v = w.stored(role, 1, e);
      ASSERT_TRUE(v.has_value()) << role_name(role);
      auto m = w.matrix(role, 1, e);
      ASSERT_TRUE(m.ok()) << m.message();
      ASSERT_EQ(v->rows, m->rows);
      ASSERT_EQ(v->cols, m->cols);
      const auto d = v->dequantize();
      ASSERT_EQ(std::memcmp(d.data(), m->data.data(), d.size() * sizeof(float)), 0) << role_name(role);
      // the parallel form (the CUDA backend's upload buffer), in 64-row chunks over 3 threads
      std::vector<float> p(d.size(), -1.0f);
      v->dequantize_into(p.data(), &pool);
      ASSERT_EQ(std::memcmp(p.data(), d.data(), d.size() * sizeof(float)), 0) << role_name(role) << " in parallel";
    }
    // The split layouts really are multi-block views.
    if (std::string(name) != "fp8tensor") {
      EXPECT_GT(w.stored(Role::ExpertDown, 0, 2)->blocks.size(), 1u);
    }
    if (std::string(name) == "rank4") {
      EXPECT_EQ(w.stored(Role::AttnO, 0, -1)->blocks.size(), 4u);
    }
  }
}

TEST(ForwardStored, FusedMatchesDequantizedCopy) {
  if (!sets().ok) GTEST_SKIP() << "g2synth / g2convert not built";
  for (const char* name : {"tp8", "rank4", "fp8block", "fp8channel", "fp8tensor"}) {
    SCOPED_TRACE(name);
    CheckpointWeights w = open(sets() / name);
    const auto old_path = run(w, false);
    expect_close(run(w, true), old_path, 2e-6);
    expect_close(run(w, true, 4), old_path, 2e-6);  // rank by rank on the views' shards
    expect_close(run(w, true, 1, Precision::Reference), run(w, false, 1, Precision::Reference), 2e-2);
  }
}

TEST(ForwardStored, Grok1Int8FallsBack) {
  if (!sets().ok) GTEST_SKIP() << "g2synth / g2convert not built";
  CheckpointWeights w = open(sets() / "g1");
  for (Role r : {Role::AttnQ, Role::AttnO, Role::ExpertGate, Role::ExpertDown})
    EXPECT_FALSE(w.stored(r, 0, r >= Role::ExpertGate ? 1 : -1).has_value()) << role_name(r);
  // No view anywhere: both settings take the dequantized path and agree bit for bit.
  const auto a = run(w, true), b = run(w, false);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l) EXPECT_EQ(a.layers[l].residual, b.layers[l].residual);
  EXPECT_EQ(a.logits, b.logits);
}

}  // namespace
}  // namespace g2
