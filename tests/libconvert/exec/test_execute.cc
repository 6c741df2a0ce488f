// The executor on small in-memory sources: resharding is byte-exact, chunking does not change
// bytes, FP8 round trips stay within the e4m3 bound, the Grok-1 upgrade equals the reference
// dequantisation, resume/lock/refusals behave, the manifest verifies.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <tuple>

#include "kernels/ops/quant.h"
#include "libconvert/exec/execute.h"
#include "libconvert/layout/scales.h"
#include "libconvert/format/safetensors.h"
#include "libconvert/format/manifest.h"
#include "tests/support/execute_fixtures.h"

namespace g2 {
namespace {

namespace fs = std::filesystem;
using namespace test_exec;

TEST(Execute, ReshardIsByteExactAcrossTpAndLayouts) {
  TmpDir tmp;
  auto src = grok2_source(tmp.path + "/src");
  fs::create_directories(src->root_);
  const auto want = tensor_bytes(*src);
  int n = 0;
  // every TP and both sharded layouts, without the full cross product (each run fsyncs ~40 files)
  const std::pair<int, OutLayout> cases[] = {{1, OutLayout::Tp},   {2, OutLayout::Rank}, {4, OutLayout::Tp},
                                             {8, OutLayout::Rank}, {16, OutLayout::Rank}, {16, OutLayout::Tp}};
  for (auto [tp, lay] : cases) {
      const std::string dst = tmp.path + "/out" + std::to_string(n++);
      TargetSpec t;
      t.tp = tp;
      t.layout = lay;
      ExecOptions opt;
      opt.threads = 2;
      auto r = convert(*src, Family::Grok2, t, dst, opt);
      ASSERT_TRUE(r.ok()) << r.message();
      EXPECT_TRUE(r->quant.empty());
      EXPECT_EQ(logical_bytes(dst, src->config_, tp), want) << "tp " << tp << " " << out_layout_name(lay);
      auto m = read_manifest(dst + "/g2manifest.json");
      ASSERT_TRUE(m.ok()) << m.message();
      EXPECT_TRUE(manifest_verifies(dst, *m));
      EXPECT_FALSE(fs::exists(dst + "/g2convert.partial.json"));
      EXPECT_FALSE(fs::exists(dst + "/.g2convert.lock"));
    }
}

// Reading a TP set's pieces with pread (side by side on axis 1 or stacked on axis 0, whole or
// part of their width) gives the same bytes as the in-memory source they were written from.
TEST(Execute, ReshardFromFilesIsByteExact) {
  TmpDir tmp;
  auto src = grok2_source(tmp.path + "/src");
  fs::create_directories(src->root_);
  const auto want = tensor_bytes(*src);
  TargetSpec t4;
  t4.tp = 4;
  t4.layout = OutLayout::Rank;
  ASSERT_TRUE(convert(*src, Family::Grok2, t4, tmp.path + "/tp4").ok());
  auto tp4 = open_checkpoint(tmp.path + "/tp4");
  ASSERT_TRUE(tp4.ok()) << tp4.message();
  ASSERT_TRUE((*tp4)->pieces_in_files());
  for (int tp : {2, 8}) {  // merging whole pieces, splitting pieces
    TargetSpec t;
    t.tp = tp;
    t.layout = OutLayout::Rank;
    const std::string dst = tmp.path + "/tp" + std::to_string(tp) + "r";
    ExecOptions opt;
    opt.threads = 2;
    auto r = convert(**tp4, Family::Grok2, t, dst, opt);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(logical_bytes(dst, src->config_, tp), want) << "tp 4 -> " << tp;
  }
}

TEST(Execute, ChunkSizeDoesNotChangeBytes) {
  TmpDir tmp;
  auto src = grok2_source(tmp.path);
  TargetSpec t;
  t.tp = 4;
  t.layout = OutLayout::Rank;
  t.dtype = DTypeTarget::FP8;
  t.fp8 = {Fp8ScaleMode::Block, 4, 4};
  ExecOptions big, small;
  small.mem_limit = 1;  // forces the minimum chunk
  small.threads = 3;
  ASSERT_TRUE(convert(*src, Family::Grok2, t, tmp.path + "/a", big).ok());
  auto r = convert(*src, Family::Grok2, t, tmp.path + "/b", small);
  ASSERT_TRUE(r.ok()) << r.message();
  auto ma = read_manifest(tmp.path + "/a/g2manifest.json"), mb = read_manifest(tmp.path + "/b/g2manifest.json");
  ASSERT_TRUE(ma.ok() && mb.ok());
  ASSERT_EQ(ma->files.size(), mb->files.size());
  for (size_t i = 0; i < ma->files.size(); ++i) {
    EXPECT_EQ(ma->files[i].path, mb->files[i].path);
    EXPECT_EQ(ma->files[i].xxh3_128, mb->files[i].xxh3_128) << ma->files[i].path;
  }
}

// Every core works on one tensor (the chunk's parts on the executor's helpers): the bytes, and
// the quantisation report to its last bit, are the same for 1, 2 and 4 threads, with large
// chunks and with the minimum one (many parts per chunk, parts that split FP8 blocks).
TEST(Execute, ThreadCountChangesNeitherBytesNorErrorReport) {
  TmpDir tmp;
  auto g2 = grok2_source(tmp.path);
  auto g1 = grok1_source(tmp.path, 3, /*ffn=*/200);
  ASSERT_TRUE(g1) << "configs/grok-1-tiny.json";
  TargetSpec fp8;
  fp8.tp = 2;
  fp8.layout = OutLayout::Rank;
  fp8.dtype = DTypeTarget::FP8;
  fp8.fp8 = {Fp8ScaleMode::Block, 8, 8};
  TargetSpec up;
  up.to_grok2 = true;
  up.tp = 2;
  up.layout = OutLayout::Rank;
  for (uint64_t mem_limit : {uint64_t(512) << 20, uint64_t(1)})
    for (const auto& [src, family, t] :
         {std::tuple{g2.get(), Family::Grok2, fp8}, std::tuple{g1.get(), Family::Grok1, up}}) {
      std::optional<ExecReport> first;
      std::optional<Manifest> first_m;
      for (int threads : {1, 2, 4}) {
        SCOPED_TRACE("threads " + std::to_string(threads) + " mem " + std::to_string(mem_limit));
        const std::string out = tmp.path + "/t" + std::to_string(threads) + "-" + std::to_string(mem_limit) +
                                (family == Family::Grok1 ? "-g1" : "-g2");
        ExecOptions opt;
        opt.threads = threads;
        opt.mem_limit = mem_limit;
        auto r = convert(*src, family, t, out, opt);
        ASSERT_TRUE(r.ok()) << r.message();
        auto m = read_manifest(out + "/g2manifest.json");
        ASSERT_TRUE(m.ok()) << m.message();
        if (!first) {
          first = *r;
          first_m = *m;
          continue;
        }
        ASSERT_EQ(m->files.size(), first_m->files.size());
        for (size_t i = 0; i < m->files.size(); ++i)
          EXPECT_EQ(m->files[i].xxh3_128, first_m->files[i].xxh3_128) << m->files[i].path;
        ASSERT_EQ(r->quant.size(), first->quant.size());
        for (size_t i = 0; i < r->quant.size(); ++i) {
          const QuantError &a = r->quant[i].err, &b = first->quant[i].err;
          EXPECT_EQ(r->quant[i].name, first->quant[i].name);
          EXPECT_EQ(a.count, b.count);
          EXPECT_EQ(a.max_abs, b.max_abs);
          EXPECT_EQ(a.sum_sq_err, b.sum_sq_err) << r->quant[i].name;
          EXPECT_EQ(a.sum_sq_ref, b.sum_sq_ref);
          EXPECT_EQ(a.sum_sq_out, b.sum_sq_out);
          EXPECT_EQ(a.dot, b.dot);
        }
      }
      if (family == Family::Grok2) {
        EXPECT_FALSE(first->quant.empty());
      }
    }
}

TEST(Execute, Fp8RoundTripWithinBoundPerMode) {
  for (auto mode : {Fp8ScaleMode::Tensor, Fp8ScaleMode::Channel, Fp8ScaleMode::Block}) {
    TmpDir tmp;
    auto src = grok2_source(tmp.path);
    TargetSpec t;
    t.tp = 1;
    t.dtype = DTypeTarget::FP8;
    t.fp8 = {mode, 8, 8};
    auto r = convert(*src, Family::Grok2, t, tmp.path + "/fp8");
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_FALSE(r->quant.empty());
    for (const auto& q : r->quant) {
      EXPECT_LT(q.err.rel_rms(), 0.04) << q.name;
      EXPECT_GT(q.err.cosine(), 0.999) << q.name;
    }
    auto fp8 = MemSource::open_dir(tmp.path + "/fp8");
    TargetSpec back;
    back.tp = 1;
    back.dtype = DTypeTarget::BF16;
    auto r2 = convert(*fp8, Family::Grok2, back, tmp.path + "/bf16");
    ASSERT_TRUE(r2.ok()) << r2.message();
    auto got = MemSource::open_dir(tmp.path + "/bf16");
    const auto layout = grok2_layout(src->config_);
    int checked = 0;
    for (const auto& spec : layout) {
      const SourceTensor* a = src->find(spec.name);
      const SourceTensor* b = got->find(spec.name);
      ASSERT_TRUE(a && b) << spec.name;
      ASSERT_EQ(b->dtype, DType::BF16);
      const uint16_t* pa = a->pieces[0].view.as<const uint16_t>();
      const uint16_t* pb = b->pieces[0].view.as<const uint16_t>();
      const uint64_t n = a->pieces[0].view.numel();
      if (!spec.fp8_candidate) {
        EXPECT_EQ(std::memcmp(pa, pb, n * 2), 0) << spec.name << " must stay BF16 bit-exact";
        continue;
      }
      // per-element bound from the written scales; the final bf16 rounding adds 2^-9 relative
      const SourceTensor* sc = fp8->find(fp8_scale_name(spec.name, mode));
      ASSERT_NE(sc, nullptr);
      Fp8Scales scales{{mode, 8, 8}, spec.shape[0], spec.shape[1], {}};
      scales.s.assign(sc->pieces[0].view.as<const float>(),
                      sc->pieces[0].view.as<const float>() + sc->pieces[0].view.numel());
      for (uint64_t i = 0; i < n; ++i) {
        const double w = bf16{pa[i]}.to_float(), d = bf16{pb[i]}.to_float();
        const double s = scales.at(int64_t(i) / spec.shape[1], int64_t(i) % spec.shape[1]);
        const double bound = std::max(std::ldexp(std::fabs(w), -4), std::ldexp(s, -10)) * (1 + std::ldexp(1.0, -8)) +
                             std::ldexp(std::fabs(w), -8);
        ASSERT_LE(std::fabs(w - d), bound) << spec.name << "[" << i << "] " << fp8_scale_mode_name(mode);
      }
      ++checked;
    }
    EXPECT_GT(checked, 10);
  }
}

TEST(Execute, Grok1UpgradeEqualsReferenceDequant) {
  TmpDir tmp;
  auto src = grok1_source(tmp.path, 2);
  ASSERT_TRUE(src) << "configs/grok-1-tiny.json";
  std::ofstream(tmp.path + "/tokenizer.model") << "sp";
  TargetSpec t;
  t.to_grok2 = true;
  t.tp = 2;
  t.layout = OutLayout::Rank;
  auto r = convert(*src, Family::Grok1, t, tmp.path + "/out");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->copied, std::vector<std::string>{"tokenizer.model"});
  auto out_cfg = load_model_config(tmp.path + "/out/config.json");
  ASSERT_TRUE(out_cfg.ok()) << out_cfg.message();
  auto got = logical_bytes(tmp.path + "/out", *out_cfg, 2);
  const ModelConfig& g = src->config_;
  const int64_t H = g.hidden_size, M = g.moe_intermediate_size;
  // expert e of linear_1 (w2, blocked scales [E, 8, H]): w2[n][k] = bf16(int8[e][k][n] * S[e][k / (M/8)][n])
  const SourceTensor* w = src->find("transformer/decoder_layer_0/moe/linear_1/w");
  const SourceTensor* s = src->find("transformer/decoder_layer_0/moe/linear_1/scales");
  for (int e : {0, 5}) {
    const auto& out = got["model.layers.0.block_sparse_moe.experts." + std::to_string(e) + ".w2.weight"];
    ASSERT_EQ(out.size(), size_t(H * M * 2));
    const int8_t* q = w->pieces[0].view.as<const int8_t>() + int64_t(e) * M * H;
    const uint16_t* sc = s->pieces[0].view.as<const uint16_t>() + int64_t(e) * 8 * H;
    for (int64_t n = 0; n < H; ++n)
      for (int64_t k = 0; k < M; ++k) {
        const float prod = float(q[k * H + n]) * bf16{sc[(k / (M / 8)) * H + n]}.to_float();
        uint16_t o;
        std::memcpy(&o, &out[size_t((n * M + k) * 2)], 2);
        ASSERT_EQ(o, bf16::from_float(prod).bits) << "e" << e << " n" << n << " k" << k;
      }
  }
  // router [H, E] f32 -> gate [E, H] f32, exact
  const SourceTensor* router = src->find("transformer/decoder_layer_0/router/w");
  const auto& gate = got["model.layers.0.block_sparse_moe.gate.weight"];
  for (int64_t e = 0; e < 8; ++e)
    for (int64_t h = 0; h < H; ++h) {
      float a, b = router->pieces[0].view.as<const float>()[h * 8 + e];
      std::memcpy(&a, &gate[size_t((e * H + h) * 4)], 4);
      ASSERT_EQ(a, b);
    }
  // lm_head is the bf16 embedding, like the reference's bf16(embed) logits matmul
  EXPECT_EQ(got["lm_head.weight"], got["model.embed_tokens.weight"]);
  const float e0 = src->find("language_model/in_out_embed/embeddings")->pieces[0].view.as<const float>()[3];
  uint16_t l0;
  std::memcpy(&l0, &got["lm_head.weight"][6], 2);
  EXPECT_EQ(l0, bf16::from_float(e0).bits);
}

// The transposed int8 read walks 64 x 64 tiles within f32 stages within chunks: an ffn that
// is no multiple of 64 (200, TP 2 -> 100 per rank), the default chunk (partial stages and
// tiles) and the minimum chunk (one row per read) must all give the reference bytes.
TEST(Execute, Grok1UpgradeTilesAndChunksAtOddShapes) {
  for (uint64_t mem_limit : {uint64_t(512) << 20, uint64_t(1)}) {
    TmpDir tmp;
    auto src = grok1_source(tmp.path, 7, /*ffn=*/200);
    ASSERT_TRUE(src) << "configs/grok-1-tiny.json";
    TargetSpec t;
    t.to_grok2 = true;
    t.tp = 2;
    t.layout = OutLayout::Rank;
    ExecOptions opt;
    opt.mem_limit = mem_limit;
    opt.threads = 2;
    auto r = convert(*src, Family::Grok1, t, tmp.path + "/out", opt);
    ASSERT_TRUE(r.ok()) << r.message();
    auto out_cfg = load_model_config(tmp.path + "/out/config.json");
    ASSERT_TRUE(out_cfg.ok()) << out_cfg.message();
    auto got = logical_bytes(tmp.path + "/out", *out_cfg, 2);
    const int64_t H = src->config_.hidden_size, M = 200;
    // linear (w1, [E, H, M], scales [E, 1, M]) -> w1 [M, H]; linear_1 (w2, [E, M, H], scales [E, 8, H]) -> w2 [H, M]
    for (const auto& [jax, hf, K, N, G] :
         {std::tuple{"linear", "w1", H, M, int64_t(1)}, std::tuple{"linear_1", "w2", M, H, int64_t(8)}}) {
      const std::string p = std::string("transformer/decoder_layer_0/moe/") + jax;
      const SourceTensor* w = src->find(p + "/w");
      const SourceTensor* s = src->find(p + "/scales");
      ASSERT_TRUE(w && s) << p;
      for (int e = 0; e < 8; ++e) {
        const auto& out = got["model.layers.0.block_sparse_moe.experts." + std::to_string(e) + "." + hf + ".weight"];
        ASSERT_EQ(out.size(), size_t(K * N * 2)) << hf;
        const int8_t* q = w->pieces[0].view.as<const int8_t>() + int64_t(e) * K * N;
        const uint16_t* sc = s->pieces[0].view.as<const uint16_t>() + int64_t(e) * G * N;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t k = 0; k < K; ++k) {
            const float prod = float(q[k * N + n]) * bf16{sc[(k / (K / G)) * N + n]}.to_float();
            uint16_t o;
            std::memcpy(&o, &out[size_t((n * K + k) * 2)], 2);
            ASSERT_EQ(o, bf16::from_float(prod).bits)
                << hf << " e" << e << " n" << n << " k" << k << " mem " << mem_limit;
          }
      }
    }
  }
}

