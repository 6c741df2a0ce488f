// tiktoken's byte-pair merge: how a pre-tokenized piece that is not itself a token becomes
// tokens (openai/tiktoken src/lib.rs, `_byte_pair_merge` / `byte_pair_encode`).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "libconvert/status.h"

namespace g2 {

// Token bytes -> rank; in a tiktoken vocabulary the rank is the token id.
using RankMap = std::unordered_map<std::string, int32_t>;

// Starts from single bytes and repeatedly merges the adjacent pair whose concatenation has the
// lowest rank (the leftmost on ties) until no adjacent pair is a token; appends the ids.
// InvalidInput when a single byte of `piece` has no token (tiktoken panics there).
Status byte_pair_encode(std::string_view piece, const RankMap& ranks, std::vector<int32_t>* out);

}  // namespace g2
