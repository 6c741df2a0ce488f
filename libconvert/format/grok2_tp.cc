#include "libconvert/format/grok2_tp.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

namespace g2 {

namespace fs = std::filesystem;

namespace {

// One stored copy of a tensor: an entry of an opened file.
struct Loc {
  const SafetensorsFile* file = nullptr;
  const SafetensorsEntry* entry = nullptr;
};

bool same_bytes(const Loc& a, const Loc& b) {
  const auto x = a.file->bytes(*a.entry), y = b.file->bytes(*b.entry);
  const bool same = x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size()) == 0);
  // compared once at open: drop the pages from the resident set again
  a.file->mapped().release(a.file->file_offset(*a.entry), x.size());
  b.file->mapped().release(b.file->file_offset(*b.entry), y.size());
  return same;
}

TensorPiece piece(const Loc& l) {
  return TensorPiece{l.file->view(*l.entry), l.file->path(), l.file->file_offset(*l.entry)};
}

std::string range_str(const ShardRange& r) {
  return "[" + std::to_string(r.begin) + ", " + std::to_string(r.end) + ") of axis " + std::to_string(r.axis);
}

// Ranks as ranges, e.g. "0-7" or "0-3, 6".
std::string ranks_text(const std::set<int>& rs) {
  std::string out;
  for (auto it = rs.begin(); it != rs.end();) {
    const int a = *it;
    int b = a;
    while (++it != rs.end() && *it == b + 1) ++b;
    out += (out.empty() ? "" : ", ") + std::to_string(a) + (b > a ? "-" + std::to_string(b) : "");
  }
  return out;
}

// Check the file set: which groups have rank files, that no rank is missing and that every
// group agrees on tp. Returns tp. With `subset`, every group must hold exactly its ranks.
Expected<int> check_ranks(const std::string& dir, const std::map<int, std::set<int>>& ranks, int declared_tp,
                          const std::string& cfg_path, const std::optional<RankSubset>& subset) {
  int tp = declared_tp;
  if (subset) {
    if (tp > 0 && tp != subset->tp)
      return invalid(dir + ": a share of " + subset->text() + " was expected, but " + cfg_path + " says g2_layout.tp " +
                     std::to_string(tp));
    tp = subset->tp;
  }
  if (tp > 0) {
    for (const auto& [g, rs] : ranks)
      if (*rs.rbegin() >= tp)
        return invalid(dir + ": " + tp_rank_file_name(g, *rs.rbegin()) + " is rank " + std::to_string(*rs.rbegin()) +
                       " but " + cfg_path + " says g2_layout.tp " + std::to_string(tp) + " (mixed tp?)");
  } else {
    tp = 1;
    for (const auto& [g, rs] : ranks) tp = std::max(tp, *rs.rbegin() + 1);
    // Complete groups of different sizes are two tp values mixed, not missing files.
    std::map<int, int> complete;  // size -> a group with that many, complete
    for (const auto& [g, rs] : ranks)
      if (int(rs.size()) == *rs.rbegin() + 1) complete[int(rs.size())] = g;
    if (complete.size() > 1) {
      auto a = complete.begin(), b = std::prev(complete.end());
      return invalid(dir + ": mixed tp: group " + std::to_string(a->second) + " has " + std::to_string(a->first) +
                     " rank files (" + tp_rank_file_name(a->second, 0) + "...) but group " +
                     std::to_string(b->second) + " has " + std::to_string(b->first));
    }
  }
  if (subset) {
    for (const auto& [g, rs] : ranks) {
      for (int r : rs)
        if (!subset->holds(r))
          return invalid((fs::path(dir) / tp_rank_file_name(g, r)).string() + " is rank " + std::to_string(r) +
                         ", outside this share (" + subset->text() + ")");
      for (int r = subset->first; r <= subset->last; ++r)
        if (!rs.count(r))
          return not_found((fs::path(dir) / tp_rank_file_name(g, r)).string() + ": missing (rank " + std::to_string(r) +
                           " of this share, " + subset->text() + ")");
    }
    return tp;
  }
  // The same ranks missing from every group: a folder holding one node's share (g2convert
  // --ranks). Name the ranks, not just the first file.
  std::optional<std::set<int>> common_missing;
  for (const auto& [g, rs] : ranks) {
    std::set<int> missing;
    for (int r = 0; r < tp; ++r)
      if (!rs.count(r)) missing.insert(r);
    if (!common_missing) common_missing = missing;
    else if (*common_missing != missing) common_missing = std::set<int>{};
  }
  if (common_missing && !common_missing->empty()) {
    std::set<int> held;
    for (int r = 0; r < tp; ++r)
      if (!common_missing->count(r)) held.insert(r);
    const int g = ranks.begin()->first;
    return not_found(dir + ": holds only ranks " + ranks_text(held) + " of tp " + std::to_string(tp) + "; ranks " +
                     ranks_text(*common_missing) + " are missing (" +
                     (fs::path(dir) / tp_rank_file_name(g, *common_missing->begin())).string() +
                     " ...). A g2convert --ranks folder is one node's share: this needs every rank in one folder "
                     "(g2inspect --verify checks a share)");
  }
  for (const auto& [g, rs] : ranks)
    for (int r = 0; r < tp; ++r)
      if (!rs.count(r))
        return not_found((fs::path(dir) / tp_rank_file_name(g, r)).string() + ": missing (rank " + std::to_string(r) +
                         " of tp " + std::to_string(tp) + "; group " + std::to_string(g) + " has " +
                         std::to_string(rs.size()) + " rank files)");
  return tp;
}

}  // namespace

