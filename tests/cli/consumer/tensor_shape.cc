// tensor_shape DIR NAME: opens a checkpoint folder (any format g2kit reads, e.g. a safetensors
// set) with the installed libconvert and prints the tensor's dtype and shape.
#include <cstdio>

#include "libconvert/source/source.h"
#include "libconvert/tensor.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: tensor_shape DIR TENSOR\n");
    return 2;
  }
  auto src = g2::open_checkpoint(argv[1]);
  if (!src) {
    std::fprintf(stderr, "tensor_shape: %s\n", src.message().c_str());
    return 2;
  }
  const g2::SourceTensor* t = (*src)->find(argv[2]);
  if (!t) {
    std::fprintf(stderr, "tensor_shape: %s has no tensor %s\n", argv[1], argv[2]);
    return 2;
  }
  std::printf("%s %s %s\n", t->name.c_str(), std::string(g2::dtype_name(t->dtype)).c_str(),
              g2::shape_str(t->shape).c_str());
  return 0;
}