TEST(Execute, ResumeSkipsVerifiedFilesAndRefusesOthers) {
  TmpDir tmp;
  auto src = grok2_source(tmp.path);
  TargetSpec t;
  t.tp = 2;
  t.layout = OutLayout::Tp;
  const std::string dst = tmp.path + "/out";
  auto r1 = convert(*src, Family::Grok2, t, dst);
  ASSERT_TRUE(r1.ok()) << r1.message();
  auto m1 = read_manifest(dst + "/g2manifest.json");
  ASSERT_TRUE(m1.ok());
  // rerun of a finished conversion: verifies, rewrites nothing
  auto r2 = convert(*src, Family::Grok2, t, dst);
  ASSERT_TRUE(r2.ok()) << r2.message();
  EXPECT_TRUE(r2->resumed);
  EXPECT_EQ(r2->files_written, 0u);
  // a damaged file is rewritten, the others kept
  const std::string victim = dst + "/pytorch_model-00006-TP-001.safetensors";
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x55');
  }
  auto r3 = convert(*src, Family::Grok2, t, dst);
  ASSERT_TRUE(r3.ok()) << r3.message();
  EXPECT_EQ(r3->files_written, 1u);
  EXPECT_EQ(r3->files_skipped, r1->files_written - 1);
  auto m3 = read_manifest(dst + "/g2manifest.json");
  ASSERT_TRUE(m3.ok());
  EXPECT_TRUE(manifest_verifies(dst, *m3));
  EXPECT_EQ(manifest_to_json(*m1), manifest_to_json(*m3));
  // a different conversion into the same directory is refused, then allowed with force
  TargetSpec other = t;
  other.tp = 4;
  auto r4 = convert(*src, Family::Grok2, other, dst);
  ASSERT_FALSE(r4.ok());
  EXPECT_NE(r4.message().find("different conversion"), std::string::npos) << r4.message();
  ExecOptions force;
  force.force = true;
  auto r5 = convert(*src, Family::Grok2, other, dst, force);
  ASSERT_TRUE(r5.ok()) << r5.message();
  EXPECT_FALSE(fs::exists(dst + "/pytorch_model-00006-TP-001.safetensors.tmp"));
  EXPECT_TRUE(fs::exists(dst + "/pytorch_model-00006-TP-003.safetensors"));
}

