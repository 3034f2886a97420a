/* options.c: see options.h. A hand-written loop rather than getopt_long: it keeps no global
 * state (a command may run several times in one process, as the tests do) and the table that
 * drives it also checks the values. */
#include "commands/options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/exit_status.h"

int rb_cli_parse_choice(const char *cmd, const char *what, const char *text,
                        const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (text && strcmp(text, names[i]) == 0) return i;
    fprintf(stderr, "revbench %s: unknown %s '%s'; valid: ", cmd, what, text ? text : "");
    for (int i = 0; names[i]; i++) fprintf(stderr, "%s%s", i ? ", " : "", names[i]);
    fputc('\n', stderr);
    return -1;
}

static void unknown_option(const char *cmd, const char *arg, const rb_opt *opts)
{
    fprintf(stderr, "revbench %s: unknown option '%s'; valid:", cmd, arg);
    for (int i = 0; opts[i].name; i++) fprintf(stderr, "%s --%s", i ? "," : "", opts[i].name);
    fprintf(stderr, "%s --help\n", opts[0].name ? "," : "");
}

/* Stores one option's value (text is NULL for a flag). Returns RB_EXIT_OK or RB_EXIT_USAGE
 * after a message naming the flag. */
static int store(const char *cmd, const rb_opt *o, const char *text)
{
    char *end;
    switch (o->kind) {
    case RB_OPT_FLAG: *(int *)o->dest = 1; return RB_EXIT_OK;
    case RB_OPT_TEXT:
        /* No text option means anything by "": an empty path would reach SQLite or mkdir as
         * a baffling error ("cannot switch  to WAL mode"). */
        if (!*text) {
            rb_cli_error(cmd, "--%s needs a non-empty value (see revbench %s --help)", o->name,
                         cmd);
            return RB_EXIT_USAGE;
        }
        *(const char **)o->dest = text;
        return RB_EXIT_OK;
    case RB_OPT_LONG: {
        errno = 0;
        long v = strtol(text, &end, 10);
        if (!*text || errno || *end || v < o->lo || v > o->hi) {
            rb_cli_error(cmd, "--%s expects a whole number in [%ld, %ld], got '%s'", o->name,
                         o->lo, o->hi, text);
            return RB_EXIT_USAGE;
        }
        *(long *)o->dest = v;
        return RB_EXIT_OK;
    }
    case RB_OPT_DOUBLE: {
        errno = 0;
        double v = strtod(text, &end);
        if (!*text || errno || *end || !isfinite(v) || v < o->dlo || v > o->dhi) {
            rb_cli_error(cmd, "--%s expects a number in [%g, %g], got '%s'", o->name, o->dlo,
                         o->dhi, text);
            return RB_EXIT_USAGE;
        }
        *(double *)o->dest = v;
        return RB_EXIT_OK;
    }
    case RB_OPT_CHOICE: {
        int i = rb_cli_parse_choice(cmd, o->what, text, o->names);
        if (i < 0) return RB_EXIT_USAGE;
        *(int *)o->dest = i;
        return RB_EXIT_OK;
    }
    }
    return RB_EXIT_USAGE;
}

int rb_opts_parse(const char *cmd, void (*usage)(FILE *out), int argc, char **argv,
                  const rb_opt *opts, const char **positional, int max_positional,
                  int *n_positional)
{
    int n_pos = 0, only_positional = 0;
    if (n_positional) *n_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (n_pos >= max_positional) {
                rb_cli_error(cmd, "unexpected argument '%s' (see revbench %s --help)", a, cmd);
                return RB_EXIT_USAGE;
            }
            positional[n_pos++] = a;
            if (n_positional) *n_positional = n_pos;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return RB_EXIT_OK;
        }
        /* "--name" or "--name=value". */
        const char *name = a[1] == '-' ? a + 2 : NULL;
        size_t len = name ? strcspn(name, "=") : 0;
        const rb_opt *o = NULL;
        for (int k = 0; name && opts[k].name && !o; k++)
            if (strlen(opts[k].name) == len && strncmp(opts[k].name, name, len) == 0)
                o = &opts[k];
        if (!o) {
            unknown_option(cmd, a, opts);
            return RB_EXIT_USAGE;
        }
        const char *value = name[len] == '=' ? name + len + 1 : NULL;
        if (o->kind == RB_OPT_FLAG && value) {
            rb_cli_error(cmd, "--%s takes no value (see revbench %s --help)", o->name, cmd);
            return RB_EXIT_USAGE;
        }
        if (o->kind != RB_OPT_FLAG && !value) {
            if (i + 1 >= argc) {
                rb_cli_error(cmd, "%s needs a value (see revbench %s --help)", a, cmd);
                return RB_EXIT_USAGE;
            }
            value = argv[++i];
        }
        if (store(cmd, o, value) != RB_EXIT_OK) return RB_EXIT_USAGE;
    }
    return RB_OPTS_GO;
}
