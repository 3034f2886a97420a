/*
 * arch.c: architecture names -> rv_arch, and backward-mode names.
 *
 * The table reproduces PAPER.md's architecture table; the parameter counts it implies are
 * checked in tests/test_model.c. Stem widths: ResNets 16 (CIFAR) / 64 (ImageNet); RevNets
 * twice that (the stem output is split into two halves).
 */
#include <revnet/model.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int reversible, block, imagenet, n_stages;
    int units[4], widths[4];
    int stem_width;
} arch_row;

static const arch_row ARCHS[] = {
    { "resnet-32", 0, RV_BLOCK_BASIC, 0, 3, { 5, 5, 5 }, { 16, 32, 64 }, 16 },
    { "revnet-38", 1, RV_BLOCK_BASIC, 0, 3, { 3, 3, 3 }, { 32, 64, 112 }, 32 },
    { "resnet-110", 0, RV_BLOCK_BASIC, 0, 3, { 18, 18, 18 }, { 16, 32, 64 }, 16 },
    { "revnet-110", 1, RV_BLOCK_BASIC, 0, 3, { 9, 9, 9 }, { 32, 64, 128 }, 32 },
    { "resnet-164", 0, RV_BLOCK_BOTTLENECK, 0, 3, { 18, 18, 18 }, { 64, 128, 256 }, 16 },
    { "revnet-164", 1, RV_BLOCK_BOTTLENECK, 0, 3, { 9, 9, 9 }, { 128, 256, 512 }, 32 },
    { "resnet-101", 0, RV_BLOCK_BOTTLENECK, 1, 4, { 3, 4, 23, 3 }, { 256, 512, 1024, 2048 }, 64 },
    { "revnet-104", 1, RV_BLOCK_BOTTLENECK, 1, 4, { 2, 2, 11, 2 }, { 512, 1024, 2048, 3328 }, 128 },
};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])

/* Depth families: "<prefix><N>" with N units in each of the three CIFAR stages. */
static const arch_row FAMILIES[] = {
    { "resnet-basic-", 0, RV_BLOCK_BASIC, 0, 3, { 0 }, { 16, 32, 64 }, 16 },
    { "revnet-basic-", 1, RV_BLOCK_BASIC, 0, 3, { 0 }, { 32, 64, 128 }, 32 },
    { "resnet-bottleneck-", 0, RV_BLOCK_BOTTLENECK, 0, 3, { 0 }, { 64, 128, 256 }, 16 },
    { "revnet-bottleneck-", 1, RV_BLOCK_BOTTLENECK, 0, 3, { 0 }, { 128, 256, 512 }, 32 },
};
#define N_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

/* Families deeper than this are refused: 2,000 units per stage is a 12,000-layer RevNet,
 * far past anything the memory-depth sweep needs. */
#define RV_MAX_UNITS_PER_STAGE 2000

static const char *const NAMES[] = { "resnet-32", "revnet-38", "resnet-110", "revnet-110",
                                     "resnet-164", "revnet-164", "resnet-101", "revnet-104",
                                     NULL };

const char *const *rv_arch_names(void) { return NAMES; }

const char *rv_arch_families_help(void)
{
    return "resnet-basic-N, revnet-basic-N, resnet-bottleneck-N, revnet-bottleneck-N "
           "(N units per stage, 1..2000)";
}

static void fill(rv_arch *out, const arch_row *r, const char *name, int units_all)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->reversible = r->reversible;
    out->block = (rv_block_kind)r->block;
    out->imagenet = r->imagenet;
    out->n_stages = r->n_stages;
    for (int s = 0; s < r->n_stages; s++) {
        out->units[s] = units_all > 0 ? units_all : r->units[s];
        out->widths[s] = r->widths[s];
    }
    out->stem_width = r->stem_width;
    out->input_size = r->imagenet ? 224 : 32;
}

/* Writes a message into msg (when there is one) and returns s. */
static rv_status parse_fail(char *msg, size_t msg_len, rv_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static rv_status parse_fail(char *msg, size_t msg_len, rv_status s, const char *fmt, ...)
{
    if (msg && msg_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msg_len, fmt, ap);
        va_end(ap);
    }
    return s;
}

rv_status rv_arch_parse(const char *name, rv_arch *out, char *msg, size_t msg_len)
{
    if (!name || !out) return parse_fail(msg, msg_len, RV_ERR_ARG, "architecture name is missing");
    for (size_t i = 0; i < N_ARCHS; i++) {
        if (strcmp(name, ARCHS[i].name) == 0) {
            fill(out, &ARCHS[i], name, 0);
            return RV_OK;
        }
    }
    for (size_t i = 0; i < N_FAMILIES; i++) {
        size_t len = strlen(FAMILIES[i].name);
        if (strncmp(name, FAMILIES[i].name, len) != 0) continue;
        const char *digits = name + len;
        char *end;
        long n = strtol(digits, &end, 10);
        if (*digits < '1' || *digits > '9' || *end || n < 1 || n > RV_MAX_UNITS_PER_STAGE) break;
        fill(out, &FAMILIES[i], name, (int)n);
        return RV_OK;
    }
    char names[256] = "";
    for (int i = 0; NAMES[i]; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s, ", NAMES[i]);
    return parse_fail(msg, msg_len, RV_ERR_ARG, "unknown architecture '%s'; valid: %sor a family: %s",
                      name, names, rv_arch_families_help());
}

int rv_arch_supports(const rv_arch *a, rv_backward_mode mode)
{
    switch (mode) {
    case RV_BACKWARD_STANDARD: return 1;
    case RV_BACKWARD_REVERSIBLE: return a->reversible;
    case RV_BACKWARD_CHECKPOINT: return !a->reversible;
    default: return 0;
    }
}

static const char *const MODE_NAMES[] = { "standard", "reversible", "checkpoint" };

const char *rv_backward_mode_name(rv_backward_mode m)
{
    return (unsigned)m < RV_BACKWARD_N_MODES ? MODE_NAMES[m] : "unknown";
}

rv_status rv_backward_mode_parse(const char *name, rv_backward_mode *out, char *msg,
                                 size_t msg_len)
{
    for (int i = 0; i < RV_BACKWARD_N_MODES; i++) {
        if (name && strcmp(name, MODE_NAMES[i]) == 0) {
            *out = (rv_backward_mode)i;
            return RV_OK;
        }
    }
    return parse_fail(msg, msg_len, RV_ERR_ARG,
                      "unknown backward mode '%s'; valid: standard, reversible (RevNets), "
                      "checkpoint (ResNets)", name ? name : "");
}
