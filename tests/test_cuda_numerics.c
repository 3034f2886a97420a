/*
 * test_cuda_numerics.c: where the CUDA backend's arithmetic and indexing could differ from the
 * CPU's beyond the per-op tests of test_cuda.c:
 *   - batch-norm statistics and parameter gradients on data whose sums cancel (+-1000
 *     alternating, small noise), where float accumulation loses the noise that double keeps:
 *     the GPU must match the CPU's double sums to a few ulp;
 *   - kernels on tensors past 2^31 elements, which run with 64-bit indices (cuda_common.h),
 *     when the GPU has the ~13 GiB this needs.
 * Without a GPU every test skips (fails with REVBENCH_REQUIRE_GPU=1), as in test_cuda.c.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <revnet/activation.h>
#include <revnet/batchnorm.h>
#include <revnet/context.h>
#include <revnet/pool.h>
#include "cuda_compare.h"
#include "cuda_fixture.h"
#include "ref_ops.h"

/*
 * Statistics and parameter gradients: both backends widen to double and sum in double, so they
 * differ by the order of double additions (~n 1.1e-16 of the terms' magnitude, 2000 x 65536 x
 * 1.1e-16 = 1.4e-8 absolute on the mean's sum, 2e-13 on the mean) before one rounding to float:
 * an ulp or two of the result. 1e-6 of max(|cpu|, 1). Float partial sums (16 values of
 * magnitude 2000 per thread, then a float tree over 256 threads) round at ulp(32000) = 0.004 and
 * above and lose ~1e-4 of the mean and ~1e-3 of d_beta's ~150 here: they fail this by far.
 */
#define BN_STATS_TOL 1e-6
/* y and d_x: float expressions of the statistics (test_cuda.c's BN_TOL). */
#define BN_TOL 1e-5

TestSuite(cuda_numerics, .init = cuda_fixture_setup, .fini = cuda_fixture_teardown,
          .timeout = 300);

/* x = +-1000 by element parity plus U(-1, 1) noise: every thread of the GPU's reduction sees
 * one parity, so its partial sums are large and of one sign, and the channel's sum cancels. */
static float *alternating(size_t n, uint64_t seed)
{
    float *x = uniform(n, seed, -1, 1);
    for (size_t i = 0; i < n; i++) x[i] += (i & 1) ? -1000.0f : 1000.0f;
    return x;
}

Test(cuda_numerics, batchnorm_cancellation)
{
    NEED_GPU();
    /* 65536 values per channel: several blocks per channel on the GPU. */
    const int N = 64, C = 2, HW = 1024;
    size_t n = (size_t)N * C * HW;
    float *x = alternating(n, 1), *y = ref_alloc(n);
    float gamma[2] = { 1.5f, 0.75f }, beta[2] = { 0.25f, -0.5f };
    float rm[2] = { 0.1f, -0.2f }, rv[2] = { 1.0f, 2.0f }, sm[2], si[2];
    float *gx = dev(gpu, x, n), *gy = dev(gpu, NULL, n), *gg = dev(gpu, gamma, C);
    float *gb = dev(gpu, beta, C), *grm = dev(gpu, rm, C), *grv = dev(gpu, rv, C);
    float *gsm = dev(gpu, NULL, C), *gsi = dev(gpu, NULL, C);
    OK(cpu, rv_bn_forward(cpu, y, sm, si, rm, rv, x, gamma, beta, N, C, HW, RV_BN_TRAIN));
    OK(gpu, rv_bn_forward(gpu, gy, gsm, gsi, grm, grv, gx, gg, gb, N, C, HW, RV_BN_TRAIN));
    expect_dev_close(gpu, "cancelling bn: save_mean", gsm, sm, C, BN_STATS_TOL);
    expect_dev_close(gpu, "cancelling bn: run_mean", grm, rm, C, BN_STATS_TOL);
    /* invstd ~ 1e-3 and the variance ~ 1e6: compare each relative to itself. */
    float *hsi = host(gpu, gsi, C), *hrv = host(gpu, grv, C);
    for (int c = 0; c < C; c++) {
        cr_expect(fabs((double)hsi[c] - si[c]) <= BN_STATS_TOL * fabs((double)si[c]),
                  "save_invstd[%d]: gpu %.9g cpu %.9g", c, (double)hsi[c], (double)si[c]);
        cr_expect(fabs((double)hrv[c] - rv[c]) <= BN_STATS_TOL * fabs((double)rv[c]),
                  "run_var[%d]: gpu %.9g cpu %.9g", c, (double)hrv[c], (double)rv[c]);
    }
    expect_dev_close(gpu, "cancelling bn: y", gy, y, n, BN_TOL);

    /* Backward with a cancelling d_y: d_beta = sum d_y ~ the noise's sum. */
    float *dy = alternating(n, 2), *dx = ref_alloc(n);
    float dg[2] = { 0.5f, -0.5f }, db[2] = { 0.25f, 0.125f };
    float *gdy = dev(gpu, dy, n), *gdx = dev(gpu, NULL, n), *gdg = dev(gpu, dg, C);
    float *gdb = dev(gpu, db, C);
    OK(cpu, rv_bn_backward(cpu, dx, dg, db, dy, x, sm, si, gamma, N, C, HW, 0.0f));
    OK(gpu, rv_bn_backward(gpu, gdx, gdg, gdb, gdy, gx, gsm, gsi, gg, N, C, HW, 0.0f));
    cr_log_info("cancelling bn: cpu mean %.9g %.9g, d_beta %.9g %.9g", (double)sm[0],
                (double)sm[1], (double)db[0], (double)db[1]);
    expect_dev_close(gpu, "cancelling bn: d_beta", gdb, db, C, BN_STATS_TOL);
    expect_dev_close(gpu, "cancelling bn: d_gamma", gdg, dg, C, BN_STATS_TOL);
    expect_dev_close(gpu, "cancelling bn: d_x", gdx, dx, n, BN_TOL);

    float *gbufs[] = { gx, gy, gg, gb, grm, grv, gsm, gsi, gdy, gdx, gdg, gdb };
    for (size_t i = 0; i < sizeof gbufs / sizeof gbufs[0]; i++) rv_ctx_free(gpu, gbufs[i]);
    free(x), free(y), free(dy), free(dx), free(hsi), free(hrv);
}

