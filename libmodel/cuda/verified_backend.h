// The CUDA backend as g2diff --backend cuda uses it: created, then self-checked against the
// CPU backend on layer 0 and the logits (host/self_check.h) before it is handed out, with the
// options the run itself will use (precision, TP rank, stored-weight GEMMs).
// Errors (the CLI exits 2 on every one):
//   Unsupported  "no CUDA device: <cudaGetErrorString>"
//   InvalidInput device out of range, or the self-check disagreed: the message carries the
//                per-tensor table and says the backend is not trusted
//   Io           a CUDA/cuBLAS failure (out of memory...) while checking
//   anything run_forward reports for bad weights or tokens
#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "libconvert/status.h"
#include "libmodel/backend.h"
#include "libmodel/cuda/cuda_backend.h"
#include "libmodel/cuda/host/self_check.h"
#include "libmodel/weights.h"

namespace g2 {

struct VerifiedBackend {
  std::unique_ptr<Backend> backend;
  SelfCheckReport report;  // what was compared (for --json / logs)
};

// Self-checks an existing CUDA backend `cuda` (on `device`, for messages) against a fresh
// CPU backend. Ok only when it agrees; `report` (optional) receives the comparison.
Status verify_cuda_backend(WeightSource& w, Backend& cuda, std::span<const int32_t> tokens, int device,
                           const SelfCheckOptions& check, SelfCheckReport* report = nullptr);

Expected<VerifiedBackend> make_verified_cuda_backend(WeightSource& w, std::span<const int32_t> tokens, int device,
                                                     const SelfCheckOptions& check = {},
                                                     const CudaBackendOptions& opt = {});

}  // namespace g2
