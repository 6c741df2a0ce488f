// Sharding and file placement of a plan, its config.json, fingerprint and dry-run text.
#include <cinttypes>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "libconvert/plan/plan_internal.h"

namespace g2 {

using nlohmann::json;

std::vector<std::pair<std::string, std::string>> plan_file_metadata() { return {{"format", "pt"}}; }

namespace {

std::string file_name_tp(int group, int rank) {
  char buf[96];
  if (rank < 0) std::snprintf(buf, sizeof buf, "pytorch_model-%05d-TP-common.safetensors", group);
  else std::snprintf(buf, sizeof buf, "pytorch_model-%05d-TP-%03d.safetensors", group, rank);
  return buf;
}

std::string file_name_hf(size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, n);
  return buf;
}

// The output tensors (weight, then its FP8 scale if any) of one shard of a logical tensor.
Expected<std::vector<PlannedTensor>> shard_tensors(const LogicalTensor& lt, const ShardRange& range) {
  const TensorSpec& spec = *lt.spec;
  Recipe r = lt.recipe;
  Shape shape = spec.shape;
  if (spec.shape.size() == 2) {
    r.slice_axis = range.axis;
    r.begin = range.begin;
    r.end = range.end;
    shape[size_t(range.axis)] = range.end - range.begin;
  } else {
    G2_ASSERT(range.begin == 0, "1-D tensors are not split");  // replicated: the whole vector
    r.slice_axis = 1;
    r.begin = 0;
    r.end = r.cols;
  }
  std::vector<PlannedTensor> out;
  const uint64_t bytes = *checked_numel(shape) * dtype_size(lt.out_dtype);
  out.push_back(PlannedTensor{spec.name, lt.out_dtype, shape, bytes, r});
  if (lt.fp8_companion) {
    const std::string name = fp8_scale_name(spec.name, r.fp8.mode);
    auto sshape = fp8_scale_slice_shape(r.fp8, r.rows, r.cols, r.slice_axis, r.begin, r.end, spec.name);
    if (!sshape) return sshape.error();
    Recipe sr = r;
    sr.encode = Encode::Fp8Scale;
    out.push_back(PlannedTensor{name, DType::F32, *sshape, *checked_numel(*sshape) * 4, sr});
  }
  return out;
}

}  // namespace

Status place_tensors(Plan& plan, const std::vector<LogicalTensor>& logicals, const TargetSpec& target) {
  const ModelConfig& c = plan.out_config;
  const int tp = plan.tp;
  if (plan.layout == OutLayout::Hf) {
    std::vector<PlannedTensor> all;
    for (const auto& lt : logicals) {
      auto ts = shard_tensors(lt, ShardRange{0, 0, lt.recipe.rows});
      if (!ts) return ts.error();
      for (auto& t : *ts) all.push_back(std::move(t));
    }
    std::vector<PlannedFile> files(1);
    for (auto& t : all) {
      if (!files.back().tensors.empty() && files.back().payload_bytes + t.bytes > target.hf_max_file_bytes)
        files.emplace_back();
      files.back().payload_bytes += t.bytes;
      files.back().tensors.push_back(std::move(t));
    }
    json index{{"metadata", {{"total_size", 0}}}, {"weight_map", json::object()}};
    uint64_t total = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      files[i].path = file_name_hf(i, files.size());
      for (const auto& t : files[i].tensors) index["weight_map"][t.name] = files[i].path;
      total += files[i].payload_bytes;
    }
    index["metadata"]["total_size"] = total;
    plan.files = std::move(files);
    plan.text_files.push_back({"model.safetensors.index.json", index.dump(2) + "\n"});
    return Status::Ok();
  }
  // tp / rank: files keyed by (group, rank), rank -1 = TP-common; ordered by group, common first.
  std::map<std::pair<int, int>, PlannedFile> files;
  auto add = [&](int group, int rank, std::vector<PlannedTensor> ts) {
    PlannedFile& f = files[{group, rank}];
    for (auto& t : ts) {
      f.payload_bytes += t.bytes;
      f.tensors.push_back(std::move(t));
    }
  };
  for (const auto& lt : logicals) {
    const TensorSpec& spec = *lt.spec;
    const bool per_rank = plan.layout == OutLayout::Tp ? spec.per_rank_file : spec.split != Split::Replicated;
    if (!per_rank) {
      auto ts = shard_tensors(lt, ShardRange{0, 0, lt.recipe.rows});
      if (!ts) return ts.error();
      add(spec.file_group, -1, std::move(*ts));
      continue;
    }
    for (int r = 0; r < tp; ++r) {
      auto range = shard_range(spec, c, tp, r);
      if (!range) return range.error();
      if (spec.shape.size() != 2) return Status(invalid(spec.name + ": only 2-D tensors can be split per rank"));
      auto ts = shard_tensors(lt, *range);
      if (!ts) return ts.error();
      add(spec.file_group, r, std::move(*ts));
    }
  }
  for (auto& [key, f] : files) {
    f.path = file_name_tp(key.first, key.second);
    f.rank = key.second;
    plan.files.push_back(std::move(f));
  }
  return Status::Ok();
}

