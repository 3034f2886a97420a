/* model_cli.c: see model_cli.h. */
#include "commands/model_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exit_status.h"
#include <revnet/data.h>
#include <revnet/rng.h>

void rb_cli_set_backend(int index)
{
    if (index >= 0) setenv("REVBENCH_BACKEND", rv_cpu_backend_name((rv_cpu_backend)index), 1);
}

rv_ctx *rb_cli_make_ctx(const char *cmd, rv_device device, int threads)
{
    rv_ctx_options o = rv_ctx_default_options();
    o.device = device;
    o.n_threads = threads;
    rv_ctx *ctx = NULL;
    char msg[512];
    if (rv_ctx_create(&ctx, &o, msg, sizeof msg) != RV_OK) {
        rb_cli_error(cmd, "%s", msg);
        return NULL;
    }
    return ctx;
}

int rb_model_session_open(rb_model_session *s, const char *cmd, rv_device device, int threads)
{
    *s = (rb_model_session){ .ctx = rb_cli_make_ctx(cmd, device, threads) };
    return s->ctx ? 0 : -1;
}

void rb_model_session_close(rb_model_session *s)
{
    free(s->x);
    free(s->y);
    rv_model_destroy(s->model);
    rv_ctx_destroy(s->ctx);
}

int rb_cli_parse_arch(const char *cmd, const char *text, rv_arch *out)
{
    if (!text) {
        rb_cli_error(cmd, "--arch is required (e.g. revnet-38; see revbench %s --help)", cmd);
        return -1;
    }
    char msg[512];
    if (rv_arch_parse(text, out, msg, sizeof msg) != RV_OK) {
        rb_cli_error(cmd, "%s", msg);
        return -1;
    }
    return 0;
}

int rb_cli_parse_mode(const char *cmd, const char *text, const rv_arch *arch,
                      rv_backward_mode *out)
{
    if (!text) {
        *out = arch->reversible ? RV_BACKWARD_REVERSIBLE : RV_BACKWARD_STANDARD;
        return 0;
    }
    char msg[256];
    if (rv_backward_mode_parse(text, out, msg, sizeof msg) != RV_OK) {
        rb_cli_error(cmd, "%s", msg);
        return -1;
    }
    if (!rv_arch_supports(arch, *out)) {
        rb_cli_error(cmd, "%s does not support --mode %s (%s)", arch->name, text,
                     arch->reversible ? "RevNets: standard or reversible"
                                      : "ResNets: standard or checkpoint");
        return -1;
    }
    return 0;
}

int rb_model_args_parse(const char *cmd, void (*usage)(FILE *out), int argc, char **argv,
                        const rb_opt *opts, rb_model_args *a)
{
    int rc = rb_opts_parse(cmd, usage, argc, argv, opts, NULL, 0, NULL);
    if (rc != RB_OPTS_GO) return rc;
    rb_cli_set_backend(a->cpu_backend);
    if (rb_cli_parse_arch(cmd, a->arch_name, &a->arch) ||
        rb_cli_parse_mode(cmd, a->mode_name, &a->arch, &a->mode))
        return RB_EXIT_USAGE;
    return RB_OPTS_GO;
}

int rb_cli_random_batch(int batch, int size, int classes, uint64_t seed, float **x, int32_t **y)
{
    size_t n = (size_t)batch * 3 * size * size;
    *x = malloc(n * sizeof **x);
    *y = malloc((size_t)batch * sizeof **y);
    if (!*x || !*y) {
        free(*x);
        free(*y);
        *x = NULL; /* the caller frees what it holds on its way out */
        *y = NULL;
        return -1;
    }
    rv_rng_state rng;
    rv_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) (*x)[i] = (float)rv_rng_normal(&rng);
    for (int i = 0; i < batch; i++) (*y)[i] = (int32_t)rv_rng_below(&rng, (uint32_t)classes);
    return 0;
}

/* Joins a NULL-terminated list with ", " into buf (truncated at len). */
static const char *join(char *buf, size_t len, const char *const *names)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; names[i] && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
    return buf;
}

const char *rb_arch_help(void)
{
    static char buf[512];
    if (!buf[0]) {
        char names[384];
        snprintf(buf, sizeof buf, "%s, or a family: %s", join(names, sizeof names, rv_arch_names()),
                 rv_arch_families_help());
    }
    return buf;
}

const char *rb_dataset_help(void)
{
    static char buf[128];
    return buf[0] ? buf : join(buf, sizeof buf, rv_data_names());
}

void rb_help_option(FILE *out, const char *lead, const char *text)
{
    const int indent = (int)strlen(lead), width = 80;
    int col = fprintf(out, "%s", lead);
    while (*text) {
        size_t word = strcspn(text, " ");
        if (col > indent && col + 1 + (int)word > width) col = fprintf(out, "\n%*s", indent, "") - 1;
        else if (col > indent) col += fprintf(out, " ");
        col += fprintf(out, "%.*s", (int)word, text);
        text += word;
        text += strspn(text, " ");
    }
    fputc('\n', out);
}
