// Placeholder until the Grok-1 JAX reader is merged: that change deletes this file and
// defines open_grok1_jax in its own source. Detection still recognises the directory.
#include "libconvert/format/grok1_source.h"

namespace g2 {

Expected<std::unique_ptr<TensorSource>> open_grok1_jax(const std::string& dir, const std::string&) {
  return unsupported(dir + ": is a Grok-1 JAX checkpoint (ckpt-0/), but this build has no Grok-1 reader yet");
}

}  // namespace g2
