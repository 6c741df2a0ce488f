#include "report.h"

#include "libmodel/verdict.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace g2 {

// The first failing tensor in forward order (attn_residual before residual: that names the
// block that broke), else the one with the largest rel RMS.
const TensorDiff& LayerDiff::worst() const {
  for (const auto& t : tensors)
    if (!t.r.pass) return t;
  const TensorDiff* w = &tensors.front();
  for (const auto& t : tensors)
    if (t.r.rel_rms > w->r.rel_rms) w = &t;
  return *w;
}

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// "token t, dim i" for an element of a [T, W] tensor.
std::string where(size_t index, int64_t width) {
  if (width <= 0) return "element " + std::to_string(index);
  return "element " + std::to_string(index) + " (token " + std::to_string(int64_t(index) / width) + ", index " +
         std::to_string(int64_t(index) % width) + ")";
}

}  // namespace

void build_report(const ActivationRecord& got, const ActivationRecord& ref, const Tolerance& tol,
                  const std::vector<int>& layers, DiffReport* rep) {
  rep->tol = tol;
  rep->tokens = ref.tokens;
  rep->hidden = ref.hidden;
  rep->vocab = ref.vocab;
  Tolerance loose = tol;  // router logits are reported, not gated (routing is gated by agreement)
  RunVerdict verdict;
  for (int l : layers) {
    const LayerActivations* g = got.layer(l);
    const LayerActivations* r = ref.layer(l);
    if (!g || !r) continue;
    LayerDiff d;
    d.layer = l;
    d.tensors.push_back({"attn_residual", compare(g->attn_residual, r->attn_residual, tol)});
    d.tensors.push_back({"residual", compare(g->residual, r->residual, tol)});
    d.router_agreement = router_agreement(g->experts, r->experts, ref.n_tokens(), ref.top_k);
    d.router_logits_rel_rms = compare(g->router_logits, r->router_logits, loose).rel_rms;
    const CompareResult results[] = {d.tensors[0].r, d.tensors[1].r};
    d.pass = layer_passes(results, d.router_agreement, tol);
    verdict.add_layer(l, d.pass);
    rep->layers.push_back(std::move(d));
  }
  if (!got.logits.empty() && !ref.logits.empty()) {
    rep->have_logits = true;
    rep->logits = {"logits", compare(got.logits, ref.logits, tol)};
    const int64_t T = ref.n_tokens(), V = ref.vocab;
    rep->top1 = logits_topk_agreement(got.logits, ref.logits, T, V, 1);
    rep->top5 = logits_topk_agreement(got.logits, ref.logits, T, V, 5);
    rep->kl = logits_kl(got.logits, ref.logits, T, V);
    rep->logits_pass = logits_pass(rep->logits.r, rep->top1, rep->kl, tol);
    verdict.add_logits(rep->logits_pass);
  }
  rep->pass = verdict.pass;
  rep->first_failing_layer = verdict.first_failing_layer;
}

void add_next_tokens(const ActivationRecord& got, const ActivationRecord& ref, const Tokenizer* got_tok,
                     const Tokenizer* ref_tok, DiffReport* rep) {
  if (!rep->have_logits) return;
  rep->next_ref = next_tokens(ref.logits, ref.n_tokens(), ref.vocab, 5, ref_tok);
  rep->next_got = next_tokens(got.logits, got.n_tokens(), got.vocab, 5, got_tok);
}

namespace {

// `"text"`, or a note when the id has no text (no tokenizer, or past the tokenizer's ids).
std::string shown_text(const NextToken& n, bool have_tokenizer) {
  if (!have_tokenizer) return "";
  if (n.text.empty()) return "(no token)";
  return "\"" + printable(n.text) + "\"";
}

// The last position's top 5 of both sides, side by side.
void render_next_tokens(const DiffReport& rep, std::ostringstream& o) {
  if (rep.next_ref.empty() || rep.next_got.empty()) return;
  const auto& r = rep.next_ref.back();
  const auto& g = rep.next_got.back();
  const bool text = rep.tokenizer_note.empty();
  o << "\nnext token after the last position, top 5 (A: reference, B: compared):\n"
    << "rank     A id   A prob  A text                    B id   B prob  B text\n";
  for (size_t i = 0; i < std::max(r.size(), g.size()); ++i) {
    char line[512];
    const std::string rt = i < r.size() ? shown_text(r[i], text) : "", gt = i < g.size() ? shown_text(g[i], text) : "";
    std::snprintf(line, sizeof line, "%4zu  %7d  %7.4f  %-22s  %7d  %7.4f  %s", i + 1, i < r.size() ? r[i].id : -1,
                  i < r.size() ? r[i].prob : 0.0, rt.c_str(), i < g.size() ? g[i].id : -1,
                  i < g.size() ? g[i].prob : 0.0, gt.c_str());
    o << line << "\n";
  }
  if (!text) o << "  (ids only: " << rep.tokenizer_note << ")\n";
}

}  // namespace

