/*
 * json_flat.h: reads one JSON object (the output of `revbench mem --json`) into a flat list of
 * dotted paths and their values: {"a": 1, "c": {"x": {"peak_bytes": 5}}} gives a = 1 and
 * c.x.peak_bytes = 5. Array elements are indexed (a.0, a.1). Strings are kept as text,
 * numbers as numbers, true/false as 1/0, null is skipped.
 */
#ifndef RB_JSON_FLAT_H
#define RB_JSON_FLAT_H

#include <stddef.h>

typedef struct {
    char path[128];
    int is_number;
    double number;
    char *text;              /* strings only (malloc'ed) */
} rb_json_item;

typedef struct {
    rb_json_item *items;
    int n;
} rb_json_flat;

/* Parses text (one JSON object; leading/trailing white space allowed). Returns 0, or -1 with
 * the reason and byte offset in err. */
int rb_json_flat_parse(rb_json_flat *out, const char *text, char *err, size_t err_len);
void rb_json_flat_free(rb_json_flat *f);
/* The item at path, or NULL. */
const rb_json_item *rb_json_flat_get(const rb_json_flat *f, const char *path);
/* The number at path, or fallback when absent or not a number. */
double rb_json_flat_num(const rb_json_flat *f, const char *path, double fallback);

#endif
