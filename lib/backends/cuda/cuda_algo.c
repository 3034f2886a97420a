/* cuda_algo.c: the cuDNN algorithm-choice rules (see cuda_algo.h). Plain C, no CUDA headers. */
#include "backends/cuda/cuda_algo.h"

#include <string.h>

rv_cuda_math rv_cuda_search_math(int allow_tf32)
{
    return allow_tf32 ? RV_CUDA_MATH_TENSOR_OP : RV_CUDA_MATH_FMA;
}

int rv_cuda_math_allowed(rv_cuda_math m, int allow_tf32)
{
    switch (m) {
    case RV_CUDA_MATH_FMA: return 1;
    case RV_CUDA_MATH_DEFAULT:
    case RV_CUDA_MATH_TENSOR_OP: return allow_tf32 != 0;
    /* FP32 -> FP16 conversion is a different precision from the TF32 that was asked for. */
    case RV_CUDA_MATH_TENSOR_OP_ALLOW_CONVERSION: return 0;
    }
    return 0;
}

rv_status rv_cuda_algo_pick(const rv_cuda_algo_perf *perf, int n_returned, int n_requested,
                            size_t ws_limit, int allow_tf32, rv_cuda_algo_policy policy,
                            int *index, int *nondeterministic)
{
    *index = -1;
    if (n_returned < 0 || n_returned > n_requested) return RV_ERR_DEVICE;
    int fallback = -1;
    for (int i = 0; i < n_returned; i++) {
        const rv_cuda_algo_perf *p = &perf[i];
        if (!p->ok || p->memory > ws_limit || !rv_cuda_math_allowed(p->math, allow_tf32))
            continue;
        if (p->deterministic) {
            *index = i;
            return RV_OK;
        }
        if (fallback < 0) fallback = i;
    }
    if (fallback >= 0 && policy == RV_CUDA_ALGO_SEARCH) {
        *index = fallback;
        *nondeterministic = 1;
    }
    return RV_OK;
}

rv_status rv_cuda_algo_policy_parse(const char *text, rv_cuda_algo_policy *out)
{
    if (!text || !*text || !strcmp(text, "search")) {
        *out = RV_CUDA_ALGO_SEARCH;
        return RV_OK;
    }
    if (!strcmp(text, "deterministic")) {
        *out = RV_CUDA_ALGO_DETERMINISTIC;
        return RV_OK;
    }
    return RV_ERR_ARG;
}

const char *rv_cuda_algo_policy_name(rv_cuda_algo_policy p)
{
    return p == RV_CUDA_ALGO_DETERMINISTIC ? "deterministic" : "search";
}

const char *rv_cuda_math_name(rv_cuda_math m)
{
    switch (m) {
    case RV_CUDA_MATH_DEFAULT: return "default";
    case RV_CUDA_MATH_TENSOR_OP: return "tensor_op";
    case RV_CUDA_MATH_TENSOR_OP_ALLOW_CONVERSION: return "tensor_op_allow_conversion";
    case RV_CUDA_MATH_FMA: return "fma";
    }
    return "?";
}

const char *rv_cuda_math_precision(rv_cuda_math m, int sm_major)
{
    if (m == RV_CUDA_MATH_FMA) return "fp32";
    if (m == RV_CUDA_MATH_TENSOR_OP_ALLOW_CONVERSION) return "fp16";
    return sm_major >= 8 ? "tf32" : "fp32";
}
