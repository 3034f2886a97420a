/*
 * test_cuda_algo.c: the CUDA backend's cuDNN algorithm-choice rules (lib/backends/cuda/
 * cuda_algo.c), which are plain C and run on any machine: the math types TF32 off and on
 * admit, the deterministic policy never falling back to a nondeterministic algorithm, the
 * workspace limit, a returned count larger than the array (a broken cuDNN) refused, the policy
 * names of REVBENCH_CUDNN_ALGO, and the precision recorded for each math type.
 */
#include <criterion/criterion.h>

#include <stddef.h>

#include "backends/cuda/cuda_algo.h"

/* A perf entry that fits everything: succeeded, no workspace, deterministic, FMA. */
static rv_cuda_algo_perf entry(int algo, rv_cuda_math math, int deterministic, size_t memory)
{
    rv_cuda_algo_perf p = { .algo = algo, .ok = 1, .memory = memory,
                            .deterministic = deterministic, .math = math, .time_ms = 0.1f };
    return p;
}

#define LIMIT ((size_t)256 << 20)

/* rv_cuda_algo_pick over n entries (all of those requested returned) within LIMIT, which must
 * succeed: the index it took (-1 for none), and in *nondet (when not NULL) whether that one is
 * nondeterministic. */
static int pick(const rv_cuda_algo_perf *perf, int n, int allow_tf32, rv_cuda_algo_policy policy,
                int *nondet)
{
    int idx = -7, nd = 0;
    cr_assert_eq(rv_cuda_algo_pick(perf, n, n, LIMIT, allow_tf32, policy, &idx, &nd), RV_OK);
    if (nondet) *nondet = nd;
    return idx;
}

Test(cuda_algo, tf32_off_searches_and_takes_fma_only)
{
    cr_expect_eq(rv_cuda_search_math(0), RV_CUDA_MATH_FMA);
    rv_cuda_algo_perf perf[] = { entry(1, RV_CUDA_MATH_TENSOR_OP, 1, 0),
                                 entry(2, RV_CUDA_MATH_DEFAULT, 1, 0),
                                 entry(3, RV_CUDA_MATH_TENSOR_OP_ALLOW_CONVERSION, 1, 0),
                                 entry(4, RV_CUDA_MATH_FMA, 1, 0) };
    int nondet;
    int idx = pick(perf, 4, 0, RV_CUDA_ALGO_SEARCH, &nondet);
    cr_expect_eq(idx, 3, "TF32 off took entry %d", idx);
    cr_expect_eq(nondet, 0);
}

Test(cuda_algo, tf32_on_takes_tensor_op_but_never_fp16_conversion)
{
    /* TF32 is CUDNN_TENSOR_OP_MATH on FP32 tensors; the ALLOW_CONVERSION type would also let
     * cuDNN convert the operands to FP16. */
    cr_expect_eq(rv_cuda_search_math(1), RV_CUDA_MATH_TENSOR_OP);
    cr_expect(!rv_cuda_math_allowed(RV_CUDA_MATH_TENSOR_OP_ALLOW_CONVERSION, 1));
    cr_expect(rv_cuda_math_allowed(RV_CUDA_MATH_DEFAULT, 1));
    cr_expect(rv_cuda_math_allowed(RV_CUDA_MATH_FMA, 1));
    rv_cuda_algo_perf perf[] = { entry(1, RV_CUDA_MATH_TENSOR_OP_ALLOW_CONVERSION, 1, 0),
                                 entry(2, RV_CUDA_MATH_TENSOR_OP, 1, 0),
                                 entry(3, RV_CUDA_MATH_FMA, 1, 0) };
    int idx = pick(perf, 3, 1, RV_CUDA_ALGO_SEARCH, NULL);
    cr_expect_eq(idx, 1, "TF32 on took entry %d", idx);
}

Test(cuda_algo, search_falls_back_to_nondeterministic_and_says_so)
{
    rv_cuda_algo_perf perf[] = { entry(1, RV_CUDA_MATH_FMA, 0, 0),
                                 entry(2, RV_CUDA_MATH_FMA, 0, 0) };
    int nondet;
    cr_expect_eq(pick(perf, 2, 0, RV_CUDA_ALGO_SEARCH, &nondet), 0);
    cr_expect_eq(nondet, 1);
    /* A deterministic entry later in the list wins over a faster nondeterministic one. */
    perf[1].deterministic = 1;
    cr_expect_eq(pick(perf, 2, 0, RV_CUDA_ALGO_SEARCH, &nondet), 1);
    cr_expect_eq(nondet, 0);
}

