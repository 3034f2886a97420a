/* cli.c: flag parsing, error messages and the JSON writer shared by the subcommands. */
#include "commands/cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

void rb_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "revbench %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int rb_cli_parse_long(const char *cmd, const char *flag, const char *text, long lo, long hi,
                      long *out)
{
    if (!text || !*text) {
        rb_cli_error(cmd, "%s needs a value", flag);
        return -1;
    }
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        rb_cli_error(cmd, "%s expects a whole number in [%ld, %ld], got '%s'", flag, lo, hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

int rb_cli_parse_double(const char *cmd, const char *flag, const char *text, double lo,
                        double hi, double *out)
{
    if (!text || !*text) {
        rb_cli_error(cmd, "%s needs a value", flag);
        return -1;
    }
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi) {
        rb_cli_error(cmd, "%s expects a number in [%g, %g], got '%s'", flag, lo, hi, text);
        return -1;
    }
    *out = v;
    return 0;
}

int rb_cli_parse_choice(const char *cmd, const char *flag, const char *text,
                        const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (text && strcmp(text, names[i]) == 0) return i;
    fprintf(stderr, "revbench %s: unknown %s '%s'; valid: ", cmd, flag, text ? text : "");
    for (int i = 0; names[i]; i++) fprintf(stderr, "%s%s", i ? ", " : "", names[i]);
    fputc('\n', stderr);
    return -1;
}

int rb_cli_bad_option(const char *cmd, int getopt_result, const char *arg,
                      const struct option *opts)
{
    if (getopt_result == ':') {
        rb_cli_error(cmd, "%s needs a value (see revbench %s --help)", arg, cmd);
        return RB_EXIT_USAGE;
    }
    fprintf(stderr, "revbench %s: unknown option '%s'; valid:", cmd, arg ? arg : "");
    for (int i = 0; opts[i].name; i++) fprintf(stderr, "%s --%s", i ? "," : "", opts[i].name);
    fputc('\n', stderr);
    return RB_EXIT_USAGE;
}

static void json_sep(rb_json *j)
{
    if (j->need_comma) fputc(',', j->out);
    j->need_comma = 1;
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c == '\n') fputs("\\n", out);
        else if (c == '\t') fputs("\\t", out);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

static void json_key(rb_json *j, const char *key)
{
    json_sep(j);
    if (key) {
        json_string(j->out, key);
        fputc(':', j->out);
    }
}

void rb_json_begin(rb_json *j, FILE *out)
{
    j->out = out;
    j->need_comma = 0;
    fputc('{', out);
}

void rb_json_end(rb_json *j)
{
    fputs("}\n", j->out);
    fflush(j->out);
}

void rb_json_object_begin(rb_json *j, const char *key)
{
    json_key(j, key);
    fputc('{', j->out);
    j->need_comma = 0;
}

void rb_json_object_end(rb_json *j)
{
    fputc('}', j->out);
    j->need_comma = 1;
}

void rb_json_array_begin(rb_json *j, const char *key)
{
    json_key(j, key);
    fputc('[', j->out);
    j->need_comma = 0;
}

void rb_json_array_end(rb_json *j)
{
    fputc(']', j->out);
    j->need_comma = 1;
}

void rb_json_str(rb_json *j, const char *key, const char *value)
{
    json_key(j, key);
    json_string(j->out, value ? value : "");
}

void rb_json_int(rb_json *j, const char *key, long long value)
{
    json_key(j, key);
    fprintf(j->out, "%lld", value);
}

void rb_json_num(rb_json *j, const char *key, double value)
{
    json_key(j, key);
    if (isfinite(value)) fprintf(j->out, "%.9g", value);
    else fputs("null", j->out);
}

void rb_json_bool(rb_json *j, const char *key, int value)
{
    json_key(j, key);
    fputs(value ? "true" : "false", j->out);
}

double rb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

size_t rb_max_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024; /* Linux reports kilobytes */
}
