// g2diff: layer-by-layer numerical parity of two checkpoints (or of one against recorded
// activations). Exit 0 parity holds, 1 parity fails, 2 usage or input error.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tools/common/cli.h"
#include "libconvert/describe.h"
#include "libconvert/format/atomic_file.h"
#include "libmodel/forward.h"
#include "libmodel/fp8_requant.h"
#if defined(G2_HAVE_CUDA)
#include "libmodel/cuda/verified_backend.h"
#endif
#include "dist.h"
#include "prompt.h"
#include "report.h"

namespace g2 {
namespace {

constexpr int kOk = 0, kParityFailed = 1, kUsage = 2;

int fail_input(const std::string& msg) {
  std::cerr << "g2diff: " << msg << "\n";
  return kUsage;
}

// One checkpoint g2diff runs: its weights and what describe_checkpoint says about it (the
// linear dtype says the conversion kind, tp the width it runs rank by rank at).
struct Side {
  std::unique_ptr<CheckpointWeights> w;
  std::string dir;
  CheckpointInfo info;
  std::string describe() const {
    std::string s = w->describe() + ", " + std::string(dtype_name(info.linear_dtype));
    if (info.fp8) s += " (" + std::string(fp8_scale_mode_name(info.fp8->mode)) + " scales)";
    if (info.tp > 1) s += ", tp " + std::to_string(info.tp);
    return s;
  }
};

Expected<Side> open_side(const std::string& dir, const std::string& config) {
  auto d = describe_checkpoint(dir, config);
  if (!d) return d.error();
  return Side{std::make_unique<CheckpointWeights>(std::move(d->source)), dir, std::move(d->info)};
}

// The preset for a conversion from `a` to `b` (tools choose; see compare.cc for the bounds).
std::string auto_preset(const CheckpointInfo& a, const CheckpointInfo& b) {
  const bool fa = a.linear_dtype == DType::F8_E4M3, fb = b.linear_dtype == DType::F8_E4M3;
  const auto mode = [](const CheckpointInfo& s) { return s.fp8 ? std::optional(s.fp8->mode) : std::nullopt; };
  if (fa || fb) return (fa && fb && mode(a) == mode(b)) ? "exact" : "fp8";
  if (a.linear_dtype == b.linear_dtype) return "exact";
  if (a.linear_dtype == DType::I8 || b.linear_dtype == DType::I8) return "int8";
  return "bf16";
}

// Deterministic default prompt: covers positions beyond attn_temperature_len when set; ids
// avoid the first 3 (pad / bos / eos) and spread over the vocabulary.
std::vector<int32_t> default_tokens(const ModelConfig& c) {
  int64_t n = 16;
  if (c.attn_temperature_len > 0) n = std::max<int64_t>(n, c.attn_temperature_len + 8);
  if (c.max_position_embeddings > 0) n = std::min<int64_t>(n, c.max_position_embeddings);
  std::vector<int32_t> t;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  const int64_t span = std::max<int64_t>(1, c.vocab_size - 3);
  for (int64_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    t.push_back(int32_t(3 + int64_t((x >> 33) % uint64_t(span))));
  }
  return t;
}

Expected<std::vector<int>> parse_layers(const std::string& s, int n_layers) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    int a = 0, b = 0;
    char dash = 0;
    std::stringstream ps(part);
    if (!(ps >> a)) return invalid("--layers: cannot parse \"" + part + "\" (expected N, A-B or a comma list)");
    b = a;
    if (ps >> dash) {
      if (dash != '-' || !(ps >> b)) return invalid("--layers: cannot parse \"" + part + "\"");
    }
    if (a < 0 || b < a || b >= n_layers)
      return invalid("--layers " + part + " is outside the model's layers 0-" + std::to_string(n_layers - 1));
    for (int l = a; l <= b; ++l) out.push_back(l);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status write_text(const std::string& path, const std::string& text) { return write_file_atomic(path, text); }

int run(int argc, char** argv) {
  CLI::App app{"g2diff: layer-by-layer parity of Grok checkpoints (exit 0 parity, 1 parity failed, 2 usage/input)"};
  std::string a_dir, b_dir, tokens_s, prompt_file, layers_s, mode_s = "f32", tolerance_s, json_path, junit_path;
  std::string config_a, config_b, reference_path, record_path;
  double atol = -1, rtol = -1;
  bool tp_exec = false, quiet = false, fp8_exact = false, dist = false, dequantized = false;
  std::string backend_s = "cpu";
  int device = 0;
  app.add_option("A", a_dir, "reference checkpoint directory")->required();
  app.add_option("B", b_dir, "checkpoint to verify against A");
  auto* tok_opt = app.add_option("--tokens", tokens_s, "token ids, comma separated");
  auto* ids_opt =
      app.add_option("--prompt-ids", prompt_file, "file of token ids (commas or whitespace)")->excludes(tok_opt);
  std::string prompt_text, prompt_text_file;
  auto* text_opt =
      app.add_option("--prompt", prompt_text,
                     "text to run, tokenized with A's own tokenizer (tokenizer.model or tokenizer.tok.json "
                     "in A's folder; B's, when it has one, must agree)")
          ->excludes(tok_opt)
          ->excludes(ids_opt);
  app.add_option("--prompt-file", prompt_text_file, "like --prompt, the text read from a file (UTF-8)")
      ->excludes(tok_opt)
      ->excludes(ids_opt)
      ->excludes(text_opt);
  app.add_option("--layers", layers_s, "layers to compare: N, A-B or a comma list (logits only when all layers run)");
  app.add_option("--mode", mode_s, "precision: f32 or reference (bf16 rounding of the JAX reference)")
      ->check(CLI::IsMember({"f32", "reference"}));
  app.add_flag("--tp-exec", tp_exec,
               "execute B (with --reference/--record: A) rank by rank with its own TP (g2_layout.tp or rank files)");
  auto* atol_opt = app.add_option("--atol", atol, "absolute tolerance per element");
  auto* rtol_opt = app.add_option("--rtol", rtol, "relative tolerance per element");
  app.add_option("--tolerance", tolerance_s, "preset: exact, f32, bf16, fp8, int8 (default: from the conversion kind)")
      ->check(CLI::IsMember({"exact", "f32", "bf16", "fp8", "int8"}))
      ->excludes(atol_opt)
      ->excludes(rtol_opt);
  app.add_option("--json", json_path, "write every figure as JSON");
  app.add_option("--junit", junit_path, "write a JUnit XML report");
  app.add_option("--config", config_a, "config.json for A (a Grok-1 JAX directory has none)");
  app.add_option("--config-b", config_b, "config.json for B when its directory has none");
  auto* ref_opt = app.add_option("--reference", reference_path, "compare A against recorded activations");
  auto* rec_opt = app.add_option("--record", record_path, "record A's activations to a .safetensors[.zst] file");
  ref_opt->excludes(rec_opt);
  app.add_flag("--fp8-exact", fp8_exact,
               "B is an FP8 conversion of A: run A through the converter's FP8 round trip with B's scale "
               "scheme and require exact parity (default tolerance exact)");
  app.add_option("--backend", backend_s, "cpu (OpenBLAS) or cuda (when built with CUDA and a device exists)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  auto* dev_opt = app.add_option("--device", device, "CUDA device for --backend cuda");
  app.add_flag("--dist", dist,
               "one process per GPU: this process runs its TP rank (launcher env: RANK/WORLD_SIZE/LOCAL_RANK, "
               "OMPI_COMM_WORLD_*, PMI_*) on CUDA with NCCL all-reduces; implies --tp-exec and --backend cuda; "
               "rank 0 prints the report and writes the files")
      ->excludes(dev_opt);
  app.add_flag("--dequantized-weights", dequantized,
               "multiply by dequantized f32 copies of every weight (OpenBLAS sgemm), the runtime's older path, "
               "instead of by the stored BF16/FP8 weights in place; slower, results differ only by f32 summation "
               "order: a cross-check of the fused kernel");
  app.add_flag("-q,--quiet", quiet, "no progress on stderr");
  if (auto rc = g2::parse_args(app, argc, argv)) return *rc;
  const int n_modes = int(!b_dir.empty()) + int(!reference_path.empty()) + int(!record_path.empty());
  if (n_modes != 1) return fail_input("give exactly one of: B, --reference ACTS, --record ACTS");
  if ((atol >= 0) != (rtol >= 0)) return fail_input("--atol and --rtol go together");
  const Precision prec = mode_s == "reference" ? Precision::Reference : Precision::F32;
  if (dist) {
    if (app.count("--backend") && backend_s != "cuda") return fail_input("--dist runs on --backend cuda only");
    if (Status st = dist_available(); !st) return fail_input(st.message());
    backend_s = "cuda";
    tp_exec = true;
  }

  auto a = open_side(a_dir, config_a);
  if (!a) return fail_input(a.message());
  const ModelConfig& ca = a->w->config();

  std::optional<ActivationRecord> recorded;
  if (!reference_path.empty()) {
    auto r = read_activations(reference_path);
    if (!r) return fail_input(r.message());
    recorded = std::move(*r);
  }
  std::vector<int32_t> tokens;
  SideTokenizer tok_a, tok_b;
  std::string prompt;
  const bool text_prompt = app.count("--prompt") || app.count("--prompt-file");
  if (text_prompt) {
    auto t = encode_prompt(prompt_text, prompt_text_file, a_dir, ca.vocab_size, &tok_a, &prompt);
    if (!t) return fail_input(t.message());
    tokens = *t;
  } else if (!tokens_s.empty() || !prompt_file.empty()) {
    std::string text = tokens_s;
    if (!prompt_file.empty()) {
      std::ifstream f(prompt_file);
      if (!f) return fail_input(prompt_file + ": cannot open");
      text.assign(std::istreambuf_iterator<char>(f), {});
    }
    auto t = tokens_from_string(text);
    if (!t) return fail_input(t.message());
    tokens = *t;
  } else if (recorded) {
    tokens = recorded->tokens;
  } else {
    tokens = default_tokens(ca);
  }
  if (recorded && tokens != recorded->tokens)
    return fail_input(reference_path + " was recorded for tokens " + tokens_to_string(recorded->tokens) +
                      ", not the ones given");

  std::vector<int> layers;
  if (!layers_s.empty()) {
    auto l = parse_layers(layers_s, ca.num_hidden_layers);
    if (!l) return fail_input(l.message());
    layers = *l;
  } else {
    for (int l = 0; l < ca.num_hidden_layers; ++l) layers.push_back(l);
  }
  ForwardOptions opt;
  opt.precision = prec;
  opt.num_layers = layers.back() + 1;
  opt.fused_weights = !dequantized;
  auto t_layer = std::chrono::steady_clock::now();
  if (!quiet)
    opt.on_layer = [&](int l) {
      const auto now = std::chrono::steady_clock::now();
      std::fprintf(stderr, "  layer %d/%d: %.1f ms\n", l + 1, opt.num_layers,
                   std::chrono::duration<double, std::milli>(now - t_layer).count());
      t_layer = now;
    };

  std::optional<Side> bside;
  if (!b_dir.empty()) {
    auto b = open_side(b_dir, config_b);
    if (!b) return fail_input(b.message());
    bside = std::move(*b);
    tok_b = report_tokenizer(b_dir, bside->w->config().vocab_size);
    if (text_prompt)
      if (Status st = check_prompt_b(prompt, tokens, tok_a, tok_b, b_dir); !st) return fail_input(st.message());
  }
  if (!text_prompt) tok_a = report_tokenizer(a_dir, ca.vocab_size);
  std::unique_ptr<Backend> be;
  int rank = 0;  // --dist: this process's TP rank (0 prints)
  if (dist) {
    // Every side that runs is executed rank-parallel, so each must be a TP-N set with N = world size.
    const int tp = bside ? bside->info.tp : a->info.tp;
    if (tp <= 1) return fail_input((bside ? b_dir : a_dir) + ": --dist needs a TP set (config.json g2_layout.tp > 1)");
    if (bside && a->info.tp != tp)
      return fail_input("--dist: A has tp " + std::to_string(a->info.tp) + " and B tp " + std::to_string(tp) +
                        "; both must be TP sets of the world size (or record A with --record, then use --reference)");
    auto g = join_tp_group(bside ? *bside->w : *a->w, tokens, tp, opt);  // self-checked as it will run
    if (!g) return fail_input(g.message());
    be = std::move(g->backend);
    rank = g->rank;
    if (rank != 0) {
      quiet = true;
      opt.on_layer = nullptr;
    }
  } else if (backend_s == "cuda") {
#if defined(G2_HAVE_CUDA)
    // Self-checked against the CPU backend on layer 0 and the logits before it is trusted, on
    // the checkpoint and with the options the run uses (B if given; precision, TP, stored weights).
    Side& checked = bside ? *bside : *a;
    SelfCheckOptions sc;
    sc.forward = opt;
    sc.forward.tp = tp_exec && checked.info.tp > 1 ? checked.info.tp : 1;
    auto cb = make_verified_cuda_backend(*checked.w, tokens, device, sc);
    if (!cb) return fail_input(cb.message());
    be = std::move(cb->backend);
#else
    return fail_input("--backend cuda: this build has no CUDA backend (configure with nvcc present)");
#endif
  } else {
    be = make_cpu_backend();
  }
  auto run_side = [&](Side& s, int tp, const char* label, WeightSource* w = nullptr) -> Expected<ActivationRecord> {
    if (!w) w = s.w.get();
    if (!quiet) std::fprintf(stderr, "g2diff: running %s %s\n", label, w->describe().c_str());
    ForwardOptions o = opt;
    o.tp = tp;
    if (dist && tp > 1) o.only_rank = rank;
    t_layer = std::chrono::steady_clock::now();
    auto r = run_forward(*w, *be, tokens, o);
    if (!r) return Error{r.error().kind, s.dir + ": " + r.message()};
    return r;
  };

  std::unique_ptr<Fp8RequantWeights> requant;
  if (fp8_exact) {
    if (!bside || !bside->info.fp8 || a->info.linear_dtype == DType::F8_E4M3)
      return fail_input("--fp8-exact needs B to be an FP8 conversion of a non-FP8 A");
    // A Grok-1 A is not what the converter quantised: the upgrade also casts the embedding to
    // BF16, and reference precision keeps Grok-1's exact int8 down projection. Bit-exactness
    // holds against the kept-dtype upgrade instead (what tests/cli/gate_grok1.sh runs).
    if (a->w->family() == Family::Grok1)
      return fail_input(a_dir + " is a Grok-1 checkpoint: --fp8-exact compares B with A pushed through the "
                        "converter's FP8 round trip, which is exact only for a Grok-2 A. Upgrade A first with "
                        "its dtype kept (g2convert " + a_dir + " A2 --to grok2) and run g2diff A2 B --fp8-exact, "
                        "or drop --fp8-exact for the bounded fp8 tolerance");
    requant = std::make_unique<Fp8RequantWeights>(*a->w, *bside->info.fp8);
  }
  const bool a_ranked = tp_exec && b_dir.empty();
  if (a_ranked && a->info.tp <= 1)
    return fail_input(a_dir + ": --tp-exec needs a TP set (config.json g2_layout.tp > 1)");
  auto ra = run_side(*a, a_ranked || dist ? a->info.tp : 1, "A", requant.get());
  if (!ra) return fail_input(ra.message());
  if (!record_path.empty()) {
    if (rank != 0) return kOk;  // every rank holds the same record; rank 0 writes it
    ra->metadata["tool"] = "g2diff";
    if (Status st = write_activations(record_path, *ra); !st) return fail_input(st.message());
    std::cout << "recorded " << ra->layers.size() << " layers" << (ra->logits.empty() ? "" : " and logits")
              << " for " << tokens.size() << " tokens to " << record_path << "\n";
    return kOk;
  }

  DiffReport rep;
  rep.mode = std::string(precision_name(prec));
  Tolerance tol;
  std::string preset = tolerance_s;
  ActivationRecord got, ref;
  if (recorded) {
    if (preset.empty()) preset = "bf16";  // recorded by another implementation or machine
    rep.a = reference_path + " (recorded activations)";
    rep.b = a->describe() + (dist ? " [one process per rank]" : a_ranked ? " [rank-by-rank]" : "");
    got = std::move(*ra);
    ref = std::move(*recorded);
  } else {
    Side* b = &*bside;
    const ModelConfig& cb = b->w->config();
    if (cb.hidden_size != ca.hidden_size || cb.num_hidden_layers != ca.num_hidden_layers ||
        cb.vocab_size != ca.vocab_size || cb.num_local_experts != ca.num_local_experts)
      return fail_input("A and B have different geometry (hidden, layers, vocab or experts): not the same model");
    if (tp_exec && b->info.tp <= 1)
      return fail_input(b_dir + ": --tp-exec needs a TP set (config.json g2_layout.tp > 1)");
    if (preset.empty()) {
      preset = fp8_exact ? "exact" : auto_preset(a->info, b->info);
      // Rank-by-rank execution sums K-split partials: same math, another f32 summation order
      // (with --fp8-exact too: A runs unsharded, B rank by rank).
      if (tp_exec && preset == "exact") preset = "f32";
    }
    auto rb = run_side(*b, tp_exec ? b->info.tp : 1, "B");
    if (!rb) return fail_input(rb.message());
    rep.a = requant ? a->describe() + ", " + requant->describe().substr(a->w->describe().size() + 1) : a->describe();
    rep.b = b->describe() + (dist ? " [one process per rank]" : tp_exec ? " [rank-by-rank]" : "");
    got = std::move(*rb);
    ref = std::move(*ra);
  }
  if (atol >= 0) {
    tol.name = "custom";
    tol.atol = atol;
    tol.rtol = rtol;
    rep.tolerance_desc = "custom (atol " + std::to_string(atol) + ", rtol " + std::to_string(rtol) + ")";
  } else {
    tolerance_preset(preset, &tol);
    std::ostringstream d;
    d << preset;
    if (tol.elementwise) d << " (|diff| <= " << tol.atol << " + " << tol.rtol << "|ref|";
    else d << " (no element bound";
    if (tol.max_rel_rms >= 0) d << ", rel_rms <= " << tol.max_rel_rms;
    if (tol.min_cosine >= 0) d << ", cosine >= " << tol.min_cosine;
    d << ", router >= " << tol.min_router_agreement << ", top1 >= " << tol.min_top1_agreement;
    if (tol.max_kl >= 0) d << ", KL <= " << tol.max_kl;
    d << ")";
    rep.tolerance_desc = d.str();
  }
  build_report(got, ref, tol, layers, &rep);
  {  // decoded next tokens: A's tokenizer for the reference, B's (else A's) for the compared side
    const Tokenizer* ref_tok = tok_a.tok.get();
    const Tokenizer* got_tok = recorded ? ref_tok : tok_b.tok ? tok_b.tok.get() : ref_tok;
    if (!ref_tok) rep.tokenizer_note = tok_a.why;
    add_next_tokens(got, ref, got_tok, ref_tok, &rep);
  }
  if (rep.layers.size() != layers.size())
    return fail_input("the reference activations do not hold every requested layer (use --layers)");
  if (rank != 0) return rep.pass ? kOk : kParityFailed;  // same records on every rank: rank 0 reports
  std::cout << render_table(rep);
  if (!json_path.empty())
    if (Status st = write_text(json_path, render_json(rep)); !st) return fail_input(st.message());
  if (!junit_path.empty())
    if (Status st = write_text(junit_path, render_junit(rep)); !st) return fail_input(st.message());
  return rep.pass ? kOk : kParityFailed;
}

}  // namespace
}  // namespace g2

int main(int argc, char** argv) {
  try {
    return g2::run(argc, argv);
  } catch (const g2::DeviceError& e) {  // a device failure outside run_forward: exit 2, not abort
    std::fprintf(stderr, "g2diff: %s\n", e.what());
    return 2;
  }
}
