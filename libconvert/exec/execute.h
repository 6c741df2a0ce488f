// The streaming executor (docs/architecture.md "Executor"): runs a Plan against a TensorSource into an
// output directory with a fixed memory budget. Output files are produced in row chunks sized
// from the budget, each written under a temporary name and renamed once durable (in batches,
// group_commit.h); a journal records finished files so rerunning the same conversion resumes;
// the manifest comes last. With a part (`--part I/N`) the executor writes only that part's
// files next to the other parts' workers, and the last part to finish writes the manifest
// (dest_state.h). Plain byte copies read the source with pread in chunks of at most
// 8 MiB whatever the budget, so a reshard's peak RSS stays small and independent of the model.
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "libconvert/format/atomic_file.h"
#include "libconvert/plan/plan.h"
#include "libconvert/quant/quant.h"
#include "libconvert/source/source.h"
#include "libconvert/plan/split.h"

namespace g2 {

struct ExecProgress {
  uint64_t bytes_done = 0, bytes_total = 0;  // tensor payload bytes
  size_t files_done = 0, files_total = 0;
  std::string last_file;  // most recently finished file ("" if none yet)
};

struct ExecOptions {
  int threads = 1;  // output files in parallel, and as many threads on each file's row chunks
  uint64_t mem_limit = 512ull << 20;  // bytes: bounds chunk buffers across all threads
  bool force = false;                  // overwrite a non-empty / different destination
  WriteMode write_mode = WriteMode::kAuto;  // tensor files: O_DIRECT or the page cache (atomic_file.h)
  std::vector<std::string> command;    // argv, recorded in the manifest and journal
  // Write only this part of the plan's files (split_parts, plan_split.h), sharing the
  // destination with the other parts' workers. Not with `force`.
  std::optional<PartSpec> part;
  // Called (serialised) after every chunk and every finished file (finished = durable and
  // journaled, which happens in batches).
  std::function<void(const ExecProgress&)> progress;
};

// Error of one lossy logical tensor (merged over its shards and chunks).
struct TensorQuantReport {
  std::string name;
  std::string what;  // e.g. "fp8 block 128x128", "bf16"
  QuantError err;
};

struct ExecReport {
  size_t files_written = 0, files_skipped = 0;
  uint64_t bytes_written = 0;  // payload bytes produced by this run
  double seconds = 0;
  std::vector<TensorQuantReport> quant;  // sorted by relative RMS error, worst first
  std::vector<std::string> copied;       // tokenizer files copied from the source
  bool resumed = false;
  bool manifest_written = false;           // g2manifest.json written by this run (of parts: the last)
  std::vector<std::string> parts_waiting;  // a part: the parts not finished when it finished
};

Expected<ExecReport> execute_plan(const Plan& plan, const TensorSource& src, const std::string& dst,
                                  const ExecOptions& opt);

// Files g2convert copies from a source root when present.
const std::vector<std::string>& tokenizer_file_names();

}  // namespace g2
