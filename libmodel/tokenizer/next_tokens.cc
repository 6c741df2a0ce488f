#include "next_tokens.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace g2 {

std::vector<std::vector<NextToken>> next_tokens(std::span<const float> logits, int64_t T, int64_t V, int k,
                                                const Tokenizer* tok) {
  std::vector<std::vector<NextToken>> out;
  if (T <= 0 || V <= 0 || logits.size() < size_t(T * V)) return out;
  const int64_t kk = std::min<int64_t>(k, V);
  std::vector<int32_t> order(static_cast<size_t>(V));
  for (int64_t t = 0; t < T; ++t) {
    const float* row = logits.data() + t * V;
    auto key = [&](int32_t v) { return std::isnan(row[v]) ? -INFINITY : row[v]; };  // NaN ranks last
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + kk, order.end(),
                      [&](int32_t a, int32_t b) { return key(a) > key(b) || (key(a) == key(b) && a < b); });
    const double mx = key(order[0]);
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(double(key(int32_t(v))) - mx);
    std::vector<NextToken> top;
    for (int64_t i = 0; i < kk; ++i) {
      NextToken n;
      n.id = order[size_t(i)];
      n.logit = row[n.id];
      n.prob = std::exp(double(n.logit) - mx) / sum;
      if (tok) n.text = tok->token_text(n.id);
      top.push_back(std::move(n));
    }
    out.push_back(std::move(top));
  }
  return out;
}

Expected<std::unique_ptr<Tokenizer>> checkpoint_tokenizer(const std::string& dir, int64_t vocab_rows) {
  auto tok = open_tokenizer(dir);
  if (!tok) return tok;
  if ((*tok)->size() > vocab_rows)
    return invalid((*tok)->path() + " has ids up to " + std::to_string((*tok)->size() - 1) +
                   " but the checkpoint's embedding has " + std::to_string(vocab_rows) +
                   " rows (vocab_size): this is not the tokenizer of these weights");
  return tok;
}

}  // namespace g2
