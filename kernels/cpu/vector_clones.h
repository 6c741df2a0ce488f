// G2_VECTOR_CLONES on a hot CPU loop (the converter's codec and quantisation loops) compiles
// it twice, for baseline x86-64 (SSE2) and for AVX2, and picks the clone once at load time
// from the CPU (GCC target_clones, an ELF ifunc). The binary stays portable to any x86-64
// while the loops get 8-float vectors where the CPU has them. Results are bit-identical in
// both clones: the loops use only correctly rounded IEEE operations and integer ops (AVX2
// does not enable FMA, so nothing is contracted), and their partial sums have fixed lanes.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__) && !defined(G2_NO_VECTOR_CLONES)
#define G2_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define G2_VECTOR_CLONES
#endif
