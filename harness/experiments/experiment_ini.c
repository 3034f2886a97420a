/*
 * experiment_ini.c: the first pass over an experiment file (experiment_ini.h). inih calls
 * kv_handler for every "key = value" line, which only records (section, key, value, line);
 * experiment.c then checks and applies them in file order, so every message can name the line
 * it is about. inih itself does not report line numbers to the handler in Debian's build, so
 * line_reader() counts the lines it hands over; it also notes each section header, so that a
 * section given twice is told apart from one long section.
 *
 * Cost: every byte of the file is copied a bounded number of times (continuation lines are
 * appended in amortized constant time per byte), and what no real experiment needs (a value
 * over RB_EXP_MAX_VALUE bytes, more than RB_EXP_MAX_KEYS keys) stops the reading at once, so a
 * hostile file costs time linear in the part read before the error.
 *
 * Owns: the list of an rb_exp_ini (each value and the array).
 */
#include "experiments/experiment_ini.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest value a file may give: 64 names of under 48 characters, or a 1023-character
 * description, with their separators, fit in 4 KiB; 16 KiB leaves room without letting a
 * runaway continuation grow. */
#define RB_EXP_MAX_VALUE 16384
/* Every section has fewer than 16 keys and each [matrix.LABEL] expands to at least one run
 * (RB_EXP_MAX_ENTRIES at most), so more keys than this cannot make a valid file. */
#define RB_EXP_MAX_KEYS (16 * RB_EXP_MAX_ENTRIES)

typedef struct {
    const char *text;         /* the text being read */
    const char *pos;
    int line;                 /* lines handed to inih so far = the line being parsed */
    int long_line;            /* first line longer than inih's buffer, 0 if none */
    int continuation;         /* the line just read starts with white space */
    int header_line;          /* the last line that starts with '[' (a section header) */
    rb_exp_ini *out;
    int cap_kvs;
    int oom;
    int stop_line;            /* a limit was passed on this line: read no further */
    const char *stop_why;     /* which limit */
} parse_state;

static char *line_reader(char *str, int num, void *stream)
{
    parse_state *ps = stream;
    if (!*ps->pos || ps->stop_line || ps->oom) return NULL;
    size_t n = strcspn(ps->pos, "\n");
    ps->line++;
    if (n + 2 > (size_t)num && !ps->long_line) ps->long_line = ps->line;
    size_t copy = n < (size_t)num - 2 ? n : (size_t)num - 2;
    memcpy(str, ps->pos, copy);
    ps->out->bytes_copied += copy;
    str[copy] = '\n';
    str[copy + 1] = '\0';
    ps->continuation = (ps->pos[0] == ' ' || ps->pos[0] == '\t');
    /* inih reads an unindented '[' line as a section header (or rejects it). */
    if (ps->pos[0] == '[') ps->header_line = ps->line;
    ps->pos += n + (ps->pos[n] == '\n');
    return str;
}

/* Stops the reading at the current line because a limit was passed. */
static int stop_reading(parse_state *ps, const char *why)
{
    ps->stop_line = ps->line;
    ps->stop_why = why;
    return 0;
}

static int kv_handler(void *user, const char *section, const char *name, const char *value)
{
    parse_state *ps = user;
    size_t vlen = strlen(value);
    if (vlen > RB_EXP_MAX_VALUE) return stop_reading(ps, "value");
    /* A continuation line (indented) extends the previous key's value, in place: appending
     * to a copy each time would cost time quadratic in the number of lines. */
    if (ps->continuation && ps->out->n_kvs > 0) {
        rb_exp_kv *last = &ps->out->kvs[ps->out->n_kvs - 1];
        if (strcmp(last->key, name) == 0 && strcmp(last->section, section) == 0) {
            size_t len = last->len + 1 + vlen;
            if (len > RB_EXP_MAX_VALUE) return stop_reading(ps, "value");
            if (len + 1 > last->cap) {
                size_t cap = 2 * (len + 1);
                char *v = realloc(last->value, cap);
                if (!v) {
                    ps->oom = 1;
                    return 0;
                }
                ps->out->bytes_copied += last->len; /* realloc may have moved it */
                last->value = v;
                last->cap = cap;
            }
            last->value[last->len] = ' ';
            memcpy(last->value + last->len + 1, value, vlen + 1);
            ps->out->bytes_copied += vlen;
            last->len = len;
            return 1;
        }
    }
    if (ps->out->n_kvs == RB_EXP_MAX_KEYS) return stop_reading(ps, "keys");
    if (ps->out->n_kvs == ps->cap_kvs) {
        int cap = ps->cap_kvs ? 2 * ps->cap_kvs : 32;
        rb_exp_kv *n = realloc(ps->out->kvs, (size_t)cap * sizeof *n);
        if (!n) {
            ps->oom = 1;
            return 0;
        }
        ps->out->kvs = n;
        ps->cap_kvs = cap;
    }
    rb_exp_kv *k = &ps->out->kvs[ps->out->n_kvs];
    snprintf(k->section, sizeof k->section, "%s", section);
    snprintf(k->key, sizeof k->key, "%s", name);
    k->value = strdup(value);
    k->len = vlen;
    k->cap = vlen + 1;
    ps->out->bytes_copied += vlen;
    k->line = ps->line;
    k->section_line = ps->header_line;
    /* An indented header that inih still takes for one (no key before it in its section)
     * was not seen by line_reader: the change of name starts the new instance. */
    if (ps->out->n_kvs > 0 && k->section_line == ps->out->kvs[ps->out->n_kvs - 1].section_line &&
        strcmp(section, ps->out->kvs[ps->out->n_kvs - 1].section))
        k->section_line = ps->line;
    if (!k->value) {
        ps->oom = 1;
        return 0;
    }
    ps->out->n_kvs++;
    return 1;
}

int rb_exp_ini_read(rb_exp_ini *ini, const char *text, int *line, char *why, size_t why_len)
{
    memset(ini, 0, sizeof *ini);
    parse_state ps = { .text = text, .pos = text, .out = ini };
    *line = 0;
    int rc = ini_parse_stream(line_reader, &ps, kv_handler, &ps);
    if (ps.oom || rc == -2) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    if (ps.stop_line && (!ps.long_line || ps.stop_line < ps.long_line) &&
        (rc <= 0 || ps.stop_line <= rc)) {
        *line = ps.stop_line;
        if (!strcmp(ps.stop_why, "value"))
            snprintf(why, why_len, "a value longer than %d characters: no list or "
                     "description is that long (a list holds at most %d items)",
                     RB_EXP_MAX_VALUE, RB_EXP_MAX_ITEMS);
        else
            snprintf(why, why_len, "more than %d keys: not an experiment file",
                     RB_EXP_MAX_KEYS);
        return -1;
    }
    if (ps.long_line && (rc == 0 || ps.long_line <= rc)) {
        *line = ps.long_line;
        snprintf(why, why_len, "line longer than %d characters (continue a long list on an "
                 "indented next line)", ini_max_line - 3);
        return -1;
    }
    if (rc > 0) {
        *line = rc;
        snprintf(why, why_len, "not a 'key = value' line, a '[section]' header or a comment");
        return -1;
    }
    return 0;
}

void rb_exp_ini_free(rb_exp_ini *ini)
{
    for (int i = 0; i < ini->n_kvs; i++) free(ini->kvs[i].value);
    free(ini->kvs);
    ini->kvs = NULL;
    ini->n_kvs = 0;
}
