/*
 * build_info.c: the backends of this build and the BLAS it runs with (build_info.h).
 *
 * CMake passes what it found at configure time as definitions on this file only:
 *   RV_BUILT_CUDA="CUDA 13.0.48, cuDNN 9.13.0"  when the CUDA plugin is built (lib/CMakeLists.txt)
 *   RV_HAVE_CPU_FAST                            when the fast CPU backend is compiled in; it
 *       then provides rv_cpu_fast_isa(), the instruction set its kernels run with on this
 *       CPU (e.g. "avx512"), which this file reports.
 * The CUDA entry says what the plugin was built against; whether a GPU is present is a
 * run-time question that `revbench mem --device cuda` answers.
 *
 * Owns: nothing (static strings).
 */
#include <revnet/build_info.h>
#include <revnet/context.h>

#include <stdio.h>
#include <string.h>

extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

#ifdef RV_HAVE_CPU_FAST
const char *rv_cpu_fast_isa(void);
#endif

const char *rv_build_blas(void)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s; core %s", openblas_get_config(), openblas_get_corename());
    return buf;
}

int rv_build_backends(rv_backend_info *out, int max)
{
    rv_backend_info all[3] = {
        { RV_BACKEND_NAME_CPU_REF, "CPU reference: im2col + OpenBLAS sgemm, OpenMP loops", 1,
          "" },
        { RV_BACKEND_NAME_CPU_FAST, "fast CPU backend (lib/backends/cpu_fast)", 0, "" },
        { RV_BACKEND_NAME_CUDA,
          "CUDA + cuDNN plugin (librevnet_cuda.so, loaded by --device " RV_DEVICE_NAME_CUDA ")",
          0, "" },
    };
    snprintf(all[0].detail, sizeof all[0].detail, "OpenBLAS core %s, generic x86-64 code",
             openblas_get_corename());
#ifdef RV_HAVE_CPU_FAST
    all[1].built = 1;
    snprintf(all[1].detail, sizeof all[1].detail, "ISA %s", rv_cpu_fast_isa());
#else
    snprintf(all[1].detail, sizeof all[1].detail, "not in this build");
#endif
#ifdef RV_BUILT_CUDA
    all[2].built = 1;
    snprintf(all[2].detail, sizeof all[2].detail, "built against %s", RV_BUILT_CUDA);
#else
    snprintf(all[2].detail, sizeof all[2].detail,
             "not built (CMake found no CUDA toolkit with cuDNN, or -DREVBENCH_CUDA=OFF)");
#endif
    int n = 0;
    for (; n < 3 && n < max; n++) out[n] = all[n];
    return n;
}