TEST(Execute, RefusesNonEmptyDestinationAndLiveLock) {
  TmpDir tmp;
  auto src = grok2_source(tmp.path);
  TargetSpec t;
  t.tp = 1;
  fs::create_directories(tmp.path + "/full");
  std::ofstream(tmp.path + "/full/notes.txt") << "mine";
  auto r = convert(*src, Family::Grok2, t, tmp.path + "/full");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("is not empty (notes.txt)"), std::string::npos) << r.message();
  EXPECT_TRUE(fs::exists(tmp.path + "/full/notes.txt"));
  fs::create_directories(tmp.path + "/locked");
  // a live holder: the lock is an flock(2) on the file, the pid only names it
  const int lock_fd = ::open((tmp.path + "/locked/.g2convert.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(lock_fd, 0);
  ASSERT_EQ(::flock(lock_fd, LOCK_EX), 0);
  std::ofstream(tmp.path + "/locked/.g2convert.lock") << getpid() << "\n";
  r = convert(*src, Family::Grok2, t, tmp.path + "/locked");
  ::close(lock_fd);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("another g2convert (pid " + std::to_string(getpid()) + ","), std::string::npos)
      << r.message();
  // a lock whose owner is gone is stale
  std::ofstream(tmp.path + "/locked/.g2convert.lock", std::ios::trunc) << 999999999 << "\n";
  r = convert(*src, Family::Grok2, t, tmp.path + "/locked");
  EXPECT_TRUE(r.ok()) << r.message();
  r = convert(*src, Family::Grok2, t, src->root_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("is the source checkpoint itself"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace g2
