#include "libconvert/format/safetensors_set.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "libconvert/format/index.h"

namespace g2 {

namespace fs = std::filesystem;

Status SafetensorsBackedSource::open_config(const std::string& dir, const std::string& config_path, Format format) {
  root_ = dir;
  format_ = format;
  auto cfg = load_set_config(dir, config_path);
  if (!cfg) return cfg.status();
  config_ = std::move(*cfg);
  family_ = config_.family;
  if (config_path.empty()) extra_files_.push_back((fs::path(dir) / "config.json").string());
  return Status::Ok();
}

std::vector<std::string> SafetensorsBackedSource::files() const {
  std::vector<std::string> out;
  for (const auto& f : files_) out.push_back(fs::absolute(f->path()).string());
  for (const auto& f : extra_files_) out.push_back(fs::absolute(f).string());
  return out;
}

void SafetensorsBackedSource::release(const SourceTensor& t) const {
  for (const auto& p : t.pieces)
    for (const auto& f : files_)
      if (f->path() == p.file) f->mapped().release(p.file_offset, p.view.nbytes());
}

Expected<ModelConfig> load_set_config(const std::string& dir, const std::string& config_path) {
  const std::string path = config_path.empty() ? (fs::path(dir) / "config.json").string() : config_path;
  if (!fs::exists(path))
    return not_found(config_path.empty() ? dir + ": no config.json; pass the model's config with --config FILE"
                                         : path + ": config file not found");
  return load_model_config(path);
}

LayoutIndex::LayoutIndex(const ModelConfig& c) : c_(c), layout_(grok2_layout(c)) {
  for (size_t i = 0; i < layout_.size(); ++i) by_name_[layout_[i].name] = i;
}

Expected<LayoutMatch> LayoutIndex::match(const std::string& name, const Shape& shape, const std::string& where) const {
  LayoutMatch m;
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    m.weight = &layout_[it->second];
    m.spec = *m.weight;
    return m;
  }
  bool block = false;
  const std::string wname = scale_weight_name(name, &block);
  auto it = wname.empty() ? by_name_.end() : by_name_.find(wname);
  if (it == by_name_.end())
    return invalid(where + ": tensor \"" + name + "\" is not in the Grok-2 layout of " + c_.source);
  m.weight = &layout_[it->second];
  if (!m.weight->fp8_candidate)
    return invalid(where + ": \"" + name + "\" is an FP8 scale for \"" + wname + "\", which stays BF16 in FP8 sets");
  m.is_scale = true;
  if (block) m.scale.mode = Fp8ScaleMode::Block;
  else if (shape.empty() || (shape.size() == 1 && shape[0] == 1)) m.scale.mode = Fp8ScaleMode::Tensor;
  else if (shape.size() == 2 && shape[1] == 1) m.scale.mode = Fp8ScaleMode::Channel;
  else
    return invalid(where + ": scale \"" + name + "\" has shape " + shape_str(shape) +
                   "; expected [] or [1] (per tensor) or [N, 1] (per channel)");
  if (block) {
    const auto b = fp8_block_spec(c_);
    if (!b)
      return invalid(where + ": block scale \"" + name + "\" but " + c_.source +
                     " has no quantization_config.weight_block_size");
    m.scale = *b;
  }
  m.spec = scale_split(*m.weight, m.scale);
  return m;
}

std::vector<std::string> LayoutIndex::missing(const std::unordered_map<std::string, size_t>& present) const {
  std::vector<std::string> out;
  for (const auto& s : layout_) {
    if (s.role == Role::LmHead && c_.tie_word_embeddings) continue;
    if (!present.count(s.name)) out.push_back(s.name);
  }
  return out;
}

bool matches_logical_shape(const LayoutMatch& m, const Shape& got) {
  if (m.is_scale && m.scale.mode == Fp8ScaleMode::Tensor) return got.empty() || got == Shape{1};
  return got == m.spec.shape;
}

