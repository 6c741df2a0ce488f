// What SGLang 0.5.23 does with a TP set served at another --tp than it was written for, as
// tests/interop/sglang measured it (README "Which layout"): one place for the advice the planner
// and g2inspect print.
#pragma once
#include <string>

namespace g2 {

// `release_style`: only the experts are presharded (the release's layout, `--layout tp`); else
// every split tensor is (`--layout rank`).
inline std::string sglang_serving_note(bool release_style, int tp) {
  const std::string at = "--tp " + std::to_string(tp);
  if (release_style)
    return "serve at " + at + " only: SGLang 0.5.23 loads this release-style layout at a smaller TP without an "
           "error and with wrong experts (sglang PR #36438); --layout rank makes SGLang refuse any other TP";
  return "serve at " + at + ": SGLang 0.5.23 refuses any other TP with a shape assertion (every split tensor "
         "is presharded)";
}

}  // namespace g2
