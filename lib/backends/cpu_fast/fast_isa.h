/*
 * fast_isa.h (internal): run-time ISA dispatch of the fast backend's own kernels.
 *
 * Each kernel is written once as an always-inline function of the channel block B and
 * instantiated twice: for B = 16 compiled for AVX-512 and for B = 8 compiled for AVX2 + FMA.
 * With B a compile-time constant the inner loop over the B channels of a block becomes whole
 * vector registers (one zmm, or one ymm) without intrinsics. Which instance runs follows the
 * block size chosen at init (fast_internal.h), so capping oneDNN's ISA with
 * ONEDNN_MAX_CPU_ISA=AVX2 also selects the AVX2 kernels: one switch, one layout.
 */
#ifndef RV_FAST_ISA_H
#define RV_FAST_ISA_H

#define RV_FAST_INLINE static inline __attribute__((always_inline))
#define RV_FAST_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#define RV_FAST_AVX2 __attribute__((target("avx2,fma")))

/* Defines name##_16 (AVX-512) and name##_8 (AVX2) calling kernel(B, args...). */
#define RV_FAST_INSTANTIATE(name, kernel, params, ...)                                   \
    RV_FAST_AVX512 static void name##_16 params { kernel(16, __VA_ARGS__); }             \
    RV_FAST_AVX2 static void name##_8 params { kernel(8, __VA_ARGS__); }

#endif
