// g2inspect: look inside any checkpoint g2kit reads. Prints the detected format, every logical
// tensor (dtype, shape, bytes, files), totals, parameters per role; --digests adds the
// layout-independent digests; --verify reads every tensor (NaN/Inf) and checks g2manifest.json.
// Exit: 0 ok, 1 verification failed, 2 usage or input error.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "tools/common/cli.h"
#include "libconvert/describe.h"
#include "libconvert/format/digest.h"
#include "libconvert/layout/scales.h"
#include "libconvert/layout/serving.h"

namespace g2 {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

struct Options {
  std::string dir, config;
  bool json = false, verify = false, digests = false, quiet = false;
};

struct Row {
  const SourceTensor* t;
  std::string role;
  std::vector<std::string> files;
  Digest128 digest;
  NonFinite nonfinite;
};

// Role names from the layout tables: Grok-2 names first, then Grok-1 paths; FP8 companions.
std::string role_of(const std::string& name, const std::vector<TensorSpec>& g2, const std::vector<TensorSpec>& g1) {
  if (const TensorSpec* s = find_spec(g2, name)) return std::string(role_name(s->role));
  if (const TensorSpec* s = find_spec(g1, name)) return std::string(role_name(s->role));
  if (!scale_weight_name(name).empty()) return "fp8_scale";
  return "other";
}

std::vector<std::string> piece_files(const SourceTensor& t, const std::string& root) {
  std::vector<std::string> out;
  for (const auto& p : t.pieces) {
    std::string rel = fs::relative(p.file, root).string();
    if (out.empty() || out.back() != rel) out.push_back(rel);
  }
  return out;
}

std::string files_str(const std::vector<std::string>& f) {
  if (f.size() <= 2) {
    std::string s;
    for (const auto& x : f) s += (s.empty() ? "" : ", ") + x;
    return s;
  }
  return f.front() + " .. " + f.back() + " (" + std::to_string(f.size()) + " files)";
}

std::string with_commas(uint64_t v) {
  std::string s = std::to_string(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

// An unreadable checkpoint is an input error (2), unless --verify finds that its files no
// longer match g2manifest.json: then the damage is what the manifest exists to catch (1).
int input_error(const Options& o, const std::string& msg) {
  std::fprintf(stderr, "g2inspect: %s\n", msg.c_str());
  if (!o.verify) return 2;
  auto m = check_manifest(o.dir, {});
  if (!m || !m->present || m->problems.empty()) return 2;
  std::printf("verify: g2manifest.json: %zu files checked, %zu problems\n", m->checked, m->problems.size());
  for (const auto& p : m->problems) std::printf("  MISMATCH %s: %s\n", p.path.c_str(), p.problem.c_str());
  std::printf("verify: FAILED\n");
  return 1;
}

int run(const Options& o) {
  const bool tty = isatty(STDERR_FILENO) && !o.quiet;  // progress only on a terminal
  // A g2convert --ranks output says in its manifest which ranks it holds: open just those.
  auto opened = describe_checkpoint(o.dir, o.config, /*open_share=*/true);
  if (!opened) return input_error(o, opened.message());
  const TensorSource& src = *opened->source;
  const CheckpointInfo& info = opened->info;
  const std::optional<RankSubset>& share = info.ranks;
  const ModelConfig& c = src.config();
  const auto g2 = grok2_layout(c), g1 = grok1_layout(c);
  std::string format = std::string(format_name(info.format));
  if (info.layout)
    format += " (tp " + std::to_string(info.tp) + ", layout " + std::string(tp_layout_kind_name(*info.layout)) +
              (share ? ", " + share->text() : "") + ")";
  const std::string serving = info.layout ? sglang_serving_note(*info.layout == TpLayoutKind::Tp, info.tp) : "";
  // One node's share lists each rank's slice of a split tensor: no model digest for it.
  const bool model_digest_ok = !share && (o.digests || o.verify);

  std::vector<Row> rows;
  uint64_t total_bytes = 0, total_params = 0;
  std::map<std::string, uint64_t> per_role;
  for (const auto& t : src.tensors()) {
    Row r{&t, role_of(t.name, g2, g1), piece_files(t, src.root()), {}, {}};
    const uint64_t n = *checked_numel(t.shape);
    total_params += n;
    total_bytes += n * dtype_size(t.dtype);
    per_role[r.role] += n;
    rows.push_back(std::move(r));
  }

  // One pass over the bytes serves both --digests and --verify.
  uint64_t nan = 0, inf = 0;
  std::vector<NamedDigest> named;
  if (o.digests || o.verify) {
    for (size_t i = 0; i < rows.size(); ++i) {
      Row& r = rows[i];
      if (tty) std::fprintf(stderr, "\r\033[K[%zu/%zu] %s", i + 1, rows.size(), r.t->name.c_str());
      const bool is_float = dtype_info(r.t->dtype).is_float;
      auto d = tensor_digest(src, *r.t, [&](std::span<const uint8_t> b) {
        if (o.verify && is_float) count_nonfinite(r.t->dtype, b, r.nonfinite);
      });
      if (!d) {
        if (tty) std::fprintf(stderr, "\n");
        return input_error(o, d.message());
      }
      r.digest = *d;
      nan += r.nonfinite.nan;
      inf += r.nonfinite.inf;
      named.push_back({r.t, r.digest});
    }
    if (tty) std::fprintf(stderr, "\r\033[K");
  }
  ManifestCheck manifest;
  if (o.verify) {
    auto m = check_manifest(src.root(), src.files());
    if (!m) {
      std::fprintf(stderr, "g2inspect: %s\n", m.message().c_str());
      return 2;
    }
    manifest = std::move(*m);
  }
  const bool failed = o.verify && (nan || inf || !manifest.problems.empty());
  const std::string family(family_name(info.family));

  if (o.json) {
    ojson j;
    j["root"] = src.root();
    j["format"] = std::string(format_name(info.format));
    if (info.layout) {
      j["tp"] = info.tp;
      j["layout"] = std::string(tp_layout_kind_name(*info.layout));
      j["serving"] = serving;
    }
    if (share) j["ranks"] = {{"first", share->first}, {"last", share->last}, {"tp", share->tp}};
    j["family"] = family;
    j["config"] = c.source;
    j["config_fingerprint"] = model_config_fingerprint(c);
    j["files"] = src.files();
    ojson ts = ojson::array();
    for (const auto& r : rows) {
      ojson t;
      t["name"] = r.t->name;
      t["dtype"] = std::string(dtype_name(r.t->dtype));
      t["shape"] = r.t->shape;
      t["bytes"] = *checked_nbytes(r.t->dtype, r.t->shape);
      t["role"] = r.role;
      t["files"] = r.files;
      if (o.digests || o.verify) t["xxh3_128"] = r.digest.hex();
      if (o.verify) t["nan"] = r.nonfinite.nan, t["inf"] = r.nonfinite.inf;
      ts.push_back(std::move(t));
    }
    j["tensors"] = std::move(ts);
    j["totals"] = {{"tensors", rows.size()}, {"bytes", total_bytes}, {"parameters", total_params}};
    j["parameters_per_role"] = per_role;
    if (model_digest_ok) j["model_xxh3_128"] = model_digest(named).hex();
    if (o.verify) {
      ojson probs = ojson::array();
      for (const auto& p : manifest.problems) probs.push_back({{"path", p.path}, {"problem", p.problem}});
      j["verify"] = {{"ok", !failed},
                     {"nan", nan},
                     {"inf", inf},
                     {"manifest", {{"present", manifest.present}, {"checked", manifest.checked}, {"problems", probs}}}};
    }
    std::cout << j.dump(2) << "\n";
    return failed ? 1 : 0;
  }

  std::printf("checkpoint  %s\nformat      %s\nfamily      %s\nconfig      %s (fingerprint %s)\nfiles       %zu\n",
              src.root().c_str(), format.c_str(), family.c_str(), c.source.c_str(),
              model_config_fingerprint(c).c_str(), src.files().size());
  if (!serving.empty()) std::printf("serving     %s\n", serving.c_str());
  std::printf("\n");
  size_t wname = 4;
  for (const auto& r : rows) wname = std::max(wname, r.t->name.size());
  std::printf("%-*s  %-7s  %-16s  %14s  %s%s\n", int(wname), "name", "dtype", "shape", "bytes",
              o.digests || o.verify ? "xxh3_128                          " : "", "file(s)");
  for (const auto& r : rows) {
    std::printf("%-*s  %-7s  %-16s  %14s  %s%s\n", int(wname), r.t->name.c_str(),
                std::string(dtype_name(r.t->dtype)).c_str(), shape_str(r.t->shape).c_str(),
                with_commas(*checked_nbytes(r.t->dtype, r.t->shape)).c_str(),
                o.digests || o.verify ? (r.digest.hex() + "  ").c_str() : "", files_str(r.files).c_str());
  }
  std::printf("\ntotals      %zu tensors, %s bytes, %s parameters\n", rows.size(), with_commas(total_bytes).c_str(),
              with_commas(total_params).c_str());
  std::printf("parameters per role\n");
  for (const auto& [role, n] : per_role) std::printf("  %-16s %s\n", role.c_str(), with_commas(n).c_str());
  if (model_digest_ok) std::printf("model xxh3_128  %s\n", model_digest(named).hex().c_str());
  else if (share && (o.digests || o.verify))
    std::printf("model xxh3_128  not computed: %s only (split tensors are listed per rank slice)\n",
                share->text().c_str());
  if (o.verify) {
    if (share)
      std::printf("\nverify: %s: one node's share (g2convert --ranks); the other ranks' files are not here\n",
                  share->text().c_str());
    std::printf("%sverify: read %zu tensors: %s NaN, %s Inf\n", share ? "" : "\n", rows.size(),
                with_commas(nan).c_str(), with_commas(inf).c_str());
    for (const auto& r : rows)
      if (r.nonfinite.any())
        std::printf("  non-finite: %s: %s NaN, %s Inf\n", r.t->name.c_str(), with_commas(r.nonfinite.nan).c_str(),
                    with_commas(r.nonfinite.inf).c_str());
    if (!manifest.present) std::printf("verify: no g2manifest.json, file checksums not checked\n");
    else
      std::printf("verify: g2manifest.json: %zu files checked, %zu problems\n", manifest.checked,
                  manifest.problems.size());
    for (const auto& p : manifest.problems) std::printf("  MISMATCH %s: %s\n", p.path.c_str(), p.problem.c_str());
    std::printf("verify: %s\n", failed ? "FAILED" : "ok");
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace g2

int main(int argc, char** argv) {
  g2::Options o;
  CLI::App app{
      "g2inspect: look inside a Grok-1 JAX checkpoint, a Grok-2 TP set or a Hugging Face safetensors set.\n"
      "Prints the detected format, every logical tensor (TP slices merged: name, dtype, shape, bytes,\n"
      "files), totals and parameters per role.\n\n"
      "Digests are XXH3-128 of each full logical tensor in row-major order, so the same model gives\n"
      "the same digests whatever its TP layout or file split; the model digest combines them.\n\n"
      "Examples:\n"
      "  g2inspect /models/grok-2                     # a release TP set (config.json inside)\n"
      "  g2inspect /models/grok-1 --config configs/grok-1.json   # Grok-1 JAX has no config.json\n"
      "  g2inspect out/ --digests                     # compare with another layout's digests\n"
      "  g2inspect out/ --verify                      # read everything, NaN/Inf, g2manifest.json\n"
      "  g2inspect out/ --json | jq '.totals'\n\n"
      "Exit status: 0 ok, 1 --verify found a problem, 2 usage or input error.",
      "g2inspect"};
  app.add_option("DIR", o.dir, "checkpoint directory")->required();
  app.add_option("--config", o.config, "model config.json (default DIR/config.json; required for Grok-1 JAX)");
  app.add_flag("--json", o.json, "machine-readable output on stdout");
  app.add_flag("--digests", o.digests, "print each tensor's layout-independent XXH3-128 and the model digest");
  app.add_flag("--verify", o.verify,
               "read every tensor fully (count NaN/Inf in float tensors) and check g2manifest.json if present; "
               "a g2convert --ranks share is checked as the ranks its manifest lists");
  app.add_flag("-q,--quiet", o.quiet, "no progress on stderr");
  if (auto rc = g2::parse_args(app, argc, argv)) return *rc;
  return g2::run(o);
}