Test(cuda_algo, deterministic_policy_never_takes_a_nondeterministic_algorithm)
{
    rv_cuda_algo_perf perf[] = { entry(1, RV_CUDA_MATH_FMA, 0, 0),
                                 entry(2, RV_CUDA_MATH_TENSOR_OP, 1, 0) };
    int nondet;
    int idx = pick(perf, 2, 0, RV_CUDA_ALGO_DETERMINISTIC, &nondet);
    cr_expect_eq(idx, -1, "took entry %d", idx);
    cr_expect_eq(nondet, 0);
}

Test(cuda_algo, failed_and_oversized_entries_are_skipped)
{
    rv_cuda_algo_perf perf[] = { entry(1, RV_CUDA_MATH_FMA, 1, LIMIT + 1),
                                 entry(2, RV_CUDA_MATH_FMA, 1, 0),
                                 entry(3, RV_CUDA_MATH_FMA, 1, LIMIT) };
    perf[1].ok = 0;
    cr_expect_eq(pick(perf, 3, 0, RV_CUDA_ALGO_SEARCH, NULL), 2);
}

Test(cuda_algo, a_count_beyond_the_array_is_an_error)
{
    /* cuDNN fills at most the requested count; one that reports more would have written past
     * an array sized to it. Only n_returned entries are read, so the array here is of 2. */
    rv_cuda_algo_perf perf[] = { entry(1, RV_CUDA_MATH_FMA, 1, 0),
                                 entry(2, RV_CUDA_MATH_FMA, 1, 0) };
    int idx = 5, nondet = 0;
    cr_expect_eq(rv_cuda_algo_pick(perf, 3, 2, LIMIT, 0, RV_CUDA_ALGO_SEARCH, &idx, &nondet),
                 RV_ERR_DEVICE);
    cr_expect_eq(idx, -1);
    cr_expect_eq(rv_cuda_algo_pick(perf, -1, 2, LIMIT, 0, RV_CUDA_ALGO_SEARCH, &idx, &nondet),
                 RV_ERR_DEVICE);
    /* Zero returned is no error, just nothing to take. */
    cr_expect_eq(rv_cuda_algo_pick(perf, 0, 2, LIMIT, 0, RV_CUDA_ALGO_SEARCH, &idx, &nondet),
                 RV_OK);
    cr_expect_eq(idx, -1);
}

Test(cuda_algo, policy_names)
{
    rv_cuda_algo_policy p = RV_CUDA_ALGO_DETERMINISTIC;
    cr_expect_eq(rv_cuda_algo_policy_parse(NULL, &p), RV_OK);
    cr_expect_eq(p, RV_CUDA_ALGO_SEARCH);
    cr_expect_eq(rv_cuda_algo_policy_parse("deterministic", &p), RV_OK);
    cr_expect_eq(p, RV_CUDA_ALGO_DETERMINISTIC);
    cr_expect_eq(rv_cuda_algo_policy_parse("", &p), RV_OK);
    cr_expect_eq(p, RV_CUDA_ALGO_SEARCH);
    cr_expect_eq(rv_cuda_algo_policy_parse("search", &p), RV_OK);
    cr_expect_eq(p, RV_CUDA_ALGO_SEARCH);
    cr_expect_eq(rv_cuda_algo_policy_parse("fastest", &p), RV_ERR_ARG);
    cr_expect_str_eq(rv_cuda_algo_policy_name(RV_CUDA_ALGO_DETERMINISTIC), "deterministic");
    cr_expect_str_eq(rv_cuda_algo_policy_name(RV_CUDA_ALGO_SEARCH), "search");
}

Test(cuda_algo, recorded_precision_says_what_ran)
{
    cr_expect_str_eq(rv_cuda_math_precision(RV_CUDA_MATH_FMA, 9), "fp32");
    cr_expect_str_eq(rv_cuda_math_precision(RV_CUDA_MATH_TENSOR_OP, 9), "tf32");
    cr_expect_str_eq(rv_cuda_math_precision(RV_CUDA_MATH_DEFAULT, 8), "tf32");
    /* Turing has no TF32: tensor-op math on FP32 tensors still computes in FP32. */
    cr_expect_str_eq(rv_cuda_math_precision(RV_CUDA_MATH_TENSOR_OP, 7), "fp32");
    cr_expect_str_eq(rv_cuda_math_precision(RV_CUDA_MATH_TENSOR_OP_ALLOW_CONVERSION, 9), "fp16");
    cr_expect_str_eq(rv_cuda_math_name(RV_CUDA_MATH_FMA), "fma");
    cr_expect_str_eq(rv_cuda_math_name(RV_CUDA_MATH_TENSOR_OP), "tensor_op");
}
