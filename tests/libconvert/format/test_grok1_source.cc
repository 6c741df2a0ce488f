// The Grok-1 JAX TensorSource: file index -> parameter exactly as docs/reference.md §1 (layers in
// sorted-string order: with 12 layers "10" and "11" come before "2"), every file checked
// against the layout, and clear errors for missing / extra / wrong files and configs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/codecs.h"
#include "libconvert/format/grok1_source.h"
#include "libconvert/format/grok1_writer.h"
#include "tests/support/jax_util.h"

namespace g2 {
namespace {

using test::ScratchDir;

// configs/grok-1-tiny.json with `layers` layers and smaller sizes.
std::string write_config(const ScratchDir& dir, int layers, const std::string& model_type = "grok-1") {
  std::ifstream f(std::string(G2_SOURCE_DIR) + "/configs/grok-1-tiny.json");
  nlohmann::json j = nlohmann::json::parse(f);
  j["num_hidden_layers"] = layers;
  j["hidden_size"] = 48;
  j["num_attention_heads"] = 6;
  j["num_key_value_heads"] = 2;
  j["head_dim"] = 8;
  j["moe_intermediate_size"] = 32;
  j["vocab_size"] = 64;
  j["model_type"] = model_type;
  const std::string path = dir / "config.json";
  test::write_text(path, j.dump(2));
  return path;
}

// docs/reference.md §1, derived here independently of layout.cc: per-layer modules in file order.
struct Module {
  const char* path;
  bool quantized;
};
constexpr Module kLayerFiles[12] = {
    {"moe/linear", true},         {"moe/linear_1", true},
    {"moe/linear_v", true},       {"multi_head_attention/key", true},
    {"multi_head_attention/linear", true}, {"multi_head_attention/query", true},
    {"multi_head_attention/value", true},  {"rms_norm", false},
    {"rms_norm_1", false},        {"rms_norm_2", false},
    {"rms_norm_3", false},        {"router", false},
};

struct Expected1 {
  std::string name;  // the plain tensor or the `/w` of a quantized module
  bool quantized;
  float marker;      // what the writer put in element 0
};

std::vector<Expected1> spec_file_order(int layers) {
  std::vector<std::string> sorted;
  for (int l = 0; l < layers; ++l) sorted.push_back(std::to_string(l));
  std::sort(sorted.begin(), sorted.end());
  std::vector<Expected1> files = {{"language_model/in_out_embed/embeddings", false, 0},
                                  {"language_model/rms_norm/scale", false, 0}};
  for (const auto& l : sorted)
    for (const auto& m : kLayerFiles) {
      const std::string base = "transformer/decoder_layer_" + l + "/" + m.path;
      files.push_back({base + (m.quantized                       ? "/w"
                               : m.path == std::string("router") ? "/w"
                                                                 : "/scale"),
                       m.quantized, 0});
    }
  for (size_t i = 0; i < files.size(); ++i) files[i].marker = float(i % 100) + 1;  // int8-safe, bf16-exact
  return files;
}

// Writes every file with its index marker in element 0 (shapes and dtypes from the layout).
void write_checkpoint(const std::string& root, const ModelConfig& c, const std::vector<Expected1>& files) {
  std::filesystem::create_directories(root + "/ckpt-0");
  const auto layout = grok1_layout(c);
  for (size_t i = 0; i < files.size(); ++i) {
    const TensorSpec* s = find_spec(layout, files[i].name);
    ASSERT_NE(s, nullptr) << files[i].name;
    const std::string path = grok1_tensor_path(root, int(i));
    if (!files[i].quantized) {
      HostTensor t = HostTensor::make(DType::F32, s->shape);
      std::memset(t.view.data, 0, t.view.nbytes());
      t.view.as<float>()[0] = files[i].marker;
      ASSERT_TRUE(write_grok1_array_file(path, t.view).ok());
    } else {
      const std::string base = files[i].name.substr(0, files[i].name.size() - 2);
      const TensorSpec* sc = find_spec(layout, base + "/scales");
      ASSERT_NE(sc, nullptr) << base;
      HostTensor w = HostTensor::make(DType::I8, s->shape);
      HostTensor scales = HostTensor::make(DType::BF16, sc->shape);
      std::memset(w.view.data, 0, w.view.nbytes());
      std::memset(scales.view.data, 0, scales.view.nbytes());
      w.view.as<int8_t>()[0] = int8_t(files[i].marker);
      scales.view.as<uint16_t>()[0] = bf16::from_float(files[i].marker).bits;
      ASSERT_TRUE(write_grok1_quantized_file(path, w.view, scales.view).ok());
    }
  }
}

float first_value(const TensorSource& src, const std::string& name) {
  auto t = src.load(name);
  EXPECT_TRUE(t.ok()) << t.message();
  if (!t.ok()) return -1;
  switch (t->view.dtype) {
    case DType::F32: return t->view.as<float>()[0];
    case DType::I8: return float(t->view.as<int8_t>()[0]);
    case DType::BF16: return t->view.as<bf16>()[0].to_float();
    default: return -1;
  }
}

TEST(Grok1Source, MapsFilesInSortedLayerOrder) {
  ScratchDir dir("g1map");
  const std::string cfg_path = write_config(dir, 12);
  auto cfg = load_model_config(cfg_path);
  ASSERT_TRUE(cfg.ok()) << cfg.message();
  const auto files = spec_file_order(12);
  ASSERT_EQ(files.size(), 146u);
  // "10" sorts before "2": layer 10 starts at file 2 + 12 * 2
  EXPECT_EQ(files[2 + 12 * 2].name, "transformer/decoder_layer_10/moe/linear/w");
  EXPECT_EQ(files[2 + 12 * 4].name, "transformer/decoder_layer_2/moe/linear/w");
  write_checkpoint(dir / "ckpt", *cfg, files);

  auto src = open_grok1_jax(dir / "ckpt", cfg_path);
  ASSERT_TRUE(src.ok()) << src.message();
  EXPECT_EQ((*src)->format(), Format::Grok1Jax);
  EXPECT_EQ((*src)->files().size(), 146u);
  for (const auto& f : files) {
    SCOPED_TRACE(f.name);
    EXPECT_EQ(first_value(**src, f.name), f.marker);
    if (f.quantized) {
      EXPECT_EQ(first_value(**src, f.name.substr(0, f.name.size() - 2) + "/scales"), f.marker);
    }
  }
  // tensors() is in file order, each quantized weight followed by its scales
  const auto& ts = (*src)->tensors();
  ASSERT_EQ(ts.size(), 2 + 12 * (7 * 2 + 5u));
  EXPECT_EQ(ts[2].name, "transformer/decoder_layer_0/moe/linear/w");
  EXPECT_EQ(ts[3].name, "transformer/decoder_layer_0/moe/linear/scales");
  EXPECT_EQ(ts[2 + 19].name, "transformer/decoder_layer_1/moe/linear/w");
  EXPECT_EQ(ts[2 + 2 * 19].name, "transformer/decoder_layer_10/moe/linear/w");
  // zero copy: the piece points into the file mapping at the recorded offset
  EXPECT_GT(ts[0].pieces[0].file_offset, 0u);
  EXPECT_EQ(ts[0].pieces[0].file, grok1_tensor_path(dir / "ckpt", 0));
}

class Grok1SourceErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_path = write_config(dir, 2);
    auto c = load_model_config(cfg_path);
    ASSERT_TRUE(c.ok()) << c.message();
    cfg = *c;
    write_checkpoint(root, cfg, spec_file_order(2));
    ASSERT_TRUE(open_grok1_jax(root, cfg_path).ok());
  }
  std::string open_error(const std::string& config_path) {
    auto r = open_grok1_jax(root, config_path);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.message();
  }
  ScratchDir dir{"g1err"};
  std::string root = dir / "ckpt";
  std::string cfg_path;
  ModelConfig cfg;
};

