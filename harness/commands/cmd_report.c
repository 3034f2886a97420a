/*
 * cmd_report.c: `revbench report`: the paper's tables beside measured results (report.h), as
 * paper/REPORT.md and paper/tables/NAME.{md,tex}, from your results database, the shipped
 * reference results (--against results/reference), or both side by side.
 */
#include <stdio.h>
#include <unistd.h>

#include "commands/commands.h"
#include "commands/options.h"
#include "common/exit_status.h"
#include "db/db.h"
#include "db/db_dump.h"
#include "db/db_ext.h"
#include "reporting/report.h"

#define CMD "report"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench report [--db PATH] [--against REF] [--out DIR] [--no-build]\n\n"
            "Writes DIR/REPORT.md and DIR/tables/{machines,params,cifar,imagenet,complexity,\n"
            "memory}.{md,tex}: the paper's numbers beside the measured ones and the difference.\n"
            "Cells without a measurement say \"not run\". Figures are linked from DIR/figures\n"
            "(make plots).\n\n"
            "  --db PATH      your results database (default results/results.db); opened\n"
            "                 read-only when it cannot be written\n"
            "  --against REF  reference results: a folder written by `revbench export` (e.g.\n"
            "                 results/reference) or a database. Every table then shows paper |\n"
            "                 reference | yours with the difference; without a database at\n"
            "                 --db, the tables show the reference alone and say so\n"
            "  --out DIR      output folder (default paper)\n"
            "  --no-build     take our parameter counts from the database instead of building\n"
            "                 each network\n");
}

int rb_cmd_report(int argc, char **argv)
{
    const char *db_path = "results/results.db", *out = "paper", *against = NULL;
    int no_build = 0;
    const rb_opt opts[] = {
        RB_TEXT("db", &db_path),
        RB_TEXT("out", &out),
        RB_TEXT("against", &against),
        RB_FLAG("no-build", &no_build),
        RB_OPTS_END,
    };
    int code = rb_opts_parse(CMD, usage, argc, argv, opts, NULL, 0, NULL);
    if (code != RB_OPTS_GO) return code;
    int have_db = access(db_path, F_OK) == 0;
    if (!have_db && !against) {
        rb_cli_error(CMD, "no results database at %s (run an experiment first, pass --db, or "
                     "report the shipped reference results with --against results/reference)",
                     db_path);
        return RB_EXIT_FAIL;
    }
    char err[1024], err2[1024];
    rb_reference ref = { 0 };
    if (against && rb_reference_open(&ref, against, err, sizeof err)) {
        rb_cli_error(CMD, "%s", err);
        return RB_EXIT_FAIL;
    }
    rb_db *db = NULL;
    int writable = 1;
    if (have_db && rb_db_open(&db, db_path, err, sizeof err)) {
        /* A file we may not write still gives a report, if its schema is current. */
        if (rb_db_open_readonly(&db, db_path, err2, sizeof err2)) {
            rb_cli_error(CMD, "%s", err);
            rb_reference_close(&ref);
            return RB_EXIT_FAIL;
        }
        writable = 0;
    }
    if (!have_db)
        fprintf(stderr, "revbench report: no results database at %s: the tables show the "
                "reference results of %s alone\n", db_path, against);
    rb_report_sources s = { .yours = db, .yours_writable = writable, .yours_path = db_path,
                            .reference = ref.db, .reference_path = against, .out_dir = out,
                            .build_models = !no_build };
    int rc = rb_report_write_sources(&s);
    rb_db_close(db);
    rb_reference_close(&ref);
    if (rc) return RB_EXIT_FAIL;
    printf("wrote %s/REPORT.md and %s/tables/\n", out, out);
    return RB_EXIT_OK;
}
