/*
 * context.c: the context (backend table + state, threads, error message, dry-run flag,
 * allocation-failure injection) and the loading of the CUDA plugin.
 *
 * The CUDA backend lives in librevnet_cuda.so, loaded with dlopen from the directory that
 * holds librevnet.so (or from $REVBENCH_CUDA_PLUGIN) the first time a CUDA context is created,
 * so CPU-only runs never touch the CUDA libraries.
 */
#define _GNU_SOURCE
#include <revnet/context.h>
#include "core/backend.h"
#include "core/dispatch.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rv_ctx {
    const rv_backend *backend;
    void *backend_state;
    rv_ctx_options opt;
    int dry_run;
    long alloc_fail_countdown; /* 0: off; n: the nth allocation from now fails */
    rv_profile_state profile;  /* per-op timing (profile.h), off until asked for */
    char message[512];
};

static const char *const DEVICE_NAMES[RV_DEVICE_N + 1] = { RV_DEVICE_NAME_CPU,
                                                            RV_DEVICE_NAME_CUDA, NULL };
static const char *const CPU_BACKEND_NAMES[RV_CPU_BACKEND_N + 1] = { RV_CPU_BACKEND_NAME_FAST,
                                                                     RV_CPU_BACKEND_NAME_REF,
                                                                     NULL };

const char *const *rv_device_names(void) { return DEVICE_NAMES; }

const char *rv_device_name(rv_device d)
{
    return (unsigned)d < RV_DEVICE_N ? DEVICE_NAMES[d] : "unknown";
}

rv_ctx_options rv_ctx_default_options(void)
{
    rv_ctx_options o = { RV_DEVICE_CPU, 0, 0, 0, RV_CPU_FAST };
    const char *env = getenv("REVBENCH_BACKEND");
    if (env && rv_cpu_backend_parse(env) >= 0) o.cpu_backend = (rv_cpu_backend)rv_cpu_backend_parse(env);
    return o;
}

const char *const *rv_cpu_backend_names(void) { return CPU_BACKEND_NAMES; }

int rv_cpu_backend_parse(const char *name)
{
    for (int b = 0; name && b < RV_CPU_BACKEND_N; b++)
        if (strcmp(name, CPU_BACKEND_NAMES[b]) == 0) return b;
    return -1;
}

const char *rv_cpu_backend_name(rv_cpu_backend b)
{
    return CPU_BACKEND_NAMES[b == RV_CPU_REF ? RV_CPU_REF : RV_CPU_FAST];
}

/* Name of the symbol the plugin exports; it returns the backend table. */
#define RV_CUDA_ENTRY "rv_backend_cuda_plugin_entry"

static const rv_backend *load_cuda_plugin(char *msg, size_t msg_len)
{
    static const rv_backend *cached;
    if (cached) return cached;

    char path[4096];
    const char *env = getenv("REVBENCH_CUDA_PLUGIN");
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        Dl_info info;
        if (!dladdr((void *)&rv_ctx_create, &info) || !info.dli_fname) {
            snprintf(msg, msg_len, "cannot locate librevnet to find the CUDA plugin");
            return NULL;
        }
        snprintf(path, sizeof path, "%s", info.dli_fname);
        char *slash = strrchr(path, '/');
        size_t dir_len = slash ? (size_t)(slash - path + 1) : 0;
        snprintf(path + dir_len, sizeof path - dir_len, "librevnet_cuda.so");
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(msg, msg_len,
                 "the CUDA backend is not available (%s); build on a machine with the CUDA "
                 "toolkit and cuDNN, or use --device " RV_DEVICE_NAME_CPU, dlerror());
        return NULL;
    }
    const rv_backend *(*entry)(void) = (const rv_backend *(*)(void))dlsym(h, RV_CUDA_ENTRY);
    if (!entry) {
        snprintf(msg, msg_len, "%s has no %s", path, RV_CUDA_ENTRY);
        dlclose(h);
        return NULL;
    }
    cached = entry();
    return cached;
}

const rv_backend *rv_backend_cuda(void)
{
    char msg[256];
    return load_cuda_plugin(msg, sizeof msg);
}