std::string plan_config_json(const Plan& plan, const SourceDesc& src) {
  json j = json::parse(model_config_to_json(plan.out_config));
  const bool sharded = plan.tp > 1 && plan.layout != OutLayout::Hf;
  // SGLang's grok.py defaults load_presharded_moe to true when TP > 1, so every output says
  // explicitly which tensors are presharded.
  j["load_presharded_moe"] = sharded;
  const bool rank = sharded && plan.layout == OutLayout::Rank;
  j["load_presharded_mlp"] = rank;
  j["load_presharded_attn"] = rank;
  j["load_presharded_embedding"] = rank;
  if (plan.layout != OutLayout::Hf) j["g2_layout"] = {{"kind", out_layout_name(plan.layout)}, {"tp", plan.tp}};
  if (src.family == Family::Grok1) {
    j["g2_upgraded_from"] = "grok-1";
    j["g2_tokenizer"] = "tokenizer.model (Grok-1 SentencePiece)";
  }
  return j.dump(2) + "\n";
}

static json recipe_json(const Recipe& r) {
  return json{{"src", r.src},          {"src_scale", r.src_scale},
              {"src_dtype", dtype_name(r.src_dtype)},
              {"src_shape", r.src_shape}, {"src_fp8", {int(r.src_fp8.mode), r.src_fp8.block_n, r.src_fp8.block_k}},
              {"expert", r.expert},    {"transpose", r.transpose},
              {"rows", r.rows},        {"cols", r.cols},
              {"src_rows", r.src_rows}, {"decode", int(r.decode)},
              {"encode", int(r.encode)}, {"fp8", {int(r.fp8.mode), r.fp8.block_n, r.fp8.block_k}},
              {"slice", {r.slice_axis, r.begin, r.end}}, {"logical", r.logical}};
}

std::string Plan::fingerprint() const {
  json j{{"tp", tp}, {"layout", out_layout_name(layout)}, {"files", json::array()}, {"text", json::array()}};
  for (const auto& f : files) {
    json jf{{"path", f.path}, {"tensors", json::array()}};
    for (const auto& t : f.tensors)
      jf["tensors"].push_back(
          {{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"recipe", recipe_json(t.recipe)}});
    j["files"].push_back(jf);
  }
  for (const auto& t : text_files) j["text"].push_back({t.path, t.content});
  if (ranks) j["ranks"] = {ranks->first, ranks->last};  // absent for a whole set: its fingerprint is unchanged
  for (const auto& [k, v] : plan_file_metadata()) j["metadata"][k] = v;
  const std::string s = j.dump();
  const XXH128_hash_t h = XXH3_128bits(s.data(), s.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016" PRIx64 "%016" PRIx64, uint64_t(h.high64), uint64_t(h.low64));
  return buf;
}

static std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", double(b) / double(1ull << 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", double(b) / 1024.0);
  else std::snprintf(buf, sizeof buf, "%" PRIu64 " B", b);
  return buf;
}

static std::string recipe_text(const Recipe& r) {
  std::string s = "<- " + r.src;
  if (r.expert >= 0) s += "[" + std::to_string(r.expert) + "]";
  if (r.transpose) s += " transposed";
  const bool full = r.slice_axis == 0 ? (r.begin == 0 && r.end == r.rows) : (r.begin == 0 && r.end == r.cols);
  if (!full)
    s += std::string(r.slice_axis == 0 ? " rows " : " cols ") + "[" + std::to_string(r.begin) + ":" +
         std::to_string(r.end) + "]";
  if (r.src_rows < r.rows) s += " pad " + std::to_string(r.rows - r.src_rows) + " zero rows";
  if (r.src_rows == r.rows && r.src_shape.size() == 2 && r.expert < 0 && !r.transpose && r.src_shape[0] > r.rows)
    s += " trim to " + std::to_string(r.rows) + " rows";
  switch (r.decode) {
    case Decode::Raw: break;
    case Decode::Float: s += " " + std::string(dtype_name(r.src_dtype)); break;
    case Decode::Grok1Int8: s += " int8*scales->bf16 (reference)"; break;
    case Decode::Fp8: s += " dequant fp8(" + std::string(fp8_scale_mode_name(r.src_fp8.mode)) + ")"; break;
  }
  switch (r.encode) {
    case Encode::Raw: s += " copy"; break;
    case Encode::BF16: s += " -> bf16"; break;
    case Encode::F32: s += " -> f32"; break;
    case Encode::Fp8Weight: s += " -> fp8 " + std::string(fp8_scale_mode_name(r.fp8.mode)); break;
    case Encode::Fp8Scale: s += " scales"; break;
  }
  return s;
}

std::string plan_to_text(const Plan& p) {
  std::string s;
  char buf[256];
  std::snprintf(buf, sizeof buf, "plan: %zu files, %s, layout %s, tp %d, dtype %s%s\n", p.files.size(),
                human_bytes(p.total_bytes()).c_str(), std::string(out_layout_name(p.layout)).c_str(), p.tp,
                std::string(dtype_target_name(p.dtype)).c_str(), p.ranks ? (", " + p.ranks->text()).c_str() : "");
  s += buf;
  for (const auto& f : p.files) {
    std::snprintf(buf, sizeof buf, "%s  (%zu tensors, %s)\n", f.path.c_str(), f.tensors.size(),
                  human_bytes(f.payload_bytes).c_str());
    s += buf;
    for (const auto& t : f.tensors)
      s += "  " + t.name + "  " + std::string(dtype_name(t.dtype)) + " " + shape_str(t.shape) + "  " +
           human_bytes(t.bytes) + "  " + recipe_text(t.recipe) + "\n";
  }
  for (const auto& t : p.text_files) s += t.path + "  (" + human_bytes(t.content.size()) + ")\n";
  for (const auto& n : p.notes) s += "note: " + n + "\n";
  return s;
}

}  // namespace g2
