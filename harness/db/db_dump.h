/*
 * db_dump.h: the results database as text a person can read and diff (results/reference/),
 * and back.
 *
 * A dump is a folder of four files, one per table, runs.sql, archs.sql, memory.sql and
 * metrics.sql: a header of `--` comment lines, then one `INSERT INTO table(columns) VALUES
 * (...);` statement per line. Columns are named, so a dump made by an older revbench loads
 * into a newer schema (new columns stay NULL). Export is deterministic: rows in primary-key
 * order, run ids renumbered 1..N in the order of the original ids, numbers in the shortest
 * form that reads back to the same double, no timestamps of the export itself; exporting a
 * database that was imported from a dump gives the dump back byte for byte.
 */
#ifndef RB_DB_DUMP_H
#define RB_DB_DUMP_H

#include <stddef.h>

#include "db/db.h"

/* The tables of a dump, in the order import loads them (runs before the rows that refer to
 * them). */
extern const char *const RB_DUMP_TABLES[4];

/* Writes out_dir/{runs,archs,memory,metrics}.sql from db (out_dir is created if missing).
 * Exported runs: the newest finished run of each configuration (what the report and the
 * figures show); their metrics and memory rows; every archs row. runs.pid and
 * runs.checkpoint are left out (meaningful only on the machine that made them).
 * *n_runs (if non-NULL) receives the number of runs written. Returns 0, or -1 with a message
 * in err. */
int rb_dump_export(rb_db *db, const char *out_dir, long *n_runs, char *err, size_t err_len);

/* Loads a dump folder into db, which must hold no runs yet (reference runs are never mixed
 * into a database of one's own runs: import them into a file of their own). Every statement
 * must be an INSERT into one of the dump's tables (anything else is refused with FILE:LINE);
 * all of it goes in one transaction, so a failure leaves db as it was. *n_runs (if non-NULL)
 * receives the number of runs loaded. Returns 0, or -1 with a message in err. */
int rb_dump_import(rb_db *db, const char *dir, long *n_runs, char *err, size_t err_len);

/* Reference results opened for reading: a dump folder imported into a database in a fresh
 * temporary folder, or a database file opened read-only. */
typedef struct {
    rb_db *db;
    char path[4096];         /* what was opened: the folder or the file */
    char tmp_dir[64];        /* the temporary folder, "" when none */
    long n_runs;
} rb_reference;

/* Opens path (a dump folder or a results database) as reference results. Returns 0, or -1
 * with a message in err (ref->db is then NULL and nothing is left behind). */
int rb_reference_open(rb_reference *ref, const char *path, char *err, size_t err_len);
/* Closes the database and removes the temporary folder, if any. */
void rb_reference_close(rb_reference *ref);

#endif