std::string render_table(const DiffReport& rep) {
  std::ostringstream o;
  o.precision(9);
  o << "g2diff  reference(A): " << rep.a << "\n        compared(B):  " << rep.b << "\n        mode " << rep.mode
    << ", " << rep.tokens.size() << " tokens, tolerance " << rep.tolerance_desc << "\n\n";
  o << "layer  tensor          max_abs    max_rel    rel_rms    cosine        router  status\n";
  for (const auto& d : rep.layers) {
    const TensorDiff& w = d.worst();
    char line[256];
    std::snprintf(line, sizeof line, "%5d  %-14s %9.3e  %9.3e  %9.3e  %.9f  %5.3f  %s", d.layer, w.tensor.c_str(),
                  w.r.max_abs, w.r.max_rel, w.r.rel_rms, w.r.cosine, d.router_agreement,
                  d.pass ? "ok" : (d.layer == rep.first_failing_layer ? "FAIL  <- first failing layer" : "FAIL"));
    o << line << "\n";
  }
  if (rep.have_logits) {
    char line[256];
    std::snprintf(line, sizeof line, "%5s  %-14s %9.3e  %9.3e  %9.3e  %.9f  top1 %.3f top5 %.3f KL %.3e  %s", "out",
                  "logits", rep.logits.r.max_abs, rep.logits.r.max_rel, rep.logits.r.rel_rms, rep.logits.r.cosine,
                  rep.top1, rep.top5, rep.kl, rep.logits_pass ? "ok" : "FAIL");
    o << line << "\n";
  } else {
    o << "  (no logits: a layer range was given or a side has none)\n";
  }
  if (rep.first_failing_layer >= 0) {
    for (const auto& d : rep.layers)
      if (d.layer == rep.first_failing_layer) {
        const TensorDiff& w = d.worst();
        o << "\nfirst failing layer " << d.layer << ": tensor layers." << d.layer << "." << w.tensor << ", worst "
          << where(w.r.worst_index, rep.hidden) << ": got " << w.r.worst_got << ", reference " << w.r.worst_ref
          << "; " << w.r.n_fail << " elements outside tolerance";
        if (!gate_ok(d.router_agreement, rep.tol.min_router_agreement))
          o << "; router top-k agreement " << fmt("%.3f", d.router_agreement);
        o << "\n";
      }
  } else if (rep.have_logits && !rep.logits_pass) {
    o << "\nlogits fail: worst " << where(rep.logits.r.worst_index, rep.vocab) << ": got " << rep.logits.r.worst_got
      << ", reference " << rep.logits.r.worst_ref << "\n";
  }
  render_next_tokens(rep, o);
  o << "\n" << (rep.pass ? "PARITY OK" : "PARITY FAILED") << "\n";
  return o.str();
}

namespace {

nlohmann::json result_json(const CompareResult& r, int64_t width) {
  nlohmann::json j;
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(std::to_string(v)); };
  j["count"] = r.count;
  j["shape_ok"] = r.shape_ok;
  j["max_abs"] = num(r.max_abs);
  j["max_rel"] = num(r.max_rel);
  j["rel_rms"] = num(r.rel_rms);
  j["cosine"] = num(r.cosine);
  j["worst_index"] = r.worst_index;
  if (width > 0) {
    j["worst_token"] = int64_t(r.worst_index) / width;
    j["worst_column"] = int64_t(r.worst_index) % width;
  }
  j["worst_got"] = num(r.worst_got);
  j["worst_ref"] = num(r.worst_ref);
  j["n_fail"] = r.n_fail;
  j["first_mismatches"] = nlohmann::json::array();
  for (const auto& m : r.first_mismatches)
    j["first_mismatches"].push_back({{"index", m.index}, {"got", num(m.got)}, {"ref", num(m.ref)}});
  j["pass"] = r.pass;
  return j;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

}  // namespace

