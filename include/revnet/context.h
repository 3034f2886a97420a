/*
 * context.h: the opaque context every op receives.
 *
 * A context owns: the backend (a table of function pointers, see backend.h) and its state, the
 * thread count, the last error message, a dry-run flag used by the memory planner (ops return
 * RV_OK without touching memory while a plan is being recorded), and a test hook that makes the
 * Nth backend allocation fail.
 */
#ifndef RV_CONTEXT_H
#define RV_CONTEXT_H

#include <stddef.h>
#include "status.h"

typedef struct rv_ctx rv_ctx;
typedef struct rv_backend rv_backend;

typedef enum { RV_DEVICE_CPU = 0, RV_DEVICE_CUDA = 1, RV_DEVICE_N } rv_device;

/* The devices' names: the words the command line, the experiment files and the results
 * database use for a device. */
#define RV_DEVICE_NAME_CPU "cpu"
#define RV_DEVICE_NAME_CUDA "cuda"
/* The CPU backends' names (rv_cpu_backend): the words of --backend and REVBENCH_BACKEND. */
#define RV_CPU_BACKEND_NAME_FAST "fast"
#define RV_CPU_BACKEND_NAME_REF "ref"
/* The backends' names (a backend table's name, `revbench --version`): the reference CPU
 * backend and the CUDA one are named after their device, the fast CPU backend after its
 * device and its --backend word ("cpu-fast"). */
#define RV_BACKEND_NAME_CPU_REF RV_DEVICE_NAME_CPU
#define RV_BACKEND_NAME_CPU_FAST RV_DEVICE_NAME_CPU "-" RV_CPU_BACKEND_NAME_FAST
#define RV_BACKEND_NAME_CUDA RV_DEVICE_NAME_CUDA

/* The devices' names, indexed by rv_device and NULL-terminated. */
const char *const *rv_device_names(void);
/* The name of d, or "unknown". */
const char *rv_device_name(rv_device d);

/* Which CPU backend serves RV_DEVICE_CPU: the fast one (oneDNN convolutions, channel-blocked
 * activations, fused passes; lib/backends/cpu_fast) or the reference (im2col + OpenBLAS, plain
 * NCHW; lib/backends/cpu_ref), which every other backend is tested against. */
typedef enum { RV_CPU_FAST = 0, RV_CPU_REF = 1, RV_CPU_BACKEND_N } rv_cpu_backend;

typedef struct {
    rv_device device;   /* which backend to use */
    int n_threads;      /* CPU threads for BLAS and loops; 0 = leave the library default */
    int allow_tf32;     /* CUDA only: let cuDNN/cuBLAS use TF32 tensor-core math */
    int device_index;   /* CUDA only: which GPU */
    rv_cpu_backend cpu_backend; /* CPU only: fast (default) or ref */
} rv_ctx_options;

/* Default options: CPU, library-default threads, no TF32, GPU 0, the fast CPU backend unless
 * the environment says REVBENCH_BACKEND=ref (so that a whole test binary or a script can be
 * run on the reference backend without code changes). */
rv_ctx_options rv_ctx_default_options(void);

/* The CPU backends' names, indexed by rv_cpu_backend and NULL-terminated. */
const char *const *rv_cpu_backend_names(void);
/* One of those names to an rv_cpu_backend; -1 for anything else. */
int rv_cpu_backend_parse(const char *name);
/* The name of b; the fast backend's for any value but RV_CPU_REF. */
const char *rv_cpu_backend_name(rv_cpu_backend b);

/*
 * Creates a context. On failure *out is NULL and, when msg is non-NULL, a reason is written
 * into msg (at most msg_len bytes), because there is no context yet to hold it.
 * RV_ERR_UNSUPPORTED when the CUDA backend was not built or no GPU is present.
 */
rv_status rv_ctx_create(rv_ctx **out, const rv_ctx_options *opt, char *msg, size_t msg_len);
void rv_ctx_destroy(rv_ctx *ctx);

/* Records a failure: formats the message onto the context and returns s, so callers can write
 * `return rv_ctx_fail(ctx, RV_ERR_SHAPE, "conv: %d != %d", a, b);`. */
rv_status rv_ctx_fail(rv_ctx *ctx, rv_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The message of the last failure ("" if none). */
const char *rv_ctx_message(const rv_ctx *ctx);
void rv_ctx_clear_error(rv_ctx *ctx);

const rv_backend *rv_ctx_backend(const rv_ctx *ctx);
void *rv_ctx_backend_state(const rv_ctx *ctx);
rv_device rv_ctx_device(const rv_ctx *ctx);
int rv_ctx_threads(const rv_ctx *ctx);
int rv_ctx_allow_tf32(const rv_ctx *ctx);

/* Dry run: while set, every op validates its arguments and returns RV_OK without reading or
 * writing any buffer. The memory planner sets it while it records a step. */
void rv_ctx_set_dry_run(rv_ctx *ctx, int on);
int rv_ctx_dry_run(const rv_ctx *ctx);

/* Test hook: the nth call (1-based) to rv_ctx_alloc from now on fails with RV_ERR_NOMEM;
 * 0 disables injection. */
void rv_ctx_inject_alloc_failure(rv_ctx *ctx, long nth);

/* Device memory through the backend (host memory on the CPU backend). Honors the injection
 * hook. Free accepts NULL. */
rv_status rv_ctx_alloc(rv_ctx *ctx, void **out, size_t bytes);
void rv_ctx_free(rv_ctx *ctx, void *p);
/* Copies between host memory and backend memory; plain memcpy on the CPU. */
rv_status rv_ctx_upload(rv_ctx *ctx, void *dst_backend, const void *src_host, size_t bytes);
rv_status rv_ctx_download(rv_ctx *ctx, void *dst_host, const void *src_backend, size_t bytes);
/* Waits for queued device work (no-op on the CPU); timing code calls it before reading clocks. */
rv_status rv_ctx_sync(rv_ctx *ctx);
/* Device memory in use (by every process on the device, not just this one: the driver's
 * total minus free) and the device's total, so planned arena bytes can be compared with what
 * the device says. RV_ERR_UNSUPPORTED (with a message) on a backend without device memory
 * (the CPU). Both outputs are written only on RV_OK. */
rv_status rv_ctx_device_memory(rv_ctx *ctx, size_t *used_bytes, size_t *total_bytes);
/* One line naming the backend's libraries and versions (BLAS, cuDNN, GPU model) for run logs. */
const char *rv_ctx_describe(const rv_ctx *ctx);

#endif
