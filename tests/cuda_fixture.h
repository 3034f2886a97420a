/*
 * cuda_fixture.h: the contexts of the CUDA test binaries (test_cuda, test_cuda_model): a CPU
 * context (1 thread, the reference) and a CUDA context, or NULL with the reason in
 * no_gpu_reason, so every test can skip with that message where there is no GPU.
 */
#ifndef RV_TEST_CUDA_FIXTURE_H
#define RV_TEST_CUDA_FIXTURE_H

#include <revnet/context.h>

extern rv_ctx *gpu, *cpu;
extern char no_gpu_reason[512];

void cuda_fixture_setup(void);
void cuda_fixture_teardown(void);

#endif
