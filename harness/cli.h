/*
 * cli.h: what every revbench subcommand shares: exit codes, flag parsing helpers that print a
 * clear message, architecture/mode/device names, and a small JSON writer (one object on
 * stdout per --json command).
 */
#ifndef RV_CLI_H
#define RV_CLI_H

#include <stdio.h>
#include <stddef.h>

/* Exit statuses: 0 success, 1 the work failed (I/O, numeric, device), 2 bad usage (unknown
 * flag, architecture, mode or malformed value). */
enum { RV_EXIT_OK = 0, RV_EXIT_FAIL = 1, RV_EXIT_USAGE = 2 };

/* Prints "revbench <cmd>: <message>\n" to stderr. */
void rv_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses a whole decimal integer in [lo, hi]; on failure prints why (naming the flag) and
 * returns -1. */
int rv_cli_parse_long(const char *cmd, const char *flag, const char *text, long lo, long hi,
                      long *out);
int rv_cli_parse_double(const char *cmd, const char *flag, const char *text, double lo,
                        double hi, double *out);

/* Returns the index of text in the NULL-terminated list names, or prints an error listing the
 * valid choices and returns -1. */
int rv_cli_parse_choice(const char *cmd, const char *flag, const char *text,
                        const char *const *names);

struct option;
/* For getopt_long's '?' (unknown option) and ':' (missing value) results: prints
 * "unknown option 'ARG'; valid: --a, --b, ..." listing every long option of the table, or
 * "ARG needs a value", and returns RV_EXIT_USAGE. Call with optstring ":" so both are told
 * apart; arg is argv[optind - 1]. */
int rv_cli_bad_option(const char *cmd, int getopt_result, const char *arg,
                      const struct option *opts);

/* Minimal JSON object writer: rv_json_begin, then fields, then rv_json_end. Strings are
 * escaped. Nested objects: rv_json_object_begin(j, "key") ... rv_json_object_end(j). */
typedef struct {
    FILE *out;
    int need_comma;
} rv_json;

void rv_json_begin(rv_json *j, FILE *out);
void rv_json_end(rv_json *j);
void rv_json_object_begin(rv_json *j, const char *key);
void rv_json_object_end(rv_json *j);
void rv_json_array_begin(rv_json *j, const char *key);
void rv_json_array_end(rv_json *j);
void rv_json_str(rv_json *j, const char *key, const char *value);
void rv_json_int(rv_json *j, const char *key, long long value);
/* Non-finite doubles are written as null, since JSON has no NaN. */
void rv_json_num(rv_json *j, const char *key, double value);
void rv_json_bool(rv_json *j, const char *key, int value);

/* Wall-clock milliseconds from a monotonic clock. */
double rv_now_ms(void);
/* Max resident set size of this process in bytes (getrusage). */
size_t rv_max_rss_bytes(void);

#endif
