/*
 * report.h: the tables of the reproduction, paper beside ours, from the results database:
 * paper/REPORT.md and paper/tables/NAME.md + NAME.tex for NAME in params, cifar, imagenet,
 * complexity, memory. A value we have not measured is written "not run", never estimated.
 */
#ifndef RB_REPORT_H
#define RB_REPORT_H

#include <stdio.h>

#include "db/db.h"

/* A table under construction: a caption, a header row and rows of cells (all copied). */
typedef struct {
    char name[32];
    char caption[512];
    int n_cols;
    char **cells;            /* (1 + n_rows) x n_cols, row 0 the header */
    int n_rows;
    char note[1024];         /* printed under the table */
} rb_table;

void rb_table_init(rb_table *t, const char *name, const char *caption, int n_cols,
                   const char *const *header);
/* Appends a row of n_cols strings. Returns 0 or -1 (out of memory). */
int rb_table_row(rb_table *t, const char *const *cells);
void rb_table_free(rb_table *t);
/* Writes out_dir/tables/NAME.md and NAME.tex, and appends the Markdown to md (if non-NULL). */
int rb_table_write(const rb_table *t, const char *out_dir, FILE *md);

/* Builds every table from db into out_dir (created if missing). build_models: compute our
 * parameter counts by building each architecture (and record them when db is writable).
 * Returns 0, or -1 with a message printed. */
int rb_report_write(rb_db *db, int db_writable, const char *db_path, const char *out_dir,
                    int build_models);

#endif
