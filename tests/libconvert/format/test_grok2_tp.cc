// Grok-2 TP sets read as one logical model: every tp and layout kind gives the same tensors,
// pieces stay zero-copy views, replicated KV heads and FP8 scales are merged by the layout's
// rules, and broken sets fail naming the file and the problem.
#include <gtest/gtest.h>

#include "libconvert/format/grok2_tp.h"
#include "tests/support/tiny_model.h"

namespace g2 {
namespace {

using test::TempDir;

struct Case {
  int tp;
  TpLayoutKind kind;
  bool g2_layout;
};

TEST(Grok2Tp, EveryTpAndKindReadsTheSameModel) {
  const ModelConfig c = test::tiny_config();
  const auto ts = test::tiny_tensors(c);
  for (const Case k : {Case{8, TpLayoutKind::Tp, false}, Case{2, TpLayoutKind::Tp, true},
                       Case{1, TpLayoutKind::Rank, true}, Case{2, TpLayoutKind::Rank, true},
                       Case{4, TpLayoutKind::Rank, true}, Case{8, TpLayoutKind::Rank, false}}) {
    SCOPED_TRACE("tp " + std::to_string(k.tp) + " " + std::string(tp_layout_kind_name(k.kind)));
    TempDir dir;
    test::write_tp_set(dir.str(), ts, c, k.tp, k.kind, test::tiny_config_json(), k.g2_layout);
    auto src = open_checkpoint(dir.str());
    ASSERT_TRUE(src.ok()) << src.message();
    EXPECT_EQ((*src)->format(), Format::Grok2TpSet);
    const auto* tpsrc = dynamic_cast<const Grok2TpSource*>(src->get());
    ASSERT_NE(tpsrc, nullptr);
    EXPECT_EQ(tpsrc->tp(), k.tp);
    EXPECT_EQ(tpsrc->kind(), k.tp == 1 && !k.g2_layout ? TpLayoutKind::Tp : k.kind);
    test::expect_source_holds(**src, ts);
    // Experts are concatenated from every rank along their split axis as views.
    const SourceTensor* w2 = (*src)->find("model.layers.0.block_sparse_moe.experts.1.w2.weight");
    ASSERT_NE(w2, nullptr);
    if (k.kind == TpLayoutKind::Tp || k.tp > 1) {
      EXPECT_EQ(w2->pieces.size(), size_t(k.tp));
      EXPECT_EQ(w2->concat_axis, k.tp > 1 ? 1 : 0);
    }
    // KV heads: 2 heads; at tp 4 and 8 each is replicated, so two pieces remain.
    const SourceTensor* kp = (*src)->find("model.layers.0.self_attn.k_proj.weight");
    ASSERT_NE(kp, nullptr);
    if (k.kind == TpLayoutKind::Rank) {
      EXPECT_EQ(kp->pieces.size(), size_t(std::min(k.tp, 2)));
    }
  }
}

TEST(Grok2Tp, Fp8ScalesMergeByTheLayoutRule) {
  for (const std::string mode : {"tensor", "channel", "block"}) {
    for (int tp : {2, 4}) {
      SCOPED_TRACE(mode + " tp " + std::to_string(tp));
      const std::string cj = test::tiny_config_json(test::fp8_config_extra(mode));
      auto c = parse_model_config(cj, "tiny/config.json");
      ASSERT_TRUE(c.ok());
      const auto ts = test::tiny_tensors(*c, mode);
      TempDir dir;
      test::write_tp_set(dir.str(), ts, *c, tp, TpLayoutKind::Rank, cj);
      auto src = open_checkpoint(dir.str());
      ASSERT_TRUE(src.ok()) << src.message();
      test::expect_source_holds(**src, ts);
    }
  }
}

// Write a tp-4 rank set, break it, and expect `expect` in the open error.
void expect_broken(const std::function<void(const std::string&, const ModelConfig&)>& mutate, const std::string& expect,
                   TpLayoutKind kind = TpLayoutKind::Rank, bool g2_layout = true) {
  const ModelConfig c = test::tiny_config();
  TempDir dir;
  test::write_tp_set(dir.str(), test::tiny_tensors(c), c, 4, kind, test::tiny_config_json(), g2_layout);
  mutate(dir.str(), c);
  auto src = open_checkpoint(dir.str());
  ASSERT_FALSE(src.ok()) << "expected: " << expect;
  EXPECT_NE(src.message().find(expect), std::string::npos) << src.message();
}

// Rewrite one file with `edit` applied to its tensor list.
void rewrite(const std::string& path,
             const std::function<void(std::vector<std::pair<SafetensorsDecl, std::vector<uint8_t>>>&)>& edit) {
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.ok()) << f.message();
  std::vector<std::pair<SafetensorsDecl, std::vector<uint8_t>>> ts;
  for (const auto& e : f->tensors()) {
    auto b = f->bytes(e);
    ts.push_back({{e.name, e.dtype, e.shape}, {b.begin(), b.end()}});
  }
  edit(ts);
  std::vector<SafetensorsBlob> blobs;
  for (const auto& [d, b] : ts) blobs.push_back({d, b.data()});
  ASSERT_TRUE(write_safetensors(path, blobs).ok());
}

TEST(Grok2Tp, BrokenSetsFailWithClearMessages) {
  const std::string k_file = tp_rank_file_name(9, 1);  // k_proj: group 9
  expect_broken([](const std::string& d, const ModelConfig&) { test::fs::remove(d + "/" + tp_rank_file_name(6, 2)); },
                "pytorch_model-00006-TP-002.safetensors: missing (rank 2 of tp 4");
  // Mixed tp: group 6 keeps ranks 0-1 only while the others have 0-3.
  expect_broken(
      [](const std::string& d, const ModelConfig&) {
        test::fs::remove(d + "/" + tp_rank_file_name(6, 2));
        test::fs::remove(d + "/" + tp_rank_file_name(6, 3));
      },
      "mixed tp: group 6 has 2 rank files", TpLayoutKind::Rank, /*g2_layout=*/false);
  expect_broken(
      [](const std::string& d, const ModelConfig&) {
        test::fs::copy_file(d + "/" + tp_rank_file_name(6, 0), d + "/" + tp_rank_file_name(6, 4));
      },
      "is rank 4 but");
  // A replicated KV head whose copies disagree (ranks 0 and 1 both hold head 0).
  expect_broken(
      [&](const std::string& d, const ModelConfig&) {
        rewrite(d + "/" + k_file, [](auto& ts) { ts[0].second[3] ^= 0x40; });
      },
      "differs from rank 0's copy");
  expect_broken(
      [&](const std::string& d, const ModelConfig&) {
        rewrite(d + "/" + tp_rank_file_name(11, 2), [](auto& ts) {
          ts[0].first.shape = {8, 128};  // q_proj slice [16, 64] stored as [8, 128]
        });
      },
      "has shape [8, 128], expected [16, 64] (rank 2 of tp 4 holds [32, 48) of axis 0 of [64, 64])");
  expect_broken(
      [&](const std::string& d, const ModelConfig&) {
        rewrite(d + "/" + tp_rank_file_name(11, 3), [](auto& ts) { ts.clear(); });
      },
      "pytorch_model-00011-TP-003.safetensors: lacks tensor \"model.layers.0.self_attn.q_proj.weight\"");
  expect_broken(
      [&](const std::string& d, const ModelConfig&) {
        rewrite(d + "/" + tp_common_file_name(2), [](auto& ts) {
          ts.push_back({{"model.layers.0.self_attn.q_proj.weight", DType::BF16, {64, 64}}, std::vector<uint8_t>(8192)});
        });
      },
      "is also in");
  expect_broken(
      [&](const std::string& d, const ModelConfig&) {
        rewrite(d + "/" + tp_rank_file_name(11, 1), [](auto& ts) {
          ts[0].first.dtype = DType::F16;
        });
      },
      "is F16 but BF16");
  expect_broken([](const std::string& d, const ModelConfig&) { test::write_bytes(d + "/model.safetensors", "x"); },
                "model.safetensors is not a TP-set file name");
  // The config says `tp` (experts only) but attention is per rank.
  expect_broken(
      [](const std::string& d, const ModelConfig&) {
        std::string cj = test::tiny_config_json();
        cj.pop_back();
        test::write_bytes(d + "/config.json", cj + R"(, "g2_layout": {"kind": "tp", "tp": 4}})");
      },
      "says g2_layout.kind \"tp\"");
  // A split tensor left in a common file of a `rank` layout.
  expect_broken(
      [](const std::string& d, const ModelConfig&) {
        std::string cj = test::tiny_config_json();
        cj.pop_back();
        test::write_bytes(d + "/config.json", cj + R"(, "g2_layout": {"kind": "rank", "tp": 4}})");
      },
      "says g2_layout.kind \"rank\"", TpLayoutKind::Tp, /*g2_layout=*/false);
  expect_broken(
      [](const std::string& d, const ModelConfig&) {
        for (int r = 0; r < 4; ++r) test::fs::remove(d + "/" + tp_rank_file_name(12, r));  // v_proj
      },
      "missing 1 tensor(s) of the layout, first \"model.layers.0.self_attn.v_proj.weight\"");
}

TEST(Grok2Tp, FileNames) {
  EXPECT_EQ(tp_common_file_name(3), "pytorch_model-00003-TP-common.safetensors");
  EXPECT_EQ(tp_rank_file_name(6, 7), "pytorch_model-00006-TP-007.safetensors");
  auto p = parse_tp_file_name("pytorch_model-00006-TP-007.safetensors");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->group, 6);
  EXPECT_EQ(p->rank, 7);
  EXPECT_EQ(parse_tp_file_name("pytorch_model-00017-TP-common.safetensors")->rank, -1);
  for (const char* bad : {"pytorch_model-0006-TP-007.safetensors", "pytorch_model-00006-TP-07.safetensors",
                          "pytorch_model-00006-TP-0a7.safetensors", "model-00006-TP-007.safetensors",
                          "pytorch_model-00006-TP-commons.safetensors", "pytorch_model-00006-TP-007.bin"})
    EXPECT_FALSE(parse_tp_file_name(bad).has_value()) << bad;
}

}  // namespace
}  // namespace g2
