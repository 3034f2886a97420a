/* cuda_fixture.c: see cuda_fixture.h. */
#include "cuda_fixture.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

rv_ctx *gpu, *cpu;
char no_gpu_reason[512];

int cuda_fixture_gpu_required(void)
{
    const char *v = getenv("REVBENCH_REQUIRE_GPU");
    return v && !strcmp(v, "1");
}

void cuda_fixture_setup(void)
{
    rv_ctx_options o = rv_ctx_default_options();
    o.device = RV_DEVICE_CUDA;
    if (rv_ctx_create(&gpu, &o, no_gpu_reason, sizeof no_gpu_reason) != RV_OK) gpu = NULL;
    rv_ctx_options c = rv_ctx_default_options();
    c.n_threads = 1;
    char msg[256];
    cr_assert_eq(rv_ctx_create(&cpu, &c, msg, sizeof msg), RV_OK, "CPU context: %s", msg);
}

void cuda_fixture_teardown(void)
{
    rv_ctx_destroy(gpu);
    rv_ctx_destroy(cpu);
    gpu = cpu = NULL;
}