/* Expects the n floats of device buffer d (context gpu) to equal want[0..n). */
static void expect_device_equals(const char *what, const float *d, const float *want, size_t n)
{
    float *h = host(gpu, d, n);
    for (size_t i = 0; i < n; i++)
        if (h[i] != want[i]) {
            cr_expect(0, "%s: element %zu is %g, want %g", what, i, (double)h[i],
                      (double)want[i]);
            break;
        }
    free(h);
}

Test(cuda_numerics, indices_past_2_31)
{
    NEED_GPU();
    /* chpad 1 -> 2 channels of 1024 pixels over 2^20 + 1 images: the output has 2^31 + 2048
     * elements (8 GiB), so its kernel and the elementwise ones on it take 64-bit indices; the
     * input (4 GiB) stays in 32 bits. */
    const int N = (1 << 20) + 1, C = 1, C_out = 2, HW = 1024, front = 1;
    const size_t n_in = (size_t)N * C * HW, n_out = (size_t)N * C_out * HW;
    const size_t need = (n_in + n_out) * sizeof(float) + ((size_t)1 << 30);
    size_t used = 0, total = 0;
    OK(gpu, rv_ctx_device_memory(gpu, &used, &total));
    if (total - used < need)
        cr_skip_test("needs %zu MiB of free device memory, %zu free", need >> 20,
                     (total - used) >> 20);
    cr_assert_gt(n_out, (size_t)INT32_MAX);
    float *gx = dev(gpu, NULL, n_in), *gy = dev(gpu, NULL, n_out);
    float pattern[1024], image[2048], zeros[2048] = { 0 };
    for (int i = 0; i < HW; i++) pattern[i] = (float)(i + 1);

    /* Input: 0.5 everywhere, the pattern in the last image. */
    OK(gpu, rv_fill(gpu, gx, 0.5f, n_in));
    OK(gpu, rv_ctx_upload(gpu, gx + n_in - HW, pattern, sizeof pattern));
    OK(gpu, rv_chpad_forward(gpu, gy, gx, N, C, C_out, HW, front));
    for (int i = 0; i < HW; i++) image[i] = 0.0f, image[HW + i] = 0.5f;
    expect_device_equals("chpad first image", gy, image, 2 * HW);
    memcpy(image + HW, pattern, sizeof pattern);
    expect_device_equals("chpad last image", gy + n_out - 2 * HW, image, 2 * HW);

    /* Back through chpad (input-sized, 32-bit) from the 64-bit-sized gradient. */
    OK(gpu, rv_chpad_backward(gpu, gx, gy, N, C, C_out, HW, front, 0.0f));
    expect_device_equals("chpad_backward last image", gx + n_in - HW, pattern, HW);

    /* Elementwise over all 2^31 + 2048 elements: fill, then ReLU in place. */
    OK(gpu, rv_fill(gpu, gy, -1.0f, n_out));
    for (int i = 0; i < 2 * HW; i++) image[i] = -1.0f;
    expect_device_equals("fill tail", gy + n_out - 2 * HW, image, 2 * HW);
    OK(gpu, rv_relu_forward(gpu, gy, gy, n_out));
    expect_device_equals("relu tail", gy + n_out - 2 * HW, zeros, 2 * HW);
    expect_device_equals("relu head", gy, zeros, 2 * HW);
    rv_ctx_free(gpu, gx);
    rv_ctx_free(gpu, gy);
}
