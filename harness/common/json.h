/*
 * json.h: a minimal JSON object writer, for the one object a --json command prints on stdout
 * and the documents stored beside runs.
 *
 * rb_json_begin, then fields, then rb_json_end. Strings are escaped. Nested objects:
 * rb_json_object_begin(j, "key") ... rb_json_object_end(j); arrays alike, with NULL keys for
 * their elements.
 */
#ifndef RB_JSON_H
#define RB_JSON_H

#include <stdio.h>

typedef struct {
    FILE *out;
    int need_comma;
} rb_json;

void rb_json_begin(rb_json *j, FILE *out);
void rb_json_end(rb_json *j);
void rb_json_object_begin(rb_json *j, const char *key);
void rb_json_object_end(rb_json *j);
void rb_json_array_begin(rb_json *j, const char *key);
void rb_json_array_end(rb_json *j);
void rb_json_str(rb_json *j, const char *key, const char *value);
void rb_json_int(rb_json *j, const char *key, long long value);
/* Non-finite doubles are written as null, since JSON has no NaN. */
void rb_json_num(rb_json *j, const char *key, double value);
void rb_json_bool(rb_json *j, const char *key, int value);

#endif
