/* json.c: the JSON object writer (json.h). */
#include "common/json.h"

#include <math.h>

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

/* Opens a nested object or array (c is '{' or '['); close_nested ends it. */
static void open_nested(rb_json *j, const char *key, char c)
{
    json_key(j, key);
    fputc(c, j->out);
    j->need_comma = 0;
}

static void close_nested(rb_json *j, char c)
{
    fputc(c, j->out);
    j->need_comma = 1;
}

void rb_json_object_begin(rb_json *j, const char *key) { open_nested(j, key, '{'); }
void rb_json_object_end(rb_json *j) { close_nested(j, '}'); }
void rb_json_array_begin(rb_json *j, const char *key) { open_nested(j, key, '['); }
void rb_json_array_end(rb_json *j) { close_nested(j, ']'); }

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
