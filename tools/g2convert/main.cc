// g2convert: reshard, requantise, resize and upgrade Grok checkpoints with bounded memory.
// Thin main over libconvert (plan + execute); the only place that prints and picks exit codes
// (0 ok, 2 usage or input error).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "tools/common/cli.h"
#include "kernels/cpu/work_pool.h"
#include "libconvert/describe.h"
#include "libconvert/exec/dest_state.h"
#include "libconvert/exec/execute.h"
#include "libconvert/plan/plan.h"
#include "libconvert/plan/plan_split.h"
#include "libconvert/format/tokenizer_ids.h"

namespace {

using namespace g2;
using nlohmann::json;

int fail(const std::string& msg, int code = 2) {
  std::fprintf(stderr, "g2convert: error: %s\n", msg.c_str());
  return code;
}

std::optional<uint64_t> parse_size(std::string s) {
  if (s.empty()) return std::nullopt;
  uint64_t mult = 1;
  char suffix = char(std::toupper(static_cast<unsigned char>(s.back())));
  if (suffix == 'B' && s.size() > 1) {
    s.pop_back();
    suffix = char(std::toupper(static_cast<unsigned char>(s.back())));
  }
  if (suffix == 'K') mult = 1ull << 10;
  else if (suffix == 'M') mult = 1ull << 20;
  else if (suffix == 'G') mult = 1ull << 30;
  else if (suffix == 'T') mult = 1ull << 40;
  if (mult != 1) s.pop_back();
  if (s.empty() || s.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;
  const double v = std::stod(s);
  if (!(v > 0)) return std::nullopt;
  return uint64_t(v * double(mult));
}

std::string human(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / double(1ull << 20));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", double(b) / 1024.0);
  return buf;
}

// "A-B" or "A" (--ranks) and "I/N" (--part): two non-negative integers around `sep`.
std::optional<std::pair<int, int>> parse_pair(const std::string& s, char sep, bool single_ok) {
  auto num = [](const std::string& t) -> std::optional<int> {
    if (t.empty() || t.size() > 6 || t.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoi(t);
  };
  const auto at = s.find(sep);
  if (at == std::string::npos) {
    auto a = single_ok ? num(s) : std::nullopt;
    if (!a) return std::nullopt;
    return std::make_pair(*a, *a);
  }
  auto a = num(s.substr(0, at)), b = num(s.substr(at + 1));
  if (!a || !b) return std::nullopt;
  return std::make_pair(*a, *b);
}

// The command the manifest records: argv without --part, i.e. the one-process command that
// writes the same destination, so N parts end with the manifest a one-process run writes.
std::vector<std::string> recorded_command(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--part" && i + 1 < argc) ++i;
    else if (!a.starts_with("--part=")) out.push_back(a);
  }
  return out;
}

json ranks_json(const RankSubset& r) { return json{{"first", r.first}, {"last", r.last}, {"tp", r.tp}}; }

json plan_json(const Plan& p) {
  json j{{"tp", p.tp}, {"layout", out_layout_name(p.layout)}, {"dtype", dtype_target_name(p.dtype)},
         {"bytes", p.total_bytes()}, {"files", json::array()}, {"notes", p.notes}};
  if (p.ranks) j["ranks"] = ranks_json(*p.ranks);
  for (const auto& f : p.files) {
    json jf{{"path", f.path}, {"bytes", f.payload_bytes}, {"tensors", json::array()}};
    for (const auto& t : f.tensors)
      jf["tensors"].push_back({{"name", t.name}, {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"bytes", t.bytes},
                               {"source", t.recipe.src}});
    j["files"].push_back(jf);
  }
  for (const auto& t : p.text_files) j["files"].push_back({{"path", t.path}, {"bytes", t.content.size()}});
  return j;
}

// Progress: a redrawn bar on a terminal, one line per finished file otherwise.
struct ProgressPrinter {
  bool tty = ::isatty(2);
  size_t last_files = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), last_draw{};
  void operator()(const ExecProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - start).count();
    const double mibs = secs > 0 ? double(p.bytes_done) / double(1 << 20) / secs : 0;
    if (tty) {
      if (now - last_draw < std::chrono::milliseconds(100) && p.files_done == last_files) return;
      last_draw = now;
      last_files = p.files_done;
      const int width = 30;
      const double frac = p.bytes_total ? double(p.bytes_done) / double(p.bytes_total) : 1.0;
      std::string bar(size_t(frac * width), '#');
      bar.resize(width, '.');
      std::fprintf(stderr, "\r[%s] %5.1f%%  %zu/%zu files  %s  %.0f MiB/s ", bar.c_str(), frac * 100, p.files_done,
                   p.files_total, human(p.bytes_done).c_str(), mibs);
      if (p.files_done == p.files_total) std::fprintf(stderr, "\n");
    } else if (p.files_done != last_files) {
      last_files = p.files_done;
      std::fprintf(stderr, "g2convert: [%zu/%zu] %s  (%s, %.0f MiB/s)\n", p.files_done, p.files_total,
                   p.last_file.c_str(), human(p.bytes_done).c_str(), mibs);
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"g2convert: reshard, requantise, resize and upgrade Grok-1/Grok-2 checkpoints with bounded memory"};
  app.footer(R"(Examples:
  g2convert grok-2/ grok-2-tp4/ --tp 4                      Grok-2 TP8 release -> TP4 (release-style files)
  g2convert grok-2/ grok-2-tp16/ --tp 16 --layout rank       fully presharded TP16 (KV heads replicated)
  g2convert grok-2/ grok-2-fp8/ --tp 8 --dtype fp8           FP8 e4m3, 128x128 block scales
  g2convert grok-2/ grok-2-hf/ --layout hf                   one unsharded HF set + index
  g2convert grok-1/ grok-1-as-2/ --to grok2 --config configs/grok-1.json --tp 8
                                                             Grok-1 JAX int8 -> Grok-2 layout, BF16
  g2convert grok-2/ out/ --tp 4 --dry-run                    print the plan, read no tensor data
  g2convert grok-2/ node1/ --tp 16 --layout rank --ranks 8-15
                                                             one node's share: common files + ranks 8-15
  g2convert grok-2/ out/ --tp 16 --layout rank --part 2/4    one of 4 workers sharing out/ (job array);
                                                             the last to finish writes g2manifest.json
  g2convert --merge-manifest out/                            write g2manifest.json from finished parts
Rerunning the same command resumes an interrupted conversion. Exit codes: 0 ok, 2 bad input.)");
  std::string src_dir, dst_dir, layout_s, dtype_s = "keep", fp8_scale_s, to_s, config_path, mem_s = "512M",
                                          max_file_s = "5G";
  std::string ranks_s, part_s, merge_dir, io_s = "auto";
  std::optional<int> tp, fp8_block;
  std::optional<int64_t> vocab;
  bool dry_run = false, as_json = false, force = false, quiet = false;
  int threads = 0;
  app.add_option("SRC", src_dir, "source checkpoint directory (Grok-2 TP set, HF safetensors set, Grok-1 JAX dir)");
  app.add_option("DST", dst_dir, "output directory (created; must be empty unless resuming or --force)");
  app.add_option("--tp", tp, "tensor-parallel width: 1, 2, 4, 8 or 16 (default: the source's)");
  app.add_option(
         "--layout", layout_s,
         "hf (unsharded set + index; default at --tp 1), rank (every split tensor per rank; default past --tp 1: "
         "SGLang refuses it at another TP) or tp (the release style, only experts per rank: serve it at its --tp only)")
      ->check(CLI::IsMember({"hf", "tp", "rank"}));
  app.add_option("--dtype", dtype_s, "keep, bf16 or fp8 (e4m3; router, norms, embeddings, lm_head stay BF16)")
      ->check(CLI::IsMember({"keep", "bf16", "fp8"}));
  app.add_option("--fp8-scale", fp8_scale_s, "FP8 scales: tensor, channel or block (default block)")
      ->check(CLI::IsMember({"tensor", "channel", "block"}));
  app.add_option("--fp8-block", fp8_block, "FP8 block size N (NxN tiles, default 128)")->check(CLI::PositiveNumber);
  app.add_option("--vocab", vocab, "pad (zero rows) or trim embedding and lm_head to N rows")
      ->check(CLI::PositiveNumber);
  app.add_option("--to", to_s, "grok2: upgrade a Grok-1 JAX checkpoint to the Grok-2 layout")
      ->check(CLI::IsMember({"grok2"}));
  app.add_option("--config", config_path, "config.json for the source (a Grok-1 JAX release has none)");
  app.add_flag("--dry-run", dry_run, "print the plan (files, tensors, bytes) without reading tensor data");
  app.add_flag("--json", as_json, "print a JSON summary on stdout");
  app.add_option("--threads", threads,
                 "worker threads: output files in parallel, and as many on each large tensor's row chunks "
                 "(default 0: one per core, at most 8; the output is the same bytes for any N)")
      ->check(CLI::Range(0, 256));
  app.add_option("--io", io_s,
                 "how tensor files reach the disk: direct (O_DIRECT from aligned buffers, not through the page "
                 "cache), buffered, or auto (default: direct for files of 64 MiB or more; a filesystem that refuses "
                 "O_DIRECT is written buffered)")
      ->check(CLI::IsMember({"auto", "direct", "buffered"}));
  app.add_option("--mem-limit", mem_s, "memory budget for tensor buffers, e.g. 512M, 2G (default 512M)");
  app.add_option("--max-file-size", max_file_s, "--layout hf: start a new file past this size (default 5G)");
  app.add_flag("--force", force,
               "overwrite a non-empty or different destination; allow trimming the vocab below the tokenizer");
  app.add_option("--ranks", ranks_s, "A-B: write only the common files and ranks A..B's files (one node of a TP set)");
  app.add_option("--part", part_s, "I/N: write part I of N (1 <= I <= N) of the output files, next to N-1 other "
                                   "workers sharing DST; the last to finish writes g2manifest.json");
  app.add_option("--merge-manifest", merge_dir, "DIR: write DIR/g2manifest.json from its finished parts (no SRC/DST)");
  app.add_flag("-q,--quiet", quiet,
               "nothing on stderr but errors (no progress, summary, quantisation table, notes or part messages)");
  if (auto rc = g2::parse_args(app, argc, argv)) return *rc;

