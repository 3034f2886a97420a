/*
 * table.h: a table of the report under construction (a caption, a header row, rows of
 * cells, a note), written as tables/NAME.md and tables/NAME.tex.
 */
#ifndef RB_TABLE_H
#define RB_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    char name[32];
    char caption[512];
    int n_cols;
    char **cells;            /* (1 + n_rows) x n_cols, row 0 the header */
    int n_rows;
    char note[1024];         /* printed under the table */
} rb_table;

/* Starts table NAME with its header row (n_cols strings) and the caption caption_fmt, ... */
void rb_table_init(rb_table *t, const char *name, int n_cols, const char *const *header,
                   const char *caption_fmt, ...) __attribute__((format(printf, 5, 6)));
/* Appends a row of n_cols strings (NULL as ""). Returns 0 or -1 (out of memory). */
int rb_table_row(rb_table *t, const char *const *cells);
/* Appends a row held as n_cols strings width bytes apart: a char cells[n_cols][width] array,
 * as the tables fill their cells. Returns 0 or -1 (out of memory). */
int rb_table_row_cells(rb_table *t, const char *cells, size_t width);
/* Puts the note note_fmt, ... under the table, writes out_dir/tables/NAME.md and NAME.tex,
 * appends the Markdown to md (if non-NULL) and frees the table. Returns 0, or -1 after a
 * message on stderr when a file cannot be written. */
int rb_table_finish(rb_table *t, const char *out_dir, FILE *md, const char *note_fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
