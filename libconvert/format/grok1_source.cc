#include "libconvert/format/grok1_source.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "libconvert/format/pickle_reader.h"

namespace g2 {

namespace fs = std::filesystem;

std::string grok1_tensor_file_name(int index) {
  char name[32];
  std::snprintf(name, sizeof name, "tensor%05d_000", index);
  return name;
}

std::string grok1_tensor_path(const std::string& root, int index) {
  return (fs::path(root) / "ckpt-0" / grok1_tensor_file_name(index)).string();
}

namespace {

std::string describe(const PickledArray& a) { return std::string(dtype_name(a.dtype)) + " " + shape_str(a.shape); }

class Grok1JaxSource final : public TensorSource {
 public:
  Format format() const override { return Format::Grok1Jax; }
  Family family() const override { return Family::Grok1; }
  const ModelConfig& config() const override { return config_; }
  const std::vector<SourceTensor>& tensors() const override { return tensors_; }
  const std::string& root() const override { return root_; }
  std::vector<std::string> files() const override { return paths_; }
  // Drop the pages of a consumed tensor (streaming a 300 GB checkpoint must not grow RSS).
  void release(const SourceTensor& t) const override {
    for (const auto& p : t.pieces)
      for (const auto& m : maps_)
        if (m.path() == p.file && p.view.data >= m.data() && p.view.as<uint8_t>() < m.data() + m.size())
          m.release(p.file_offset, size_t(p.view.nbytes()));
  }

  // Every payload is the file's own bytes at its offset (protocol-4 pickles: BINBYTES8 /
  // raw buffers), so readers may pread them: the executor's transposed read does, and the
  // resident set then does not grow with the expert it walks.
  bool pieces_in_files() const override { return raw_payloads_; }

  Status open(const std::string& dir, const std::string& config_path);

 private:
  Status load_config(const std::string& config_path);
  Status add_file(int index, const std::vector<const TensorSpec*>& specs);

  std::string root_;
  ModelConfig config_;
  std::vector<SourceTensor> tensors_;
  std::vector<std::string> paths_;
  std::vector<MappedFile> maps_;         // views in tensors_ point into these
  std::vector<PickledTensor> pickles_;   // and, for protocol-2 files, into these
  bool raw_payloads_ = true;             // no piece lives in pickles_ (see pieces_in_files)
};

Status Grok1JaxSource::load_config(const std::string& config_path) {
  std::string path = config_path;
  if (path.empty()) {
    path = (fs::path(root_) / "config.json").string();
    if (!fs::exists(path))
      return not_found(root_ + ": a Grok-1 JAX checkpoint with no config.json (the xAI release carries none): " +
                       "pass --config configs/grok-1.json");
  }
  auto c = load_model_config(path);
  if (!c) return c.error();
  if (c->family != Family::Grok1)
    return invalid(path + ": describes a " + std::string(family_name(c->family)) + " model, not grok-1, but " + root_ +
                   " is a Grok-1 JAX checkpoint (ckpt-0/tensor*_000)");
  config_ = std::move(*c);
  return Status::Ok();
}

Status Grok1JaxSource::add_file(int index, const std::vector<const TensorSpec*>& specs) {
  const std::string path = grok1_tensor_path(root_, index);
  auto m = MappedFile::open(path);
  if (!m) return m.error();
  auto p = unpickle_tensor(m->bytes(), path);
  if (!p) return p.error();
  const TensorSpec& first = *specs[0];
  const bool want_q = specs.size() == 2;
  if (p->quantized != want_q) {
    return invalid(path + ": holds " +
                   (p->quantized ? "a QuantizedWeight8bit" : "a plain array " + describe(p->array)) + ", expected " +
                   (want_q ? "a QuantizedWeight8bit" : "a plain array") + " for " + first.name + " (file index " +
                   std::to_string(index) + " in Grok-1's sorted-layer order)");
  }
  const PickledArray* arrays[2] = {&p->array, &p->scales};
  for (size_t k = 0; k < specs.size(); ++k) {
    const TensorSpec& s = *specs[k];
    const PickledArray& a = *arrays[k];
    if (a.dtype != s.dtype || a.shape != s.shape)
      return invalid(path + ": " + s.name + " is " + describe(a) + ", expected " + std::string(dtype_name(s.dtype)) +
                     " " + shape_str(s.shape) + " (from " + config_.source + ")");
    SourceTensor t;
    t.name = s.name;
    t.dtype = a.dtype;
    t.shape = a.shape;
    t.pieces.push_back(TensorPiece{a.view(), path, a.offset >= 0 ? uint64_t(a.offset) : 0});
    if (a.offset < 0) raw_payloads_ = false;
    tensors_.push_back(std::move(t));
  }
  paths_.push_back(path);
  maps_.push_back(std::move(*m));
  pickles_.push_back(std::move(*p));
  return Status::Ok();
}

Status Grok1JaxSource::open(const std::string& dir, const std::string& config_path) {
  root_ = dir;
  const fs::path ckpt = fs::path(dir) / "ckpt-0";
  if (!fs::is_directory(ckpt)) return not_found(dir + ": no ckpt-0 directory (not a Grok-1 JAX checkpoint)");
  G2_TRY(load_config(config_path));
  G2_TRY(validate(config_));

  // file index -> its specs (a quantized weight's `w` before its `scales`, as the layout lists them)
  std::map<int, std::vector<const TensorSpec*>> files;
  const std::vector<TensorSpec> layout = grok1_layout(config_);
  for (const auto& s : layout) files[s.file_group].push_back(&s);
  const int n = files.empty() ? 0 : files.rbegin()->first + 1;
  G2_ASSERT(int(files.size()) == n, "grok1_layout file groups are not contiguous");

  std::set<std::string> expected;
  for (int i = 0; i < n; ++i) expected.insert(grok1_tensor_file_name(i));
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(ckpt, ec)) {
    const std::string name = e.path().filename().string();
    if (name[0] == '.') continue;  // download tools' and file managers' hidden bookkeeping
    if (!expected.count(name))
      return invalid((ckpt / name).string() + ": unexpected file in a Grok-1 checkpoint with " +
                     std::to_string(config_.num_hidden_layers) + " layers (expected tensor00000_000 .. " +
                     grok1_tensor_file_name(n - 1) + "; is the config right?)");
  }
  if (ec) return io_error(ckpt.string() + ": cannot list: " + ec.message());
  for (int i = 0; i < n; ++i)
    if (!fs::exists(ckpt / grok1_tensor_file_name(i)))
      return not_found(grok1_tensor_path(dir, i) + ": missing (it holds " + files[i][0]->name + ")");

  maps_.reserve(size_t(n));
  pickles_.reserve(size_t(n));
  for (const auto& [index, specs] : files) G2_TRY(add_file(index, specs));
  return Status::Ok();
}

}  // namespace

Expected<std::unique_ptr<TensorSource>> open_grok1_jax(const std::string& dir, const std::string& config_path) {
  auto src = std::make_unique<Grok1JaxSource>();
  G2_TRY(src->open(dir, config_path));
  return std::unique_ptr<TensorSource>(std::move(src));
}

}  // namespace g2