  if (!merge_dir.empty()) {
    if (!src_dir.empty() || !dst_dir.empty()) return fail("--merge-manifest DIR takes no SRC or DST");
    auto r = merge_manifest(merge_dir);
    if (!r) return fail(r.message());
    if (r->already_merged) {
      if (!quiet)
        std::fprintf(stderr, "g2convert: %s/g2manifest.json is already there (%zu files); nothing to merge\n",
                     merge_dir.c_str(), r->files);
    } else if (!r->merged) {
      std::string w;
      for (const auto& p : r->waiting) w += "\n  " + p;
      return fail(merge_dir + ": cannot write g2manifest.json: " + std::to_string(r->waiting.size()) + " of " +
                  std::to_string(r->count) + " parts have not finished:" + w);
    } else if (!quiet) {
      std::fprintf(stderr, "g2convert: merged %d parts: %s/g2manifest.json lists %zu files\n", r->count,
                   merge_dir.c_str(), r->files);
    }
    if (as_json)
      std::printf("%s\n", json{{"dest", merge_dir}, {"merged", r->merged}, {"already_merged", r->already_merged},
                               {"parts", r->count}, {"files", r->files}}.dump(2).c_str());
    return 0;
  }
  if (src_dir.empty() || dst_dir.empty()) return fail("SRC and DST are required (or --merge-manifest DIR); see --help");
  std::optional<std::pair<int, int>> ranks, part;
  if (!ranks_s.empty() && !(ranks = parse_pair(ranks_s, '-', true)))
    return fail("--ranks \"" + ranks_s + "\" is not a rank range A-B (e.g. 8-15) or one rank");
  if (!part_s.empty()) {
    part = parse_pair(part_s, '/', false);
    if (!part || part->second < 1 || part->first < 1 || part->first > part->second)
      return fail("--part \"" + part_s + "\" is not I/N with 1 <= I <= N (e.g. 2/4)");
  }

