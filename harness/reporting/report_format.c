/*
 * report_format.c: the helpers every report table shares (report_format.h): one number from
 * the results database, and a number or a difference formatted for a cell.
 *
 * Owns: nothing beyond one call.
 */
#include "reporting/report_format.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>

double rb_query_num(sqlite3 *h, const char *sql, const char *p1, const char *p2,
                    const char *p3, const char *p4)
{
    sqlite3_stmt *st = NULL;
    double v = NAN;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "revbench report: query failed: %s\n", sqlite3_errmsg(h));
        return NAN;
    }
    const char *ps[] = { p1, p2, p3, p4 };
    for (int i = 0; i < 4 && i < sqlite3_bind_parameter_count(st); i++)
        sqlite3_bind_text(st, i + 1, ps[i], -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

void rb_fmt(char *buf, size_t len, const char *f, double v)
{
    if (isnan(v)) snprintf(buf, len, NOT_RUN);
    else snprintf(buf, len, f, v);
}

void rb_fmt_diff(char *buf, size_t len, const char *f, double a, double b)
{
    if (isnan(a) || isnan(b)) snprintf(buf, len, "-");
    else snprintf(buf, len, f, a - b);
}