std::string render_json(const DiffReport& rep) {
  nlohmann::json j;
  j["a"] = rep.a;
  j["b"] = rep.b;
  j["mode"] = rep.mode;
  j["tokens"] = rep.tokens;
  j["tolerance"] = {{"name", rep.tol.name},          {"elementwise", rep.tol.elementwise},
                    {"atol", rep.tol.atol},          {"rtol", rep.tol.rtol},
                    {"max_rel_rms", rep.tol.max_rel_rms}, {"min_cosine", rep.tol.min_cosine},
                    {"min_router_agreement", rep.tol.min_router_agreement},
                    {"min_top1_agreement", rep.tol.min_top1_agreement}, {"max_kl", rep.tol.max_kl}};
  j["layers"] = nlohmann::json::array();
  for (const auto& d : rep.layers) {
    nlohmann::json l;
    l["layer"] = d.layer;
    for (const auto& t : d.tensors) l[t.tensor] = result_json(t.r, rep.hidden);
    l["router_agreement"] = d.router_agreement;
    l["router_logits_rel_rms"] = d.router_logits_rel_rms;
    l["pass"] = d.pass;
    j["layers"].push_back(l);
  }
  if (rep.have_logits) {
    j["logits"] = result_json(rep.logits.r, rep.vocab);
    j["logits"]["top1_agreement"] = rep.top1;
    j["logits"]["top5_agreement"] = rep.top5;
    j["logits"]["kl"] = rep.kl;
    j["logits"]["pass"] = rep.logits_pass;
  }
  if (!rep.next_ref.empty()) {
    // every position: [position][rank] {id, logit, prob, text}
    auto side = [](const std::vector<std::vector<NextToken>>& pos) {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& top : pos) {
        nlohmann::json p = nlohmann::json::array();
        for (const auto& n : top)
          p.push_back({{"id", n.id},
                       {"logit", n.logit},
                       {"prob", n.prob},
                       {"text", valid_utf8(n.text) ? n.text : printable(n.text)}});
        a.push_back(p);
      }
      return a;
    };
    j["next_tokens"] = {{"reference", side(rep.next_ref)}, {"compared", side(rep.next_got)}};
    if (!rep.tokenizer_note.empty()) j["next_tokens"]["tokenizer_note"] = rep.tokenizer_note;
  }
  j["first_failing_layer"] = rep.first_failing_layer;
  j["first_failing_tensor"] = "";
  for (const auto& d : rep.layers)
    if (d.layer == rep.first_failing_layer)
      j["first_failing_tensor"] = "layers." + std::to_string(d.layer) + "." + d.worst().tensor;
  j["pass"] = rep.pass;
  return j.dump(2) + "\n";
}

std::string render_junit(const DiffReport& rep) {
  std::ostringstream o;
  int failures = 0, tests = int(rep.layers.size()) + (rep.have_logits ? 1 : 0);
  for (const auto& d : rep.layers) failures += !d.pass;
  if (rep.have_logits) failures += !rep.logits_pass;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"g2diff\" tests=\"" << tests
    << "\" failures=\"" << failures << "\">\n";
  for (const auto& d : rep.layers) {
    const TensorDiff& w = d.worst();
    o << "  <testcase classname=\"g2diff." << xml_escape(rep.b) << "\" name=\"layer " << d.layer << "\">";
    if (!d.pass)
      o << "<failure message=\"layers." << d.layer << "." << w.tensor << " rel_rms " << w.r.rel_rms << ", max_abs "
        << w.r.max_abs << " at " << where(w.r.worst_index, rep.hidden) << ", router agreement " << d.router_agreement
        << "\"/>";
    o << "</testcase>\n";
  }
  if (rep.have_logits) {
    o << "  <testcase classname=\"g2diff." << xml_escape(rep.b) << "\" name=\"logits\">";
    if (!rep.logits_pass)
      o << "<failure message=\"rel_rms " << rep.logits.r.rel_rms << ", top1 " << rep.top1 << ", KL " << rep.kl
        << "\"/>";
    o << "</testcase>\n";
  }
  o << "</testsuite>\n</testsuites>\n";
  return o.str();
}

}  // namespace g2
