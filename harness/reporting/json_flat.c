/*
 * json_flat.c: a small recursive-descent JSON reader that flattens one object into dotted
 * paths (json_flat.h). Enough for the harness's own --json outputs; not a general library
 * (no \u escapes beyond ASCII, depth limited to 16).
 *
 * Owns: the items array and the strings of an rb_json_flat.
 */
#include "reporting/json_flat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RB_JSON_MAX_DEPTH 16

typedef struct {
    const char *s, *p;
    rb_json_flat *out;
    char *err;
    size_t err_len;
} reader;

static int fail(reader *r, const char *why)
{
    snprintf(r->err, r->err_len, "JSON: %s at byte %ld", why, (long)(r->p - r->s));
    return -1;
}

static void skip_ws(reader *r)
{
    while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r') r->p++;
}

static int push(reader *r, const char *path, int is_number, double v, char *text)
{
    if (r->out->n % 32 == 0) {
        rb_json_item *n = realloc(r->out->items, (size_t)(r->out->n + 32) * sizeof *n);
        if (!n) {
            free(text);
            return fail(r, "out of memory");
        }
        r->out->items = n;
    }
    rb_json_item *it = &r->out->items[r->out->n++];
    snprintf(it->path, sizeof it->path, "%s", path);
    it->is_number = is_number;
    it->number = v;
    it->text = text;
    return 0;
}

/* Reads a string at r->p (which is '"') into a malloc'ed buffer. */
static int read_string(reader *r, char **out)
{
    r->p++;
    size_t cap = 32, len = 0;
    char *buf = malloc(cap);
    if (!buf) return fail(r, "out of memory");
    while (*r->p && *r->p != '"') {
        char c = *r->p++;
        if (c == '\\') {
            char e = *r->p++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u':
                /* Only the escapes our own writer emits (control characters). */
                if (strlen(r->p) < 4) {
                    free(buf);
                    return fail(r, "truncated \\u escape");
                }
                c = (char)strtol((char[5]){ r->p[0], r->p[1], r->p[2], r->p[3], 0 }, NULL, 16);
                r->p += 4;
                break;
            case '"': case '\\': case '/': c = e; break;
            default: free(buf); return fail(r, "bad escape");
            }
        }
        if (len + 2 > cap) {
            char *n = realloc(buf, cap *= 2);
            if (!n) {
                free(buf);
                return fail(r, "out of memory");
            }
            buf = n;
        }
        buf[len++] = c;
    }
    if (*r->p != '"') {
        free(buf);
        return fail(r, "unterminated string");
    }
    r->p++;
    buf[len] = '\0';
    *out = buf;
    return 0;
}

static int read_value(reader *r, const char *path, int depth);

static int read_container(reader *r, const char *path, int depth, int object)
{
    if (depth > RB_JSON_MAX_DEPTH) return fail(r, "nested too deeply");
    r->p++;
    skip_ws(r);
    char close = object ? '}' : ']';
    if (*r->p == close) {
        r->p++;
        return 0;
    }
    for (int index = 0;; index++) {
        char child[128];
        skip_ws(r);
        if (object) {
            if (*r->p != '"') return fail(r, "expected a key");
            char *key = NULL;
            if (read_string(r, &key)) return -1;
            snprintf(child, sizeof child, "%s%s%s", path, *path ? "." : "", key);
            free(key);
            skip_ws(r);
            if (*r->p++ != ':') return fail(r, "expected ':'");
        } else {
            snprintf(child, sizeof child, "%s%s%d", path, *path ? "." : "", index);
        }
        if (read_value(r, child, depth + 1)) return -1;
        skip_ws(r);
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p == close) {
            r->p++;
            return 0;
        }
        return fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int read_value(reader *r, const char *path, int depth)
{
    skip_ws(r);
    char c = *r->p;
    if (c == '{') return read_container(r, path, depth, 1);
    if (c == '[') return read_container(r, path, depth, 0);
    if (c == '"') {
        char *text = NULL;
        if (read_string(r, &text)) return -1;
        return push(r, path, 0, 0, text);
    }
    if (!strncmp(r->p, "true", 4) || !strncmp(r->p, "false", 5)) {
        int t = c == 't';
        r->p += t ? 4 : 5;
        return push(r, path, 1, t, NULL);
    }
    if (!strncmp(r->p, "null", 4)) {
        r->p += 4;
        return 0;
    }
    char *end;
    double v = strtod(r->p, &end);
    if (end == r->p) return fail(r, "unexpected character");
    r->p = end;
    return push(r, path, 1, v, NULL);
}

int rb_json_flat_parse(rb_json_flat *out, const char *text, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    reader r = { .s = text, .p = text, .out = out, .err = err, .err_len = err_len };
    skip_ws(&r);
    if (*r.p != '{') {
        fail(&r, "expected an object");
        goto fail;
    }
    if (read_container(&r, "", 0, 1)) goto fail;
    skip_ws(&r);
    if (*r.p) {
        fail(&r, "trailing text after the object");
        goto fail;
    }
    return 0;
fail:
    rb_json_flat_free(out);
    return -1;
}

void rb_json_flat_free(rb_json_flat *f)
{
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->items[i].text);
    free(f->items);
    f->items = NULL;
    f->n = 0;
}

const rb_json_item *rb_json_flat_get(const rb_json_flat *f, const char *path)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->items[i].path, path) == 0) return &f->items[i];
    return NULL;
}

double rb_json_flat_num(const rb_json_flat *f, const char *path, double fallback)
{
    const rb_json_item *it = rb_json_flat_get(f, path);
    return it && it->is_number ? it->number : fallback;
}
