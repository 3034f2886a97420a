/*
 * cli.h: what every revbench subcommand shares: exit codes, the error line, and a small JSON
 * writer (one object on stdout per --json command). Options are parsed by options.h.
 */
#ifndef RB_CLI_H
#define RB_CLI_H

#include <stdio.h>
#include <stddef.h>

/* Exit statuses: 0 success, 1 the work failed (I/O, numeric, device), 2 bad usage (unknown
 * flag, architecture, mode or malformed value). */
enum { RB_EXIT_OK = 0, RB_EXIT_FAIL = 1, RB_EXIT_USAGE = 2 };

/* Prints "revbench <cmd>: <message>\n" to stderr. */
void rb_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Minimal JSON object writer: rb_json_begin, then fields, then rb_json_end. Strings are
 * escaped. Nested objects: rb_json_object_begin(j, "key") ... rb_json_object_end(j). */
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

/* Wall-clock milliseconds from a monotonic clock. */
double rb_now_ms(void);
/* Max resident set size of this process in bytes (getrusage). */
size_t rb_max_rss_bytes(void);

#endif
