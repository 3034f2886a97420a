/*
 * report.h: the tables of the reproduction, the paper beside measured results, from one or
 * two results databases: paper/REPORT.md and paper/tables/NAME.md + NAME.tex for NAME in
 * machines, params, cifar, imagenet, complexity, memory. A value that has not been measured
 * is written "not run", never estimated.
 *
 * Two sources: the reference results shipped in results/reference (db_dump.h) and your own
 * runs. With both, every table sets paper | reference | yours side by side with the
 * difference; with one, its captions say which it is.
 */
#ifndef RB_REPORT_H
#define RB_REPORT_H

#include <stdio.h>

#include "db/db.h"
#include "reporting/table.h"

typedef struct {
    rb_db *yours;             /* your results, or NULL */
    int yours_writable;       /* our parameter counts may be recorded in it */
    const char *yours_path;
    rb_db *reference;         /* the reference results, or NULL */
    const char *reference_path;
    const char *out_dir;      /* created if missing */
    int build_models;         /* count our parameters by building each network */
} rb_report_sources;

/* Builds every table. At least one of yours and reference must be set. Returns 0, or -1 with
 * a message printed. */
int rb_report_write_sources(const rb_report_sources *s);

/* The tables of one database of your own runs (rb_report_write_sources without reference). */
int rb_report_write(rb_db *db, int db_writable, const char *db_path, const char *out_dir,
                    int build_models);

#endif
