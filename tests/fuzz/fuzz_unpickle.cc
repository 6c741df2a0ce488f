// libFuzzer target for the restricted unpickler (built with G2_FUZZ=ON, clang): any input
// must parse or fail with a Status, never crash, read out of bounds, or blow up memory.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "libconvert/format/pickle_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = g2::unpickle_tensor({data, size}, "fuzz");
  if (r.ok()) {
    // Every payload view must lie inside the input (or in the decoded buffers).
    for (const g2::PickledArray* a : {&r->array, &r->scales}) {
      if (!a->nbytes) continue;
      const bool in_input = a->data >= data && a->data + a->nbytes <= data + size;
      bool in_owned = false;
      for (const auto& o : r->owned) in_owned |= a->data >= o.data() && a->data + a->nbytes <= o.data() + o.size();
      if (!in_input && !in_owned) __builtin_trap();
      volatile uint8_t sink = a->data[a->nbytes - 1];
      (void)sink;
    }
  }
  return 0;
}
