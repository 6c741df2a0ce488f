// g2synth: deterministic synthetic checkpoints from the layout tables, for tests, demos and
// golden data. Same config + format + seed -> the same bytes.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "tools/common/cli.h"
#include "libconvert/model_config.h"
#include "tools/g2synth/synth.h"

namespace fs = std::filesystem;

namespace {

// Files g2synth may have written earlier into `out`; --force removes them first so no stale
// file (another layer count, another TP) survives next to the new set.
bool ours(const fs::path& p) {
  const std::string n = p.filename().string();
  return n == "config.json" || n == "model.safetensors.index.json" ||
         (n.size() > 12 && n.substr(n.size() - 12) == ".safetensors");
}

int clean_out(const std::string& out, bool force) {
  std::error_code ec;
  if (!fs::exists(out, ec)) return 0;
  if (!fs::is_directory(out, ec)) {
    std::fprintf(stderr, "g2synth: --out %s exists and is not a directory\n", out.c_str());
    return 2;
  }
  if (fs::is_empty(out, ec)) return 0;
  if (!force) {
    std::fprintf(stderr, "g2synth: --out %s is not empty (pass --force to replace a previous g2synth output)\n",
                 out.c_str());
    return 2;
  }
  for (const auto& e : fs::directory_iterator(out, ec)) {
    if (ours(e.path())) fs::remove(e.path(), ec);
    if (e.path().filename() == "ckpt-0" && e.is_directory())
      for (const auto& f : fs::directory_iterator(e.path(), ec))
        if (f.path().filename().string().rfind("tensor", 0) == 0) fs::remove(f.path(), ec);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "g2synth: write a deterministic synthetic checkpoint for a config (values shaped like a trained "
      "model's; same seed, same bytes).\n"
      "Formats: grok1-jax (ckpt-0/tensorNNNNN_000 pickles, int8 + bf16 scales, f32 embedding/norms/router; "
      "needs a grok-1 config), grok2-tp (the Grok-2 release naming, BF16, --tp ranks), hf (model-0000i-of-0000n "
      "safetensors + index, BF16, unsharded).\n"
      "Writes config.json next to the tensors. Writes no tokenizer: copy one in if a tool needs it.\n"
      "Values are generated on every core (--threads) and do not depend on the thread count; memory stays "
      "small (one expert's int8 weights for grok1-jax), so a layer of the real geometry (a config with "
      "num_hidden_layers 1) takes seconds per GB."};
  std::string config, format, out;
  uint64_t seed = 0;
  int tp = 8;
  bool force = false;
  uint64_t max_shard_mb = 5000;
  int threads = 0;
  app.add_option("--config", config, "model config (configs/*.json)")->required()->check(CLI::ExistingFile);
  app.add_option("--format", format, "grok1-jax | grok2-tp | hf")
      ->required()
      ->check(CLI::IsMember({"grok1-jax", "grok2-tp", "hf"}));
  app.add_option("--tp", tp, "ranks of a grok2-tp set (1, 2, 4, 8, 16)")->capture_default_str();
  app.add_option("--seed", seed, "seed")->capture_default_str();
  app.add_option("--out", out, "output directory")->required();
  app.add_option("--max-shard-mb", max_shard_mb, "hf: start a new file before this size (MiB)")->capture_default_str();
  app.add_flag("--force", force, "replace the files of an earlier output in --out");
  app.add_option("--threads", threads,
                 "threads generating values (0: one per core); the bytes are the same for any count")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "print nothing but errors");
  if (auto rc = g2::parse_args(app, argc, argv)) return *rc;

  auto cfg = g2::load_model_config(config);
  if (!cfg) {
    std::fprintf(stderr, "g2synth: %s\n", cfg.message().c_str());
    return 2;
  }
  if (cfg->fp8) {
    std::fprintf(stderr,
                 "g2synth: %s has a quantization_config; g2synth writes release dtypes only "
                 "(quantize its output with g2convert --dtype fp8)\n",
                 config.c_str());
    return 2;
  }
  if (int rc = clean_out(out, force)) return rc;
  if (threads == 0) threads = g2::WorkPool::cores();
  g2::WorkPool pool(threads - 1);
  g2::Status st;
  if (format == "grok1-jax") {
    if (cfg->family != g2::Family::Grok1) {
      std::fprintf(stderr, "g2synth: --format grok1-jax needs a grok-1 config; %s describes %s\n",
                   config.c_str(), std::string(g2::family_name(cfg->family)).c_str());
      return 2;
    }
    st = g2::synth::write_grok1(*cfg, seed, out, pool);
  } else {
    if (cfg->family != g2::Family::Grok2) {
      std::fprintf(stderr, "g2synth: --format %s writes Grok-2 tensors; %s describes %s\n", format.c_str(),
                   config.c_str(), std::string(g2::family_name(cfg->family)).c_str());
      return 2;
    }
    st = format == "grok2-tp" ? g2::synth::write_grok2_tp(*cfg, seed, tp, out, pool)
                              : g2::synth::write_hf(*cfg, seed, max_shard_mb << 20, out, pool);
  }
  if (!st.ok()) {
    std::fprintf(stderr, "g2synth: %s\n", st.message().c_str());
    return 2;
  }
  if (!quiet) std::printf("g2synth: wrote %s (%s, seed %llu)\n", out.c_str(), format.c_str(), (unsigned long long)seed);
  return 0;
}