namespace {

class HfSetSource final : public SafetensorsBackedSource {
 public:
  Status open(const std::string& dir, const std::string& config_path);
};

Status HfSetSource::open(const std::string& dir, const std::string& config_path) {
  G2_TRY(open_config(dir, config_path, Format::SafetensorsSet));

  const std::string index_path = (fs::path(dir) / kSafetensorsIndexName).string();
  std::vector<std::string> names;  // file names in the directory, sorted
  std::optional<SafetensorsIndex> index;
  if (fs::exists(index_path)) {
    auto idx = read_safetensors_index(index_path);
    if (!idx) return idx.status();
    index = std::move(*idx);
    extra_files_.insert(extra_files_.begin(), index_path);
    std::set<std::string> listed;
    for (const auto& [t, f] : index->weight_map) listed.insert(f);
    for (const auto& f : listed) {
      if (!fs::is_regular_file(fs::path(dir) / f))
        return not_found(index_path + ": names shard \"" + f + "\", which is not a file in " + dir);
      names.push_back(f);
    }
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string n = e.path().filename().string();
      if (n.size() > 12 && n.substr(n.size() - 12) == ".safetensors" && !listed.count(n))
        return invalid(dir + ": " + n + " is not named by " + kSafetensorsIndexName +
                       " (a leftover from another model?)");
    }
  } else if (fs::is_regular_file(fs::path(dir) / "model.safetensors")) {
    names.push_back("model.safetensors");
  } else {
    return not_found(dir + ": neither " + kSafetensorsIndexName + " nor model.safetensors");
  }

  LayoutIndex layout(config_);
  std::unordered_map<std::string, size_t> seen;
  uint64_t total = 0;
  for (const auto& n : names) {
    auto f = SafetensorsFile::open((fs::path(dir) / n).string());
    if (!f) return f.status();
    files_.push_back(std::make_unique<SafetensorsFile>(std::move(*f)));
    const SafetensorsFile& sf = *files_.back();
    for (const auto& e : sf.tensors()) {
      if (index) {
        auto it = index->weight_map.find(e.name);
        if (it == index->weight_map.end())
          return invalid(sf.path() + ": tensor \"" + e.name + "\" is not listed in " + index_path);
        if (it->second != n)
          return invalid(index_path + ": puts \"" + e.name + "\" in " + it->second + " but it is in " + n);
      }
      auto m = layout.match(e.name, e.shape, sf.path());
      if (!m) return m.status();
      if (!matches_logical_shape(*m, e.shape))
        return invalid(sf.path() + ": tensor \"" + e.name + "\" has shape " + shape_str(e.shape) + ", expected " +
                       shape_str(m->spec.shape) + " from " + config_.source);
      seen[e.name] = tensors_.size();
      tensors_.push_back(
          SourceTensor{e.name, e.dtype, e.shape, 0, {TensorPiece{sf.view(e), sf.path(), sf.file_offset(e)}}});
      total += e.nbytes();
    }
  }
  if (index) {
    for (const auto& [t, f] : index->weight_map)
      if (!seen.count(t)) return invalid(index_path + ": lists \"" + t + "\" in " + f + ", which does not hold it");
    if (index->total_size != total)
      return invalid(index_path + ": metadata.total_size is " + std::to_string(index->total_size) +
                     " but the tensors hold " + std::to_string(total) + " bytes");
  }
  auto miss = layout.missing(seen);
  if (!miss.empty())
    return invalid(dir + ": missing " + std::to_string(miss.size()) + " tensor(s) of the layout, first \"" + miss[0] +
                   "\"");
  return Status::Ok();
}

}  // namespace

Expected<std::unique_ptr<TensorSource>> open_safetensors_set(const std::string& dir, const std::string& config_path) {
  auto s = std::make_unique<HfSetSource>();
  G2_TRY(s->open(dir, config_path));
  return std::unique_ptr<TensorSource>(std::move(s));
}

}  // namespace g2
