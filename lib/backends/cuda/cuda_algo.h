/*
 * cuda_algo.h (internal, plain C): the rules by which the CUDA backend chooses a cuDNN
 * convolution algorithm, apart from cuDNN itself so that they compile and are tested on a
 * machine without a GPU (tests/test_cuda_algo.c). cuda_conv.cu turns cuDNN's perf results
 * into rv_cuda_algo_perf and asks rv_cuda_algo_pick which one to run.
 *
 * Math types (the values are cudnnMathType_t's, checked by a static assertion in cuda_conv.cu):
 *   - TF32 off (the default): the search runs with CUDNN_FMA_MATH and only FMA algorithms are
 *     taken, so FP32 tensors are computed in FP32.
 *   - TF32 on: the search runs with CUDNN_TENSOR_OP_MATH; algorithms reporting FMA, DEFAULT or
 *     TENSOR_OP math are taken (on FP32 tensors the tensor-op ones compute in TF32 on sm_80 and
 *     later). CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION is never taken: it also lets cuDNN convert
 *     FP32 operands to FP16, which is not TF32.
 * The math type of the chosen algorithm is what runs, and what describe() records.
 *
 * Policies (REVBENCH_CUDNN_ALGO):
 *   - search (default): cudnnFind* times every algorithm; the fastest deterministic one that
 *     fits is taken, else the fastest nondeterministic one (flagged). Two processes may choose
 *     differently when two algorithms time alike, and then differ in the last bits.
 *   - deterministic: cuDNN's heuristic ranking (cudnnGet*_v7, no timing), which depends only on
 *     the shape, the GPU model and the cuDNN version, and deterministic algorithms only (none
 *     fitting is an error): every process on the same GPU model and cuDNN picks the same
 *     algorithms, so runs repeat bit for bit.
 */
#ifndef RV_CUDA_ALGO_H
#define RV_CUDA_ALGO_H

#include <stddef.h>

#include <revnet/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RV_CUDA_MATH_DEFAULT = 0,
    RV_CUDA_MATH_TENSOR_OP = 1,
    RV_CUDA_MATH_TENSOR_OP_ALLOW_CONVERSION = 2,
    RV_CUDA_MATH_FMA = 3
} rv_cuda_math;

typedef enum { RV_CUDA_ALGO_SEARCH = 0, RV_CUDA_ALGO_DETERMINISTIC = 1 } rv_cuda_algo_policy;

/* One entry of cuDNN's perf results, reduced to what the choice reads. */
typedef struct {
    int algo;          /* cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t */
    int ok;            /* status == CUDNN_STATUS_SUCCESS */
    size_t memory;     /* workspace bytes */
    int deterministic; /* determinism == CUDNN_DETERMINISTIC */
    rv_cuda_math math;
    float time_ms;     /* cudnnFind's time; negative for a heuristic entry */
} rv_cuda_algo_perf;

/* The math type to put on the convolution descriptor for the search. */
rv_cuda_math rv_cuda_search_math(int allow_tf32);

/* Whether an algorithm reporting math type m may run under the TF32 setting. */
int rv_cuda_math_allowed(rv_cuda_math m, int allow_tf32);

/*
 * The index of the entry to run among perf[0..n_returned) (cuDNN's order: fastest first for
 * the search, best ranked first for the heuristic), or -1 when none fits. An entry fits when it
 * succeeded, needs at most ws_limit bytes and its math is allowed. Deterministic entries come
 * first; under RV_CUDA_ALGO_SEARCH a nondeterministic one is the fallback (*nondeterministic
 * set to 1), under RV_CUDA_ALGO_DETERMINISTIC never.
 * RV_ERR_DEVICE (with *index -1) when cuDNN returned a count outside [0, n_requested]: the
 * array holds only n_requested entries, so anything else is a broken library.
 */
rv_status rv_cuda_algo_pick(const rv_cuda_algo_perf *perf, int n_returned, int n_requested,
                            size_t ws_limit, int allow_tf32, rv_cuda_algo_policy policy,
                            int *index, int *nondeterministic);

/* "search" or "deterministic" from the environment's text (NULL or "" is the default,
 * search). RV_ERR_ARG for anything else. */
rv_status rv_cuda_algo_policy_parse(const char *text, rv_cuda_algo_policy *out);
const char *rv_cuda_algo_policy_name(rv_cuda_algo_policy p);

/* The math type's cuDNN name: "fma", "default", "tensor_op", "tensor_op_allow_conversion". */
const char *rv_cuda_math_name(rv_cuda_math m);

/* The precision FP32 tensors were computed in with math type m on a GPU of compute capability
 * sm_major.x: "fp32" for FMA math, and for the tensor-op math types before Ampere (no TF32
 * units); "tf32" for those from sm_80 on; "fp16" for the conversion math type. */
const char *rv_cuda_math_precision(rv_cuda_math m, int sm_major);

#ifdef __cplusplus
}
#endif

#endif