  const auto mem = parse_size(mem_s);
  if (!mem) return fail("--mem-limit \"" + mem_s + "\" is not a size (examples: 512M, 2G, 1073741824)");
  if (*mem < (16ull << 20)) return fail("--mem-limit " + mem_s + " is below the 16M minimum");
  const auto max_file = parse_size(max_file_s);
  if (!max_file) return fail("--max-file-size \"" + max_file_s + "\" is not a size (examples: 2G, 500M)");
  TargetSpec target;
  target.tp = tp;
  target.hf_max_file_bytes = *max_file;
  if (!layout_s.empty())
    target.layout = layout_s == "hf" ? OutLayout::Hf : layout_s == "tp" ? OutLayout::Tp : OutLayout::Rank;
  target.dtype = dtype_s == "bf16" ? DTypeTarget::BF16 : dtype_s == "fp8" ? DTypeTarget::FP8 : DTypeTarget::Keep;
  if ((!fp8_scale_s.empty() || fp8_block) && target.dtype != DTypeTarget::FP8)
    return fail("--fp8-scale/--fp8-block only apply with --dtype fp8");
  if (fp8_block && !fp8_scale_s.empty() && fp8_scale_s != "block")
    return fail("--fp8-block only applies to --fp8-scale block (got --fp8-scale " + fp8_scale_s + ")");
  target.fp8.mode = fp8_scale_s.empty() ? Fp8ScaleMode::Block : *fp8_scale_mode_from_name(fp8_scale_s);
  target.fp8.block_n = target.fp8.block_k = fp8_block.value_or(128);
  target.vocab = vocab;
  target.to_grok2 = to_s == "grok2";
  target.force = force;

