#include "libconvert/plan/plan_split.h"

#include <algorithm>
#include <numeric>

namespace g2 {

Expected<Plan> select_ranks(Plan plan, int first, int last) {
  if (plan.layout == OutLayout::Hf)
    return invalid("--ranks selects the rank files of a TP set, but --layout hf writes unsharded files (no ranks); "
                   "use --layout rank (or tp) with --tp N");
  if (first < 0 || last < first || last >= plan.tp)
    return invalid("--ranks " + std::to_string(first) + "-" + std::to_string(last) + " is outside ranks 0-" +
                   std::to_string(plan.tp - 1) + " of tp " + std::to_string(plan.tp));
  const RankSubset subset{first, last, plan.tp};
  if (subset.whole()) return plan;
  std::erase_if(plan.files, [&](const PlannedFile& f) { return f.rank >= 0 && !subset.holds(f.rank); });
  plan.ranks = subset;
  plan.notes.push_back("this destination holds " + subset.text() +
                       " (plus the common files): serve it together with the other ranks' nodes; "
                       "g2diff needs every rank in one folder");
  return plan;
}

Expected<std::vector<PlanPart>> split_parts(const Plan& plan, int count) {
  if (count < 1) return invalid("--part I/N needs N >= 1, got N = " + std::to_string(count));
  std::vector<PlanPart> parts(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) parts[size_t(i)].part = PartSpec{i + 1, count};
  parts[0].text_files = true;
  std::vector<size_t> order(plan.files.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return plan.files[a].payload_bytes > plan.files[b].payload_bytes; });
  for (size_t i : order) {
    // min_element returns the first minimum: ties go to the lower part
    auto p = std::min_element(parts.begin(), parts.end(),
                              [](const PlanPart& a, const PlanPart& b) { return a.bytes < b.bytes; });
    p->files.push_back(i);
    p->bytes += plan.files[i].payload_bytes;
  }
  for (auto& p : parts) std::sort(p.files.begin(), p.files.end());
  return parts;
}

Plan part_plan(const Plan& plan, const PlanPart& part) {
  Plan p = plan;
  p.files.clear();
  for (size_t i : part.files) p.files.push_back(plan.files[i]);
  if (!part.text_files) p.text_files.clear();
  return p;
}

}  // namespace g2
