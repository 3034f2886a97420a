/*
 * experiment_ini.h (internal): the first pass over an experiment file: its text read with
 * libinih into a list of (section, key, value, line), nothing checked but the limits that
 * no valid file reaches. experiment.c interprets the list.
 */
#ifndef RB_EXPERIMENT_INI_H
#define RB_EXPERIMENT_INI_H

#include <stddef.h>

/* No real experiment comes near this; a typo like "seeds = 1 1000000" should not be run. */
#define RB_EXP_MAX_ENTRIES 10000
/* The most items of one list (archs, units, seeds). */
#define RB_EXP_MAX_ITEMS 64

typedef struct {
    char section[64];
    char key[64];
    char *value;
    size_t len, cap;          /* of value, so that continuations append in place */
    int line;
    int section_line;         /* header line of the section instance holding it (0: none) */
} rb_exp_kv;

typedef struct {
    rb_exp_kv *kvs;           /* in file order; a continuation line is joined to its key */
    int n_kvs;
    size_t bytes_copied;      /* work done, for rb_experiment_parse_work */
} rb_exp_ini;

/* Reads text into *ini. Returns 0, or -1 with the line the reading stopped at in *line (0 when
 * it is about no line) and why in why: out of memory, a limit passed, a line longer than
 * inih's buffer, or a line that is no key, header or comment. *ini is always set, to be
 * given back with rb_exp_ini_free. */
int rb_exp_ini_read(rb_exp_ini *ini, const char *text, int *line, char *why, size_t why_len);
void rb_exp_ini_free(rb_exp_ini *ini);

#endif