#define EXPECT_HAS(msg, needle) EXPECT_NE((msg).find(needle), std::string::npos) << (msg)

TEST_F(Grok1SourceErrors, MissingFileIsNamed) {
  std::filesystem::remove(grok1_tensor_path(root, 7));
  const std::string m = open_error(cfg_path);
  EXPECT_HAS(m, "tensor00007_000");
  EXPECT_HAS(m, "missing");
}

TEST_F(Grok1SourceErrors, ExtraFileIsNamed) {
  test::write_text(grok1_tensor_path(root, 26), "x");
  const std::string m = open_error(cfg_path);
  EXPECT_HAS(m, "tensor00026_000");
  EXPECT_HAS(m, "unexpected file");
  std::filesystem::remove(grok1_tensor_path(root, 26));
  test::write_text(root + "/ckpt-0/tensor00003_001", "x");  // a second host's shard
  EXPECT_HAS(open_error(cfg_path), "tensor00003_001");
  std::filesystem::remove(root + "/ckpt-0/tensor00003_001");
  test::write_text(root + "/ckpt-0/.DS_Store", "x");  // hidden files are not part of the model
  EXPECT_TRUE(open_grok1_jax(root, cfg_path).ok());
}

TEST_F(Grok1SourceErrors, WrongDtypeOrShapeNamesFileTensorAndBoth) {
  // an f32 array where the QuantizedWeight8bit of layer 0's moe/linear belongs (file 2)
  HostTensor t = HostTensor::make(DType::F32, {4});
  std::memset(t.view.data, 0, t.view.nbytes());
  ASSERT_TRUE(write_grok1_array_file(grok1_tensor_path(root, 2), t.view).ok());
  std::string m = open_error(cfg_path);
  EXPECT_HAS(m, "tensor00002_000");
  EXPECT_HAS(m, "transformer/decoder_layer_0/moe/linear/w");
  EXPECT_HAS(m, "expected a QuantizedWeight8bit");
  // the right kind of file with the wrong shape: the final norm (file 1) as [4]
  write_checkpoint(root, cfg, spec_file_order(2));
  ASSERT_TRUE(write_grok1_array_file(grok1_tensor_path(root, 1), t.view).ok());
  m = open_error(cfg_path);
  EXPECT_HAS(m, "tensor00001_000");
  EXPECT_HAS(m, "language_model/rms_norm/scale is F32 [4], expected F32 [48]");
  // bf16 where the release has f32 (the router)
  HostTensor r = HostTensor::make(DType::BF16, {48, 8});
  std::memset(r.view.data, 0, r.view.nbytes());
  write_checkpoint(root, cfg, spec_file_order(2));
  ASSERT_TRUE(write_grok1_array_file(grok1_tensor_path(root, 13), r.view).ok());
  m = open_error(cfg_path);
  EXPECT_HAS(m, "transformer/decoder_layer_0/router/w is BF16 [48, 8], expected F32 [48, 8]");
}

TEST_F(Grok1SourceErrors, HostilePickleIsReportedWithTheFile) {
  test::write_text(grok1_tensor_path(root, 5), std::string("\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93."));
  const std::string m = open_error(cfg_path);
  EXPECT_HAS(m, "tensor00005_000");
  EXPECT_HAS(m, "os.system");
}

TEST_F(Grok1SourceErrors, ConfigIsRequiredAndMustBeGrok1) {
  EXPECT_HAS(open_error(""), "--config configs/grok-1.json");
  // config.json in the directory is used when no --config is given
  std::filesystem::copy_file(cfg_path, root + "/config.json");
  EXPECT_TRUE(open_grok1_jax(root, "").ok());
  const std::string g2 = write_config(dir, 2, "grok-2");
  EXPECT_HAS(open_error(g2), "describes a grok-2 model, not grok-1");
  // a config with another layer count names the surplus files
  EXPECT_HAS(open_error(write_config(dir, 1)), "unexpected file");
}

}  // namespace
}  // namespace g2
