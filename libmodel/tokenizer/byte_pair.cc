#include "byte_pair.h"

#include <climits>
#include <cstdio>

namespace g2 {

Status byte_pair_encode(std::string_view piece, const RankMap& ranks, std::vector<int32_t>* out) {
  auto rank_of = [&](size_t begin, size_t end) {
    auto it = ranks.find(std::string(piece.substr(begin, end - begin)));
    return it == ranks.end() ? INT32_MAX : it->second;
  };
  // bounds[i] .. bounds[i + 1] is part i; a merge removes the boundary between two parts.
  std::vector<size_t> bounds(piece.size() + 1);
  for (size_t i = 0; i <= piece.size(); ++i) bounds[i] = i;
  while (bounds.size() > 2) {
    int32_t best = INT32_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 2 < bounds.size(); ++i) {
      const int32_t r = rank_of(bounds[i], bounds[i + 2]);
      if (r < best) best = r, at = i;  // strict: the leftmost pair wins a tie
    }
    if (best == INT32_MAX) break;
    bounds.erase(bounds.begin() + std::ptrdiff_t(at) + 1);
  }
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    const int32_t r = rank_of(bounds[i], bounds[i + 1]);
    if (r == INT32_MAX) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", unsigned(static_cast<unsigned char>(piece[bounds[i]])));
      return invalid(std::string("no token for the byte ") + hex + " (a tiktoken vocabulary holds every single byte)");
    }
    out->push_back(r);
  }
  return Status::Ok();
}

}  // namespace g2
