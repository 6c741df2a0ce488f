// What g2convert keeps in a destination besides the output (README "Convert on several
// nodes"): the one-process resume journal, each `--part` worker's journal and, once the
// part is done, its part manifest; g2manifest.json when everything is done. All are Manifest
// files (manifest.h) carrying the plan and source fingerprints, so any run of the same
// conversion, with or without --part, can resume from any of them.
//
// Parts finish independently; the last to finish (or `g2convert --merge-manifest`) merges
// the part manifests into g2manifest.json and removes every part's state, leaving the
// destination byte-identical to a one-process run: each part records the whole file list
// in manifest order, and the merged manifest takes part 1's command without its --part
// (the command a one-process run of the same conversion records).
// Reading and changing the state happens under the state lock (dest_lock.h).
#pragma once
#include <string>
#include <vector>

#include "libconvert/format/manifest.h"

namespace g2 {

inline constexpr const char* kLockName = ".g2convert.lock";
inline constexpr const char* kStateLockName = ".g2convert.state.lock";
std::string part_lock_name(const PartSpec& p);      // .g2convert.part-I-of-N.lock
std::string part_journal_name(const PartSpec& p);   // g2convert.part-I-of-N.partial.json
std::string part_manifest_name(const PartSpec& p);  // g2convert.part-I-of-N.json
// Whether a destination entry is g2convert's own bookkeeping (locks, journals, part
// manifests, temporaries) rather than output or a stranger's file.
bool is_state_name(const std::string& name);

struct StateFile {
  enum class Kind { Finished, Journal, PartJournal, PartManifest };
  std::string name;
  Kind kind = Kind::Journal;
  Manifest m;
  bool same(const std::string& plan_fp, const std::string& source_fp) const {
    return m.plan == plan_fp && m.source_fingerprint == source_fp;
  }
};
// Every readable state file in `dst` (a file that does not parse is left out, as if absent:
// state is written atomically, so that is someone else's file).
std::vector<StateFile> read_state(const std::string& dst);

struct MergeResult {
  bool merged = false;          // g2manifest.json written now
  bool already_merged = false;  // nothing to merge: g2manifest.json was already there
  int count = 0;                // N of --part I/N
  size_t files = 0;             // files listed in g2manifest.json
  std::vector<std::string> waiting;  // parts not finished yet, e.g. "part 3/4 (its journal lists 2 of 5 files)"
};

// With the state lock held: when every part 1..count of this conversion has its part
// manifest, check that the files they list exist with their recorded sizes, write
// g2manifest.json and remove the parts' state; otherwise name the parts still missing.
Expected<MergeResult> merge_parts_locked(const std::string& dst, const std::string& plan_fp,
                                         const std::string& source_fp, int count);

// `g2convert --merge-manifest DST`: takes the destination lock (refused while parts run) and
// the state lock, finds the parts' conversion from their state and merges.
Expected<MergeResult> merge_manifest(const std::string& dst);

// Remove every state file of this conversion other than g2manifest.json, every temporary
// and every part lock no one holds: what a finished destination must not keep.
void remove_finished_state(const std::string& dst, const std::string& plan_fp, const std::string& source_fp);

}  // namespace g2