  auto opened = describe_checkpoint(src_dir, config_path);
  if (!opened) return fail(opened.message());
  const TensorSource& src = *opened->source;
  SourceDesc desc;
  desc.family = opened->info.family;
  desc.config = src.config();
  desc.root = src.root();
  desc.source_tp = opened->info.tp;
  for (const auto& t : src.tensors()) desc.tensors.push_back({t.name, t.dtype, t.shape});
  std::string tok_file;
  desc.tokenizer_max_id = tokenizer_max_id(desc.root, &tok_file);
  auto plan = make_plan(desc, target);
  if (!plan) return fail(plan.message());
  if (ranks) {
    plan = select_ranks(std::move(*plan), ranks->first, ranks->second);
    if (!plan) return fail(plan.message());
  }

  if (dry_run) {
    Plan shown = *plan;
    std::string head;
    if (part) {  // what this worker would write
      auto parts = split_parts(*plan, part->second);
      if (!parts) return fail(parts.message());
      const PlanPart& mine = (*parts)[size_t(part->first - 1)];
      shown = part_plan(*plan, mine);
      head = mine.part.text() + ": " + std::to_string(mine.files.size()) + " of " + std::to_string(plan->files.size()) +
             " files, " + human(mine.bytes) + " of " + human(plan->total_bytes()) +
             (mine.text_files ? ", and the text and tokenizer files" : "") + "\n";
    }
    if (as_json) {
      json j = plan_json(shown);
      if (part) j["part"] = {{"index", part->first}, {"count", part->second}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::fputs((head + plan_to_text(shown)).c_str(), stdout);
    }
    return 0;
  }
  ExecOptions opt;
  // Past 8 the disk, not the cores, sets the pace of a conversion, and each thread holds buffers.
  opt.threads = threads > 0 ? threads : std::min(WorkPool::cores(), 8);
  opt.mem_limit = *mem;
  opt.force = force;
  opt.write_mode = io_s == "direct" ? WriteMode::kDirect : io_s == "buffered" ? WriteMode::kBuffered : WriteMode::kAuto;
  opt.command = recorded_command(argc, argv);
  if (part) opt.part = PartSpec{part->first, part->second};
  ProgressPrinter printer;
  if (!quiet) opt.progress = [&](const ExecProgress& p) { printer(p); };
  if (!quiet)
    std::fprintf(stderr, "g2convert: %s (%s) -> %s: %zu files, %s, tp %d, layout %s, dtype %s%s%s\n", desc.root.c_str(),
                 std::string(format_name(opened->info.format)).c_str(), dst_dir.c_str(), plan->files.size(),
                 human(plan->total_bytes()).c_str(), plan->tp, std::string(out_layout_name(plan->layout)).c_str(),
                 std::string(dtype_target_name(plan->dtype)).c_str(),
                 plan->ranks ? (", " + plan->ranks->text()).c_str() : "",
                 opt.part ? (", " + opt.part->text()).c_str() : "");
  auto rep = execute_plan(*plan, src, dst_dir, opt);
  if (!rep) return fail(rep.message(), rep.error().kind == ErrorKind::Internal ? 3 : 2);

  const double mibs = rep->seconds > 0 ? double(rep->bytes_written) / double(1 << 20) / rep->seconds : 0;
  if (!quiet)
    std::fprintf(stderr, "g2convert: done in %.2f s: %zu files written, %zu verified and kept%s, %s at %.0f MiB/s\n",
               rep->seconds, rep->files_written, rep->files_skipped, rep->resumed ? " (resumed)" : "",
               human(rep->bytes_written).c_str(), mibs);
  if (!quiet && !rep->quant.empty()) {
    std::fprintf(stderr, "quantisation error (%zu tensors, worst first):\n", rep->quant.size());
    std::fprintf(stderr, "  %-60s %-18s %12s %12s %10s\n", "tensor", "conversion", "max abs", "rel RMS", "cosine");
    for (size_t i = 0; i < rep->quant.size() && i < 8; ++i) {
      const auto& q = rep->quant[i];
      std::fprintf(stderr, "  %-60s %-18s %12.4g %12.4g %10.6f\n", q.name.c_str(), q.what.c_str(), q.err.max_abs,
                   q.err.rel_rms(), q.err.cosine());
    }
  }
  if (!quiet) {
    for (const auto& n : plan->notes) std::fprintf(stderr, "note: %s\n", n.c_str());
    if (opt.part && rep->manifest_written) {
      std::fprintf(stderr, "g2convert: %s finished last: g2manifest.json written for all %d parts\n",
                   opt.part->text().c_str(), opt.part->count);
    } else if (opt.part) {
      std::string waiting;
      for (const auto& w : rep->parts_waiting) waiting += (waiting.empty() ? "" : "; ") + w;
      std::fprintf(stderr, "g2convert: %s finished; the last part to finish writes g2manifest.json (waiting for %s)\n",
                   opt.part->text().c_str(), waiting.c_str());
    }
  }
  if (as_json) {
    json j{{"source", desc.root},
           {"dest", dst_dir},
           {"tp", plan->tp},
           {"layout", out_layout_name(plan->layout)},
           {"dtype", dtype_target_name(plan->dtype)},
           {"files", plan->files.size() + plan->text_files.size() + rep->copied.size()},
           {"files_written", rep->files_written},
           {"files_skipped", rep->files_skipped},
           {"resumed", rep->resumed},
           {"bytes", plan->total_bytes()},
           {"bytes_written", rep->bytes_written},
           {"seconds", rep->seconds},
           {"throughput_mib_s", mibs},
           {"copied", rep->copied},
           {"notes", plan->notes},
           {"quant", json::array()},
           {"manifest_written", rep->manifest_written}};
    if (plan->ranks) j["ranks"] = ranks_json(*plan->ranks);
    if (opt.part) j["part"] = {{"index", opt.part->index}, {"count", opt.part->count}, {"waiting", rep->parts_waiting}};
    for (const auto& q : rep->quant)
      j["quant"].push_back({{"tensor", q.name}, {"conversion", q.what}, {"max_abs", q.err.max_abs},
                            {"rel_rms", q.err.rel_rms()}, {"cosine", q.err.cosine()}, {"count", q.err.count}});
    std::printf("%s\n", j.dump(2).c_str());
  }
  return 0;
}
