/*
 * cuda_fixture.h: the contexts of the CUDA test binaries (test_cuda, test_cuda_model): a CPU
 * context (1 thread, the reference) and a CUDA context, or NULL with the reason in
 * no_gpu_reason, so every test can skip with that message where there is no GPU.
 *
 * With REVBENCH_REQUIRE_GPU=1 in the environment (scripts/gpu-check.sh sets it) a missing or
 * unusable GPU fails every test instead: a binary whose tests all skipped would otherwise
 * report success on the very machine that was meant to test the GPU.
 */
#ifndef RV_TEST_CUDA_FIXTURE_H
#define RV_TEST_CUDA_FIXTURE_H

#include <revnet/context.h>

extern rv_ctx *gpu, *cpu;
extern char no_gpu_reason[512];

void cuda_fixture_setup(void);
void cuda_fixture_teardown(void);

/* 1 when REVBENCH_REQUIRE_GPU is "1". */
int cuda_fixture_gpu_required(void);

/* Checks a call's status, showing the context's message on failure. */
#define OK(ctx, call)                                                                     \
    do {                                                                                  \
        rv_status s_ = (call);                                                            \
        cr_assert_eq(s_, RV_OK, "%s: %s", #call, rv_ctx_message(ctx));                    \
    } while (0)

/* Skips the calling test when there is no GPU; fails it when a GPU is required. */
#define NEED_GPU()                                                                        \
    do {                                                                                  \
        if (!gpu && cuda_fixture_gpu_required())                                          \
            cr_assert_fail("REVBENCH_REQUIRE_GPU=1 and no usable GPU: %s", no_gpu_reason); \
        if (!gpu) cr_skip_test("no GPU: %s", no_gpu_reason);                              \
    } while (0)

#endif
