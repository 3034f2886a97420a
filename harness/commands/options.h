/*
 * options.h: the one option parser of the revbench commands.
 *
 * A command describes its options as a table (name, kind, where the value goes, its range or
 * its valid names) and calls rb_opts_parse once; every command therefore treats its flags the
 * same way: "--name value" or "--name=value", options and positional arguments in any order,
 * values checked against the table with a message that names the flag, and an unknown option
 * answered with the list of the valid ones. Exit statuses: common/exit_status.h.
 */
#ifndef RB_OPTIONS_H
#define RB_OPTIONS_H

#include <stdio.h>

typedef enum {
    RB_OPT_FLAG,   /* no value; dest is an int set to 1 */
    RB_OPT_TEXT,   /* dest is a const char * pointing into argv */
    RB_OPT_LONG,   /* dest is a long, checked in [lo, hi] */
    RB_OPT_DOUBLE, /* dest is a double, checked in [lo, hi] */
    RB_OPT_CHOICE, /* dest is an int: the index of the value in names (NULL-terminated) */
} rb_opt_kind;

typedef struct {
    const char *name; /* the long name, without "--" */
    rb_opt_kind kind;
    void *dest;
    long lo, hi;              /* RB_OPT_LONG: the accepted range */
    double dlo, dhi;          /* RB_OPT_DOUBLE: the accepted range */
    const char *const *names; /* RB_OPT_CHOICE: the valid values */
    const char *what;         /* RB_OPT_CHOICE: what a value names, for errors ("device") */
} rb_opt;

/* Table rows. */
#define RB_FLAG(name, dest) { name, RB_OPT_FLAG, dest, 0, 0, 0, 0, 0, 0 }
#define RB_TEXT(name, dest) { name, RB_OPT_TEXT, dest, 0, 0, 0, 0, 0, 0 }
#define RB_LONG(name, dest, lo, hi) { name, RB_OPT_LONG, dest, lo, hi, 0, 0, 0, 0 }
#define RB_DOUBLE(name, dest, lo, hi) { name, RB_OPT_DOUBLE, dest, 0, 0, lo, hi, 0, 0 }
#define RB_CHOICE(name, dest, names, what) { name, RB_OPT_CHOICE, dest, 0, 0, 0, 0, names, what }
#define RB_OPTS_END { 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/* What rb_opts_parse returns when the command goes on. */
#define RB_OPTS_GO (-1)

/*
 * Parses argv[1 .. argc-1] (argv[0] is the command's name) against the RB_OPTS_END-terminated
 * table opts, which need not list --help: every command has it, and it prints usage on stdout.
 * Positional arguments go to positional[0 .. max_positional-1] in order and their count to
 * *n_positional (NULL, 0, NULL for a command that takes none). Destinations of options not
 * given keep their values, so callers preset the defaults.
 * Returns RB_OPTS_GO, or the status the command exits with now: RB_EXIT_OK after --help (or
 * -h), RB_EXIT_USAGE after printing "revbench CMD: ..." on stderr for an unknown option (with
 * the list of the valid ones), a missing or malformed value, a value outside its range or
 * names, or one positional argument too many. So a command begins:
 *     int rc = rb_opts_parse(CMD, usage, argc, argv, opts, NULL, 0, NULL);
 *     if (rc != RB_OPTS_GO) return rc;
 */
int rb_opts_parse(const char *cmd, void (*usage)(FILE *out), int argc, char **argv,
                  const rb_opt *opts, const char **positional, int max_positional,
                  int *n_positional);

/* Returns the index of text in the NULL-terminated list names, or prints "revbench CMD:
 * unknown WHAT 'TEXT'; valid: a, b, ..." and returns -1. For names checked after parsing. */
int rb_cli_parse_choice(const char *cmd, const char *what, const char *text,
                        const char *const *names);

#endif
