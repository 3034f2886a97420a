/*
 * cli.h: what every revbench subcommand shares: exit codes, flag parsing helpers that print a
 * clear message, architecture/mode/device names, and a small JSON writer (one object on
 * stdout per --json command).
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

/* Parses a whole decimal integer in [lo, hi]; on failure prints why (naming the flag) and
 * returns -1. */
int rb_cli_parse_long(const char *cmd, const char *flag, const char *text, long lo, long hi,
                      long *out);
int rb_cli_parse_double(const char *cmd, const char *flag, const char *text, double lo,
                        double hi, double *out);

/* Returns the index of text in the NULL-terminated list names, or prints an error listing the
 * valid choices and returns -1. */
int rb_cli_parse_choice(const char *cmd, const char *flag, const char *text,
                        const char *const *names);

struct option;
/* For getopt_long's '?' (unknown option) and ':' (missing value) results: prints
 * "unknown option 'ARG'; valid: --a, --b, ..." listing every long option of the table, or
 * "ARG needs a value", and returns RB_EXIT_USAGE. Call with optstring ":" so both are told
 * apart; arg is argv[optind - 1]. */
int rb_cli_bad_option(const char *cmd, int getopt_result, const char *arg,
                      const struct option *opts);

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
