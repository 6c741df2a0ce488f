// g2synth --format grok2-tp | hf: every tensor of grok2_layout() in BF16.
// grok2-tp: the release naming (`pytorch_model-{group:05d}-TP-common.safetensors` for whole
// tensors, `-TP-{r:03d}` for each rank's expert slices, placed by the layout's file_group and
// shard_range), any --tp. hf: `model-{i:05d}-of-{n:05d}.safetensors` + index, unsharded,
// tensors in layout order, a new shard file whenever the next tensor would pass --max-shard-mb.
// Values are generated row by row from their logical coordinates, so a rank's slice holds
// exactly the elements the unsharded tensor has there (on every core: synth_rows.h).
#include <array>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "kernels/codecs.h"
#include "libconvert/format/atomic_file.h"
#include "libconvert/format/grok2_tp.h"
#include "libconvert/format/index.h"
#include "libconvert/format/safetensors_writer.h"
#include "libconvert/quant/float_runs.h"
#include "libconvert/plan/plan.h"
#include "tools/g2synth/synth.h"
#include "tools/g2synth/synth_rows.h"
#include "tools/g2synth/synth_values.h"

namespace g2::synth {

namespace fs = std::filesystem;

namespace {

// Rows and columns of a 1-D or 2-D spec seen as a matrix ([H] is one row).
struct Matrix {
  int64_t rows, cols;
};
Matrix as_matrix(const Shape& s) { return s.size() == 1 ? Matrix{1, s[0]} : Matrix{s[0], s[1]}; }

// Stream the part [r0, r1) x [c0, c1) of tensor `spec` (logical coordinates) as bf16, rows
// generated on every core of the pool.
Status write_part(SafetensorsWriter& w, const std::string& name, const TensorSpec& spec, uint64_t seed, int64_t r0,
                  int64_t r1, int64_t c0, int64_t c1, WorkPool& pool, Scratch& scratch) {
  const Matrix m = as_matrix(spec.shape);
  const Distribution d = distribution(spec, Family::Grok2);
  const uint64_t key = value_key(seed, spec.name);
  const int64_t cols = c1 - c0;
  return write_rows(
      pool, r1 - r0, uint64_t(cols) * 2,
      [&](int64_t a, int64_t b, uint8_t* out, int participant) {
        std::vector<float>& f = scratch.at(participant);
        f.resize(size_t(cols));
        auto* o = reinterpret_cast<uint16_t*>(out);
        for (int64_t r = r0 + a; r < r0 + b; ++r, o += cols) {
          fill_keyed(key, d, uint64_t(r * m.cols + c0), uint64_t(cols), f.data());
          encode_bf16_run(f.data(), size_t(cols), o, nullptr);
        }
      },
      [&](std::span<const uint8_t> bytes) { return w.write(name, bytes); });
}

// The part of `spec` rank `rank` holds, as matrix bounds.
Expected<std::array<int64_t, 4>> part_of(const TensorSpec& spec, const ModelConfig& c, int tp, int rank) {
  const Matrix m = as_matrix(spec.shape);
  if (rank < 0) return std::array<int64_t, 4>{0, m.rows, 0, m.cols};
  auto range = shard_range(spec, c, tp, rank);
  if (!range) return range.error();
  if (spec.shape.size() != 2) return invalid(spec.name + ": only 2-D tensors are split per rank");
  if (range->axis == 0) return std::array<int64_t, 4>{range->begin, range->end, 0, m.cols};
  return std::array<int64_t, 4>{0, m.rows, range->begin, range->end};
}

Status write_file(const std::string& path, const std::vector<std::pair<const TensorSpec*, int>>& parts,
                  const ModelConfig& c, int tp, uint64_t seed, WorkPool& pool, Scratch& scratch) {
  std::vector<SafetensorsDecl> decls;
  std::vector<std::array<int64_t, 4>> bounds;
  for (const auto& [spec, rank] : parts) {
    auto b = part_of(*spec, c, tp, rank);
    if (!b) return b.error();
    Shape shape = spec->shape;
    if (rank >= 0) shape = Shape{(*b)[1] - (*b)[0], (*b)[3] - (*b)[2]};
    decls.push_back({spec->name, DType::BF16, shape});
    bounds.push_back(*b);
  }
  // The same file metadata g2convert writes, so a g2convert of this set at TP8 --layout tp
  // reproduces every file byte for byte.
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : plan_file_metadata()) meta[k] = v;
  auto w = SafetensorsWriter::create(path, decls, meta);
  if (!w) return w.error();
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& b = bounds[i];
    G2_TRY(write_part(*w, parts[i].first->name, *parts[i].first, seed, b[0], b[1], b[2], b[3], pool, scratch));
  }
  return w->finish();
}

}  // namespace

Status write_grok2_tp(const ModelConfig& c, uint64_t seed, int tp, const std::string& out, WorkPool& pool) {
  Scratch scratch(pool);
  const std::vector<TensorSpec> layout = grok2_layout(c);
  G2_TRY(check_tp(layout, c, tp));
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return io_error(out + ": cannot create: " + ec.message());
  // (group, rank) -> parts; rank -1 is TP-common
  std::map<std::pair<int, int>, std::vector<std::pair<const TensorSpec*, int>>> files;
  for (const auto& s : layout) {
    if (!s.per_rank_file) {
      files[{s.file_group, -1}].push_back({&s, -1});
    } else {
      for (int r = 0; r < tp; ++r) files[{s.file_group, r}].push_back({&s, r});
    }
  }
  for (const auto& [key, parts] : files) {
    const std::string name = key.second < 0 ? tp_common_file_name(key.first) : tp_rank_file_name(key.first, key.second);
    G2_TRY(write_file((fs::path(out) / name).string(), parts, c, tp, seed, pool, scratch));
  }
  nlohmann::json j = nlohmann::json::parse(model_config_to_json(c));
  j["load_presharded_moe"] = tp > 1;  // SGLang's default when TP > 1; said explicitly
  j["g2_layout"] = {{"kind", "tp"}, {"tp", tp}};
  return write_file_atomic((fs::path(out) / "config.json").string(), j.dump(2) + "\n");
}

Status write_hf(const ModelConfig& c, uint64_t seed, uint64_t max_shard_bytes, const std::string& out, WorkPool& pool) {
  Scratch scratch(pool);
  const std::vector<TensorSpec> layout = grok2_layout(c);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return io_error(out + ": cannot create: " + ec.message());
  // Greedy split in layout order; a tensor larger than the limit gets a file of its own.
  std::vector<std::vector<std::pair<const TensorSpec*, int>>> shards(1);
  uint64_t in_shard = 0, total = 0;
  for (const auto& s : layout) {
    const uint64_t bytes = *checked_nbytes(DType::BF16, s.shape);
    if (in_shard > 0 && in_shard + bytes > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back({&s, -1});
    in_shard += bytes;
    total += bytes;
  }
  SafetensorsIndex index;
  index.total_size = total;
  const int n = int(shards.size());
  for (int i = 0; i < n; ++i) {
    const std::string name = hf_shard_name(i + 1, n);
    G2_TRY(write_file((fs::path(out) / name).string(), shards[size_t(i)], c, 1, seed, pool, scratch));
    for (const auto& [spec, rank] : shards[size_t(i)]) index.weight_map[spec->name] = name;
  }
  G2_TRY(write_safetensors_index((fs::path(out) / kSafetensorsIndexName).string(), index));
  return write_file_atomic((fs::path(out) / "config.json").string(), model_config_to_json(c));
}

}  // namespace g2::synth
