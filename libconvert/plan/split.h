// How one conversion is split over machines and processes (README "Convert on several
// nodes"): a rank subset (`g2convert --ranks A-B`: one node's rank files plus the common ones)
// and a part of the output files (`g2convert --part I/N`: N workers sharing a destination).
// Plain values shared by the plan, the executor, the manifest and the readers.
#pragma once
#include <string>

namespace g2 {

// Ranks first..last (inclusive) of a TP width.
struct RankSubset {
  int first = 0, last = 0, tp = 1;
  bool whole() const { return first == 0 && last == tp - 1; }
  bool holds(int rank) const { return rank >= first && rank <= last; }
  std::string range() const {
    return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
  }
  std::string text() const { return (first == last ? "rank " : "ranks ") + range() + " of " + std::to_string(tp); }
  bool operator==(const RankSubset&) const = default;
};

// Part `index` (1-based) of `count`.
struct PartSpec {
  int index = 1, count = 1;
  std::string text() const { return "part " + std::to_string(index) + "/" + std::to_string(count); }
  bool operator==(const PartSpec&) const = default;
};

}  // namespace g2