rv_status rv_ctx_create(rv_ctx **out, const rv_ctx_options *opt, char *msg, size_t msg_len)
{
    char scratch[512];
    if (!msg || msg_len == 0) {
        msg = scratch;
        msg_len = sizeof scratch;
    }
    msg[0] = '\0';
    if (!out) {
        snprintf(msg, msg_len, "rv_ctx_create: out is NULL");
        return RV_ERR_ARG;
    }
    *out = NULL;
    rv_ctx_options o = opt ? *opt : rv_ctx_default_options();

    const rv_backend *be = NULL;
    if (o.device == RV_DEVICE_CPU) {
        if (o.cpu_backend != RV_CPU_FAST && o.cpu_backend != RV_CPU_REF) {
            snprintf(msg, msg_len, "unknown CPU backend %d (" RV_CPU_BACKEND_NAME_FAST " or "
                     RV_CPU_BACKEND_NAME_REF ")", (int)o.cpu_backend);
            return RV_ERR_ARG;
        }
        be = o.cpu_backend == RV_CPU_REF ? rv_backend_cpu() : rv_backend_cpu_fast();
    } else if (o.device == RV_DEVICE_CUDA) {
        be = load_cuda_plugin(msg, msg_len);
        if (!be) return RV_ERR_UNSUPPORTED;
    } else {
        snprintf(msg, msg_len, "unknown device %d", (int)o.device);
        return RV_ERR_ARG;
    }

    rv_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(msg, msg_len, "out of memory creating a context");
        return RV_ERR_NOMEM;
    }
    ctx->backend = be;
    ctx->opt = o;
    rv_status s = be->init(ctx, &o, &ctx->backend_state);
    if (s != RV_OK) {
        snprintf(msg, msg_len, "%s", ctx->message[0] ? ctx->message : rv_status_name(s));
        free(ctx);
        return s;
    }
    *out = ctx;
    return RV_OK;
}

void rv_ctx_destroy(rv_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->backend && ctx->backend->destroy) ctx->backend->destroy(ctx->backend_state);
    free(ctx);
}

rv_status rv_ctx_fail(rv_ctx *ctx, rv_status s, const char *fmt, ...)
{
    if (!ctx) return s;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    va_end(ap);
    return s;
}

const char *rv_ctx_message(const rv_ctx *ctx) { return ctx ? ctx->message : ""; }
void rv_ctx_clear_error(rv_ctx *ctx) { if (ctx) ctx->message[0] = '\0'; }
const rv_backend *rv_ctx_backend(const rv_ctx *ctx) { return ctx->backend; }
void *rv_ctx_backend_state(const rv_ctx *ctx) { return ctx->backend_state; }
rv_device rv_ctx_device(const rv_ctx *ctx) { return ctx->opt.device; }
int rv_ctx_threads(const rv_ctx *ctx) { return ctx->opt.n_threads; }
int rv_ctx_allow_tf32(const rv_ctx *ctx) { return ctx->opt.allow_tf32; }
void rv_ctx_set_dry_run(rv_ctx *ctx, int on) { ctx->dry_run = on != 0; }
int rv_ctx_dry_run(const rv_ctx *ctx) { return ctx->dry_run; }
void rv_ctx_inject_alloc_failure(rv_ctx *ctx, long nth) { ctx->alloc_fail_countdown = nth; }
rv_profile_state *rv_ctx_profile_state(rv_ctx *ctx) { return &ctx->profile; }

rv_status rv_ctx_alloc(rv_ctx *ctx, void **out, size_t bytes)
{
    *out = NULL;
    if (ctx->alloc_fail_countdown > 0 && --ctx->alloc_fail_countdown == 0)
        return rv_ctx_fail(ctx, RV_ERR_NOMEM, "injected allocation failure (%zu bytes)", bytes);
    return ctx->backend->alloc(ctx, out, bytes);
}

void rv_ctx_free(rv_ctx *ctx, void *p)
{
    if (p) ctx->backend->free(ctx, p);
}

rv_status rv_ctx_upload(rv_ctx *ctx, void *dst, const void *src, size_t bytes)
{
    if (bytes == 0) return RV_OK;
    /* Through the dispatcher so that profiling times host-to-device copies too. */
    RV_DISPATCH(ctx, upload, dst, src, bytes);
}

rv_status rv_ctx_download(rv_ctx *ctx, void *dst, const void *src, size_t bytes)
{
    if (bytes == 0) return RV_OK;
    RV_DISPATCH(ctx, download, dst, src, bytes);
}

rv_status rv_ctx_sync(rv_ctx *ctx) { return ctx->backend->sync(ctx); }

rv_status rv_ctx_device_memory(rv_ctx *ctx, size_t *used_bytes, size_t *total_bytes)
{
    if (!used_bytes || !total_bytes)
        return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_ctx_device_memory: NULL output");
    if (!ctx->backend->device_memory)
        return rv_ctx_fail(ctx, RV_ERR_UNSUPPORTED, "the %s backend has no device memory to "
                           "report", ctx->backend->name);
    return ctx->backend->device_memory(ctx, used_bytes, total_bytes);
}

const char *rv_ctx_describe(const rv_ctx *ctx)
{
    return ctx->backend->describe ? ctx->backend->describe(ctx->backend_state) : ctx->backend->name;
}
