// The CUDA backend: the same Backend interface as the CPU backend, with kernels
// that call the same G2_HD functions (kernels/cuda/*) and cuBLAS for the GEMMs. No CUDA
// headers here, so tools include it freely; it exists only when G2_HAVE_CUDA is defined
// (the g2_model_cuda target).
#pragma once
#include <memory>
#include <string>

#include "libconvert/status.h"
#include "libmodel/backend.h"

namespace g2 {

class NcclComm;  // libmodel/cuda/nccl_comm.h

enum class CudaGemmPrecision {
  F32,   // cublasGemmEx on the f32 arrays, CUBLAS_COMPUTE_32F: the CPU backend's arithmetic
  Bf16,  // x and w rounded to BF16 on the device, cublasGemmEx BF16 x BF16 -> f32 with f32
         // accumulation (exact for BF16 weights and bf16-rounded activations: reference mode)
};

struct CudaBackendOptions {
  CudaGemmPrecision gemm = CudaGemmPrecision::F32;
  // One process per GPU (tensor parallelism): the communicator the backend's
  // all_reduce_sum(x, n) uses (Backend::all_reduce_sum, called by the forward when
  // ForwardOptions::only_rank is set). Null: single process, all_reduce_sum is a no-op.
  std::shared_ptr<NcclComm> comm;
};

// Number of usable CUDA devices; 0 when there is no driver or no device (never aborts).
int cuda_device_count();
// Why cuda_device_count() is 0, from cudaGetErrorString: "cudaGetDeviceCount: CUDA driver
// version is insufficient for CUDA runtime version (driver supports CUDA 12.2, runtime
// 13.0)" tells a driver older than the toolkit from a machine without a device. Empty when
// a device is usable.
std::string cuda_unavailable_reason();

// A backend on `device`. Errors: "no CUDA device: <reason>" (ErrorKind::Unsupported; the
// CLI exits 2) when the machine has none, InvalidInput when `device` is out of range, Io
// when creating the streams or the cuBLAS handles fails. Its ops throw DeviceError on a CUDA
// or cuBLAS failure (libmodel/backend.h; run_forward returns it as an Error).
Expected<std::unique_ptr<Backend>> make_cuda_backend(int device, const CudaBackendOptions& opt = {});

// The compute stream (a cudaStream_t) of a backend make_cuda_backend made, null for any other
// backend: for callers that queue their own work or timing events in order with its ops.
void* cuda_backend_stream(Backend& b);

// "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB" for logs.
std::string cuda_device_description(int device);

}  // namespace g2
