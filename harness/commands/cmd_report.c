/*
 * cmd_report.c: `revbench report`: the paper's tables beside ours, from the results database
 * (report.h), as paper/REPORT.md and paper/tables/NAME.{md,tex}.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands/cli.h"
#include "commands/commands.h"
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
    int build = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return RB_EXIT_OK;
        } else if (i + 1 < argc && !strcmp(argv[i], "--db")) {
            db_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--out")) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "--no-build")) {
            build = 0;
        } else {
            rb_cli_error(CMD, "unexpected argument '%s' (revbench report --help)", argv[i]);
            return RB_EXIT_USAGE;
        }
    }
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
    int rc = rb_report_write(db, writable, db_path, out, build);
    rb_db_close(db);
    if (rc) return RB_EXIT_FAIL;
    printf("wrote %s/REPORT.md and %s/tables/\n", out, out);
    return RB_EXIT_OK;
}
