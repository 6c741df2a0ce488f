// Splitting one plan over nodes and workers, as pure functions of the plan (no I/O), so N
// processes that never talk to each other agree on who writes what:
//  - select_ranks: one node's share of a TP set (`--ranks A-B`): the -TP-common files and the
//    rank files of ranks A..B, nothing else; the plan records the subset (fingerprint, manifest).
//  - split_parts: the output files dealt into N disjoint parts balanced by bytes (`--part I/N`).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "libconvert/plan/plan.h"

namespace g2 {

// Keep the common files and the files of ranks first..last. A range covering every rank
// returns the plan unchanged (the whole set). Refuses an hf layout (no rank files) and a range
// outside 0..tp-1.
Expected<Plan> select_ranks(Plan plan, int first, int last);

// The files one part writes.
struct PlanPart {
  PartSpec part;
  std::vector<size_t> files;  // indices into Plan::files, in plan order
  bool text_files = false;    // part 1 also writes the text files and the tokenizer copies
  uint64_t bytes = 0;         // payload bytes of its files
};

// Deal the plan's files into `count` parts: largest file first, each to the part with the
// fewest bytes so far (ties: the lower part), so no part exceeds another by more than the
// largest file. Every file is in exactly one part; parts may be empty when count exceeds the
// number of files. Depends only on the plan's file sizes and order.
Expected<std::vector<PlanPart>> split_parts(const Plan& plan, int count);

// The plan restricted to one part's files (text files only for the part that writes them):
// what that worker executes and what `--dry-run --part I/N` prints.
Plan part_plan(const Plan& plan, const PlanPart& part);

}  // namespace g2
