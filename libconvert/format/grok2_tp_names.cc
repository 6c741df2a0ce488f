// TP-set file names and the g2_layout block of config.json.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "libconvert/format/grok2_tp.h"
#include "libconvert/format/read_file.h"

namespace g2 {

std::string_view tp_layout_kind_name(TpLayoutKind k) { return k == TpLayoutKind::Rank ? "rank" : "tp"; }

std::string tp_common_file_name(int group) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "pytorch_model-%05d-TP-common.safetensors", group);
  return buf;
}

std::string tp_rank_file_name(int group, int rank) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "pytorch_model-%05d-TP-%03d.safetensors", group, rank);
  return buf;
}

namespace {

bool digits(std::string_view s) {
  if (s.empty()) return false;
  for (char ch : s)
    if (ch < '0' || ch > '9') return false;
  return true;
}

}  // namespace

std::optional<TpFileName> parse_tp_file_name(std::string_view n) {
  constexpr std::string_view pre = "pytorch_model-", mid = "-TP-", ext = ".safetensors";
  if (n.size() < pre.size() + 5 + mid.size() + 3 + ext.size()) return std::nullopt;
  if (n.substr(0, pre.size()) != pre || n.substr(n.size() - ext.size()) != ext) return std::nullopt;
  std::string_view body = n.substr(pre.size(), n.size() - pre.size() - ext.size());  // 00006-TP-003
  const std::string_view group = body.substr(0, 5);
  if (!digits(group) || body.substr(5, mid.size()) != mid) return std::nullopt;
  const std::string_view tail = body.substr(5 + mid.size());
  TpFileName out;
  out.group = std::stoi(std::string(group));
  if (tail == "common") return out;
  if (tail.size() != 3 || !digits(tail)) return std::nullopt;
  out.rank = std::stoi(std::string(tail));
  return out;
}

Expected<G2LayoutInfo> read_g2_layout(const std::string& config_path) {
  auto text = read_file(config_path);
  if (!text) return io_error(config_path + ": cannot read");
  return parse_g2_layout(*text, config_path);
}

Expected<G2LayoutInfo> parse_g2_layout(std::string_view json_text, const std::string& config_path) {
  auto j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid(config_path + ": malformed JSON");
  G2LayoutInfo info;
  if (!j.contains("g2_layout") || j["g2_layout"].is_null()) return info;
  const auto& g = j["g2_layout"];
  if (!g.is_object()) return invalid(config_path + ": g2_layout must be an object {\"kind\": ..., \"tp\": N}");
  if (g.contains("kind")) {
    if (g["kind"] == "tp") info.kind = TpLayoutKind::Tp;
    else if (g["kind"] == "rank") info.kind = TpLayoutKind::Rank;
    else if (g["kind"] != "hf")
      return invalid(config_path + ": g2_layout.kind must be \"tp\", \"rank\" or \"hf\", got " + g["kind"].dump());
  }
  if (g.contains("tp")) {
    if (!g["tp"].is_number_unsigned() || g["tp"].get<uint64_t>() < 1 || g["tp"].get<uint64_t>() > 1024)
      return invalid(config_path + ": g2_layout.tp must be a positive integer, got " + g["tp"].dump());
    info.tp = int(g["tp"].get<uint64_t>());
  }
  return info;
}

}  // namespace g2
