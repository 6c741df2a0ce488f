// DeviceError: a failure of the device itself (a CUDA or cuBLAS call that returned an error:
// out of memory, a lost device, a driver too old, a peer rank that never answered). The
// Backend ops are void (libmodel/backend.h), so a backend reports such a failure by throwing
// this; the functions that drive a backend (run_forward, the --dist verdict) catch it at their
// boundary and return an ordinary Error, which the tools turn into exit 2 with the message.
// No CUDA headers here: host code on machines without CUDA catches it too.
#pragma once
#include <stdexcept>
#include <string>

namespace g2 {

class DeviceError : public std::runtime_error {
 public:
  explicit DeviceError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace g2
