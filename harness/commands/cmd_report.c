/*
 * cmd_report.c: `revbench report`: the paper's tables beside ours, from the results database
 * (report.h), as paper/REPORT.md and paper/tables/NAME.{md,tex}.
 */
#include <stdio.h>
#include <unistd.h>

#include "commands/cli.h"
#include "commands/commands.h"
#include "commands/options.h"
#include "db/db.h"
#include "db/db_ext.h"
#include "reporting/report.h"

#define CMD "report"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench report [--db PATH] [--out DIR] [--no-build]\n\n"
            "Writes DIR/REPORT.md and DIR/tables/{params,cifar,imagenet,complexity,memory}"
            ".{md,tex}:\nthe paper's numbers beside ours and the difference. Cells without a "
            "measurement say\n\"not run\". Figures are linked from DIR/figures (make plots).\n\n"
            "  --db PATH    results database (default results/results.db); opened read-only\n"
            "               when it cannot be written\n"
            "  --out DIR    output folder (default paper)\n"
            "  --no-build   take our parameter counts from the database instead of building\n"
            "               each network\n");
}

int rb_cmd_report(int argc, char **argv)
{
    const char *db_path = "results/results.db", *out = "paper";
    int no_build = 0;
    const rb_opt opts[] = {
        RB_TEXT("db", &db_path),
        RB_TEXT("out", &out),
        RB_FLAG("no-build", &no_build),
        RB_OPTS_END,
    };
    int rc = rb_opts_parse(CMD, usage, argc, argv, opts, NULL, 0, NULL);
    if (rc != RB_OPTS_GO) return rc;
    if (access(db_path, F_OK) != 0) {
        rb_cli_error(CMD, "no results database at %s (run an experiment first, or pass --db)",
                     db_path);
        return RB_EXIT_FAIL;
    }
    rb_db *db = NULL;
    char err[1024], err2[1024];
    int writable = 1;
    if (rb_db_open(&db, db_path, err, sizeof err)) {
        /* A file we may not write still gives a report, if its schema is current. */
        if (rb_db_open_readonly(&db, db_path, err2, sizeof err2)) {
            rb_cli_error(CMD, "%s", err);
            return RB_EXIT_FAIL;
        }
        writable = 0;
    }
    rc = rb_report_write(db, writable, db_path, out, !no_build);
    rb_db_close(db);
    if (rc) return RB_EXIT_FAIL;
    printf("wrote %s/REPORT.md and %s/tables/\n", out, out);
    return RB_EXIT_OK;
}
