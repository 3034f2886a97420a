/*
 * cmd_import.c: `revbench import`: loads SQL text written by `revbench export` (such as the
 * shipped reference results, results/reference/) into a results database of its own
 * (db_dump.h).
 */
#include <stdio.h>

#include "commands/commands.h"
#include "commands/options.h"
#include "common/exit_status.h"
#include "db/db.h"
#include "db/db_dump.h"

#define CMD "import"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench import DIR [--db PATH]\n\n"
            "Loads DIR/runs.sql, archs.sql, memory.sql and metrics.sql (as `revbench export`\n"
            "writes them) into a database that holds no runs yet, creating it if needed, so\n"
            "that sqlite3, the report and the plots can read them. Only INSERTs into those four\n"
            "tables are accepted; everything is loaded in one transaction or not at all.\n\n"
            "  --db PATH    target database (default results/reference.db)\n");
}

int rb_cmd_import(int argc, char **argv)
{
    const char *db_path = "results/reference.db", *dir = NULL;
    const rb_opt opts[] = {
        RB_TEXT("db", &db_path),
        RB_OPTS_END,
    };
    int n_pos = 0;
    int code = rb_opts_parse(CMD, usage, argc, argv, opts, &dir, 1, &n_pos);
    if (code != RB_OPTS_GO) return code;
    if (!dir) {
        rb_cli_error(CMD, "which folder? (revbench import results/reference --db PATH)");
        return RB_EXIT_USAGE;
    }
    rb_db *db = NULL;
    char err[1024];
    if (rb_db_open(&db, db_path, err, sizeof err)) {
        rb_cli_error(CMD, "%s", err);
        return RB_EXIT_FAIL;
    }
    /* Ends as export does, kept apart: one command a file, and what the two share, the dump
     * itself, is db_dump.c's. */
    long n = 0;
    int rc = rb_dump_import(db, dir, &n, err, sizeof err);
    rb_db_close(db);
    if (rc) {
        rb_cli_error(CMD, "%s", err);
        return RB_EXIT_FAIL;
    }
    printf("imported %ld runs from %s into %s\n", n, dir, db_path);
    return RB_EXIT_OK;
}
