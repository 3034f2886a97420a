/*
 * table.h: a table of the report under construction (a caption, a header row, rows of
 * cells, a note), written as tables/NAME.md and tables/NAME.tex.
 */
#ifndef RB_TABLE_H
#define RB_TABLE_H

#include <stdio.h>

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

#endif
