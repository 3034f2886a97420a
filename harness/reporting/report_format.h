/*
 * report_format.h: what every table of the report (report.c, report_memory.c) stands on: the
 * sources a table reads (reference first, then yours), one-number queries, and the formatting
 * of a cell ("not run" for a missing number, "-" for a missing difference).
 */
#ifndef RB_REPORT_FORMAT_H
#define RB_REPORT_FORMAT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>

#define NOT_RUN "not run"
#define RB_MAX_SOURCES 2

typedef struct {
    const char *label;        /* "reference", "yours", or "ours" when it is the only one */
    sqlite3 *h;
} rb_source;

typedef struct {
    rb_source src[RB_MAX_SOURCES];
    int n;                    /* 1 or 2; with 2, src[0] is the reference and src[1] yours */
    sqlite3 *paper;           /* where the paper's own numbers are read */
    char suffix[96];          /* appended to every caption: which results these are */
} rb_report_ctx;

/* One number from a query with up to four text parameters; NAN when there is no row, the
 * value is NULL, or the query fails (the failure is printed). */
double rb_query_num(sqlite3 *h, const char *sql, const char *p1, const char *p2,
                    const char *p3, const char *p4);
/* v formatted with f, or "not run" when v is NAN. */
void rb_fmt(char *buf, size_t len, const char *f, double v);
/* a - b formatted with f, or "-" when either is NAN. */
void rb_fmt_diff(char *buf, size_t len, const char *f, double a, double b);

#endif
