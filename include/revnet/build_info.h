/*
 * build_info.h: what this build of librevnet contains: its backends (with the ISA or the
 * CUDA/cuDNN versions they were built for) and the BLAS it runs with, for
 * `revbench --version` and for a user deciding which --device to ask for.
 */
#ifndef RV_BUILD_INFO_H
#define RV_BUILD_INFO_H

typedef struct {
    const char *name;     /* RV_BACKEND_NAME_CPU_REF, _CPU_FAST, _CUDA (context.h) */
    const char *what;     /* one line: what the backend is */
    int built;            /* 1 when this build has it */
    char detail[256];     /* built: versions or ISA; not built: why not */
} rv_backend_info;

/* Fills out[0..max) with one entry per backend revbench knows (built or not), in a fixed
 * order, and returns the number of entries filled. */
int rv_build_backends(rv_backend_info *out, int max);

/* The BLAS library's own description (OpenBLAS: version, build options, the kernel core it
 * chose for this CPU). */
const char *rv_build_blas(void);

#endif
