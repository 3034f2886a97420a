/*
 * cmd_export.c: `revbench export`: the results database as SQL text, one file per table
 * (db_dump.h), e.g. to refresh the shipped reference results in results/reference/.
 */
#include <stdio.h>
#include <unistd.h>

#include "commands/commands.h"
#include "commands/options.h"
#include "common/exit_status.h"
#include "db/db.h"
#include "db/db_dump.h"
#include "db/db_ext.h"

#define CMD "export"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench export [--db PATH] --out DIR\n\n"
            "Writes DIR/runs.sql, archs.sql, memory.sql and metrics.sql: the newest finished run\n"
            "of each configuration in the database, with its machine and commit, one INSERT a\n"
            "line. The output is deterministic (rows in a fixed order, runs renumbered 1..N), so\n"
            "exporting the same runs twice gives the same files; `revbench import` loads them.\n\n"
            "  --db PATH    results database (default results/results.db)\n"
            "  --out DIR    output folder, e.g. results/reference (required)\n");
}

int rb_cmd_export(int argc, char **argv)
{
    const char *db_path = "results/results.db", *out = NULL;
    const rb_opt opts[] = {
        RB_TEXT("db", &db_path),
        RB_TEXT("out", &out),
        RB_OPTS_END,
    };
    int code = rb_opts_parse(CMD, usage, argc, argv, opts, NULL, 0, NULL);
    if (code != RB_OPTS_GO) return code;
    if (!out) {
        rb_cli_error(CMD, "--out DIR is required (e.g. --out results/reference)");
        return RB_EXIT_USAGE;
    }
    if (access(db_path, F_OK) != 0) {
        rb_cli_error(CMD, "no results database at %s (pass --db)", db_path);
        return RB_EXIT_FAIL;
    }
    rb_db *db = NULL;
    char err[1024];
    /* Exporting only reads; a file we may not write is read as it is. */
    if (rb_db_open(&db, db_path, err, sizeof err) &&
        rb_db_open_readonly(&db, db_path, err, sizeof err)) {
        rb_cli_error(CMD, "%s", err);
        return RB_EXIT_FAIL;
    }
    long n = 0;
    int rc = rb_dump_export(db, out, &n, err, sizeof err);
    rb_db_close(db);
    if (rc) {
        rb_cli_error(CMD, "%s", err);
        return RB_EXIT_FAIL;
    }
    printf("wrote %ld runs from %s to %s/{runs,archs,memory,metrics}.sql\n", n, db_path, out);
    return RB_EXIT_OK;
}