Expected<std::unique_ptr<Grok2TpSource>> Grok2TpSource::open(const std::string& dir, const std::string& config_path,
                                                             const std::optional<RankSubset>& ranks) {
  auto s = std::unique_ptr<Grok2TpSource>(new Grok2TpSource());
  if (ranks && !ranks->whole()) s->ranks_ = ranks;
  G2_TRY(s->open_impl(dir, config_path));
  return s;
}

Status Grok2TpSource::open_impl(const std::string& dir, const std::string& config_path) {
  G2_TRY(open_config(dir, config_path, Format::Grok2TpSet));
  const std::string cfg_path = config_path.empty() ? (fs::path(dir) / "config.json").string() : config_path;
  auto g2l = read_g2_layout(cfg_path);
  if (!g2l) return g2l.status();

  // The file set.
  std::vector<std::pair<std::string, TpFileName>> names;
  std::map<int, std::set<int>> ranks;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() <= 12 || n.substr(n.size() - 12) != ".safetensors") continue;
    auto p = parse_tp_file_name(n);
    if (!p)
      return invalid(dir + ": " + n + " is not a TP-set file name (pytorch_model-NNNNN-TP-common.safetensors or " +
                     "pytorch_model-NNNNN-TP-RRR.safetensors)");
    names.emplace_back(n, *p);
    if (p->rank >= 0) ranks[p->group].insert(p->rank);
  }
  if (ec) return io_error(dir + ": cannot list: " + ec.message());
  if (names.empty()) return not_found(dir + ": no pytorch_model-*-TP-*.safetensors files");
  std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  auto tp = check_ranks(dir, ranks, g2l->tp, cfg_path, ranks_);
  if (!tp) return tp.status();
  tp_ = *tp;
  std::vector<int> held;  // the ranks whose files are here: all of them, or the subset's
  for (int r = 0; r < tp_; ++r)
    if (!ranks_ || ranks_->holds(r)) held.push_back(r);

  // Open every file; index its tensors as whole (common) or per rank.
  std::map<std::string, Loc> common;
  std::map<std::string, std::vector<Loc>> ranked;
  std::vector<std::string> order;  // first appearance
  for (const auto& [n, p] : names) {
    auto f = SafetensorsFile::open((fs::path(dir) / n).string());
    if (!f) return f.status();
    files_.push_back(std::make_unique<SafetensorsFile>(std::move(*f)));
    const SafetensorsFile* sf = files_.back().get();
    for (const auto& e : sf->tensors()) {
      const Loc loc{sf, &e};
      if (p.rank < 0) {
        if (common.count(e.name) || ranked.count(e.name))
          return invalid(sf->path() + ": tensor \"" + e.name + "\" is also in " +
                         (common.count(e.name) ? common[e.name].file->path() : "the rank files"));
        common[e.name] = loc;
        order.push_back(e.name);
        continue;
      }
      if (common.count(e.name))
        return invalid(sf->path() + ": tensor \"" + e.name + "\" is also in " + common[e.name].file->path());
      auto& v = ranked[e.name];
      if (v.empty()) {
        v.resize(size_t(tp_));
        order.push_back(e.name);
      }
      if (v[size_t(p.rank)].file)
        return invalid(sf->path() + ": tensor \"" + e.name + "\" is also in " + v[size_t(p.rank)].file->path() +
                       " (same rank " + std::to_string(p.rank) + ")");
      v[size_t(p.rank)] = loc;
    }
  }

  LayoutIndex layout(config_);
  std::unordered_map<std::string, size_t> seen;
  std::optional<std::string> split_in_rank;  // a non-expert tensor in rank files: `rank` layout
  for (const auto& name : order) {
    if (auto it = common.find(name); it != common.end()) {
      const Loc& l = it->second;
      auto m = layout.match(name, l.entry->shape, l.file->path());
      if (!m) return m.status();
      if (!matches_logical_shape(*m, l.entry->shape))
        return invalid(l.file->path() + ": tensor \"" + name + "\" has shape " + shape_str(l.entry->shape) +
                       ", expected " + shape_str(m->spec.shape) + " from " + config_.source);
      if (g2l->kind == TpLayoutKind::Rank && tp_ > 1 && m->spec.split != Split::Replicated)
        return invalid(l.file->path() + ": \"" + name + "\" splits over TP ranks, but " + cfg_path +
                       " says g2_layout.kind \"rank\" (split tensors belong in the -TP-RRR files)");
      seen[name] = tensors_.size();
      tensors_.push_back(SourceTensor{name, l.entry->dtype, l.entry->shape, 0, {piece(l)}});
      continue;
    }
    const auto& locs = ranked.at(name);
    for (int r : held) {
      if (locs[size_t(r)].file) continue;
      const Loc& first = *std::find_if(locs.begin(), locs.end(), [](const Loc& l) { return l.file != nullptr; });
      const int group = parse_tp_file_name(fs::path(first.file->path()).filename().string())->group;
      return invalid((fs::path(dir) / tp_rank_file_name(group, r)).string() + ": lacks tensor \"" + name +
                     "\", which " + first.file->path() + " holds (every rank must hold its slice)");
    }
    const int r0 = held.front();
    const Loc& l0 = locs[size_t(r0)];
    auto m = layout.match(name, l0.entry->shape, l0.file->path());
    if (!m) return m.status();
    if (!m->weight->per_rank_file && !split_in_rank) split_in_rank = name;
    SourceTensor t{name, l0.entry->dtype, m->spec.shape, 0, {}};
    for (int r : held)
      if (locs[size_t(r)].entry->dtype != t.dtype)
        return invalid(locs[size_t(r)].file->path() + ": tensor \"" + name + "\" is " +
                       std::string(dtype_name(locs[size_t(r)].entry->dtype)) + " but " +
                       std::string(dtype_name(t.dtype)) + " in " + l0.file->path());
    const bool tensor_scale = m->is_scale && m->scale.mode == Fp8ScaleMode::Tensor;
    if (m->spec.split == Split::Replicated || tensor_scale) {
      // Every rank holds the whole tensor: keep the first copy once the others match it.
      t.shape = tensor_scale ? l0.entry->shape : m->spec.shape;
      for (int r : held) {
        const Loc& l = locs[size_t(r)];
        if (l.entry->shape != t.shape)
          return invalid(l.file->path() + ": replicated tensor \"" + name + "\" has shape " +
                         shape_str(l.entry->shape) + ", expected " + shape_str(t.shape));
        if (!same_bytes(l, l0))
          return invalid(l.file->path() + ": replicated tensor \"" + name + "\" differs from rank " +
                         std::to_string(r0) + "'s copy in " + l0.file->path());
      }
      t.pieces.push_back(piece(l0));
    } else {
      int64_t covered = 0;
      int holder = -1;
      ShardRange last{};
      for (int r : held) {
        const Loc& l = locs[size_t(r)];
        auto rng = m->is_scale ? scale_shard_range(*m->weight, m->scale, config_, tp_, r)
                               : shard_range(*m->weight, config_, tp_, r);
        if (!rng) return invalid(l.file->path() + ": " + rng.message());
        Shape want = m->spec.shape;
        want[size_t(rng->axis)] = rng->end - rng->begin;
        if (l.entry->shape != want)
          return invalid(l.file->path() + ": tensor \"" + name + "\" has shape " + shape_str(l.entry->shape) +
                         ", expected " + shape_str(want) + " (rank " + std::to_string(r) + " of tp " +
                         std::to_string(tp_) + " holds " + range_str(*rng) + " of " + shape_str(m->spec.shape) + ")");
        if (ranks_) {  // a share: each rank's slice on its own
          seen[name] = tensors_.size();
          tensors_.push_back(SourceTensor{name, t.dtype, want, 0, {piece(l)}});
        } else if (rng->begin == covered) {
          t.pieces.push_back(piece(l));
          t.concat_axis = rng->axis;
          covered = rng->end;
          holder = r;
          last = *rng;
        } else if (holder >= 0 && rng->begin == last.begin && rng->end == last.end) {
          // A KV head replicated over several ranks: the copies must agree.
          if (!same_bytes(l, locs[size_t(holder)]))
            return invalid(l.file->path() + ": tensor \"" + name + "\" (replicated KV head " + range_str(*rng) +
                           ") differs from rank " + std::to_string(holder) + "'s copy in " +
                           locs[size_t(holder)].file->path());
        } else {
          return invalid(l.file->path() + ": tensor \"" + name + "\": rank " + std::to_string(r) + " holds " +
                         range_str(*rng) + " but the ranks before cover [0, " + std::to_string(covered) + ")");
        }
      }
      if (ranks_) continue;
      if (covered != m->spec.shape[size_t(t.concat_axis)])
        return invalid(dir + ": tensor \"" + name + "\": the ranks cover [0, " + std::to_string(covered) + ") of " +
                       shape_str(m->spec.shape));
    }
    seen[name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
  kind_ = split_in_rank ? TpLayoutKind::Rank : TpLayoutKind::Tp;
  if (g2l->kind == TpLayoutKind::Tp && split_in_rank)
    return invalid(dir + ": \"" + *split_in_rank + "\" is in the rank files, but " + cfg_path +
                   " says g2_layout.kind \"tp\" (only experts are per rank)");
  if (g2l->kind) kind_ = *g2l->kind;
  auto miss = layout.missing(seen);
  if (!miss.empty())
    return invalid(dir + ": missing " + std::to_string(miss.size()) + " tensor(s) of the layout, first \"" + miss[0] +
                   "\"");
  return Status::Ok();
}

}  // namespace g2
