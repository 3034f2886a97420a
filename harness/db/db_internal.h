/*
 * db_internal.h: what the files of the results database (db.c, db_runs.c, db_metrics.c) share
 * and nothing outside harness/db/ includes: the handle's fields, how a failure is put on it,
 * and one write statement with its parameters.
 */
#ifndef RB_DB_INTERNAL_H
#define RB_DB_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>

#include "db/db.h"

struct rb_db {
    sqlite3 *h;
    int in_txn;              /* rb_db_begin was called and not yet committed/rolled back */
    int busy_ms;             /* the busy timeout in force */
    int last_code;           /* primary SQLite code of the last failed call, 0 if none */
    char id[RB_DB_ID_LEN + 1];
    char msg[512];
};

/* Sets the handle's message (rb_db_message) and returns -1. */
int rb_db_fail(rb_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last failed SQLite call on db->h as "what: why", in words a user can act on (locked,
 * read-only, disk full); also sets rb_db_last_code. Returns -1. */
int rb_db_fail_sql(rb_db *db, const char *what);

/* One value bound to an SQL parameter. */
typedef struct {
    enum { RB_DB_NULL, RB_DB_INT, RB_DB_REAL, RB_DB_TEXT } kind;
    int64_t i;
    double d;
    const char *s;           /* RB_DB_TEXT: NULL binds NULL */
} rb_db_arg;

#define RB_DB_ARG_NULL ((rb_db_arg){ .kind = RB_DB_NULL })
#define RB_DB_ARG_INT(v) ((rb_db_arg){ .kind = RB_DB_INT, .i = (v) })
#define RB_DB_ARG_REAL(v) ((rb_db_arg){ .kind = RB_DB_REAL, .d = (v) })
#define RB_DB_ARG_TEXT(v) ((rb_db_arg){ .kind = RB_DB_TEXT, .s = (v) })

/* Runs one INSERT, UPDATE or DELETE with args[0 .. n-1] bound to its parameters 1..n (those
 * past the statement's parameter count are left out; texts are copied), as one autocommit
 * transaction or inside the caller's. Returns 0, or -1 with "what: why" on the handle. */
int rb_db_exec(rb_db *db, const char *what, const char *sql, const rb_db_arg *args, int n);

#endif
