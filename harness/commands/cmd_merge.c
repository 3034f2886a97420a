/*
 * cmd_merge.c: `revbench merge SHARD... --into DB`: the finished runs of shard databases (Slurm
 * array tasks, other machines) into one results database, in one transaction (merge.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "commands/commands.h"
#include "commands/options.h"
#include "common/exit_status.h"
#include "common/json.h"
#include "db/db.h"
#include "db/merge.h"

#define CMD "merge"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: revbench merge SHARD... --into DB [--json]\n\n"
            "Copies the finished runs of each SHARD (a results database written elsewhere:\n"
            "a Slurm array task, another machine) into DB, with their metrics and memory rows,\n"
            "under new run ids, all in one transaction. Merging a shard twice adds nothing.\n"
            "Runs that are not finished stay in their shard (they resume there). Nothing is\n"
            "merged, and DB is left as it was, when any shard is damaged, is not a revbench\n"
            "database, has another schema version, or holds a finished run of a configuration\n"
            "that DB already has a different finished run of.\n\n"
            "  --into DB   the main results database (created if missing)\n"
            "  --json      one JSON object with the counts on stdout\n");
}

int rb_cmd_merge(int argc, char **argv)
{
    const char *into = NULL;
    int json = 0, n = 0;
    const char **shards = calloc((size_t)argc, sizeof *shards);
    if (!shards) {
        rb_cli_error(CMD, "out of memory");
        return RB_EXIT_FAIL;
    }
    const rb_opt opts[] = {
        RB_TEXT("into", &into),
        RB_FLAG("json", &json),
        RB_OPTS_END,
    };
    int code = rb_opts_parse(CMD, usage, argc, argv, opts, shards, argc, &n);
    if (code != RB_OPTS_GO) goto done;
    code = RB_EXIT_USAGE;
    if (into && !into[0]) {
        rb_cli_error(CMD, "--into needs a database path");
        goto done;
    }
    if (!into || n == 0) {
        rb_cli_error(CMD, "%s (revbench merge --help)",
                     !into ? "--into DB is required" : "no shard to merge");
        goto done;
    }
    rb_db *db = NULL;
    char err[2048];
    if (rb_db_open(&db, into, err, sizeof err)) {
        rb_cli_error(CMD, "%s", err);
        code = RB_EXIT_FAIL;
        goto done;
    }
    rb_merge_counts *per = calloc((size_t)n, sizeof *per), total;
    if (!per || rb_db_merge(db, shards, n, per, &total, err, sizeof err)) {
        rb_cli_error(CMD, "%s", per ? err : "out of memory");
        rb_db_close(db);
        free(per);
        code = RB_EXIT_FAIL;
        goto done;
    }
    rb_db_close(db);
    if (json) {
        rb_json j;
        rb_json_begin(&j, stdout);
        rb_json_str(&j, "into", into);
        rb_json_int(&j, "shards", n);
        rb_json_int(&j, "added", total.n_added);
        rb_json_int(&j, "already_present", total.n_present);
        rb_json_int(&j, "unfinished_left", total.n_unfinished);
        rb_json_end(&j);
    } else {
        for (int i = 0; i < n; i++)
            printf("%s: %d added, %d already merged, %d not finished (left in the shard)\n",
                   shards[i], per[i].n_added, per[i].n_present, per[i].n_unfinished);
        printf("merged %d shard%s into %s: %d run%s added, %d already there, %d not finished\n",
               n, n == 1 ? "" : "s", into, total.n_added, total.n_added == 1 ? "" : "s",
               total.n_present, total.n_unfinished);
    }
    free(per);
    code = RB_EXIT_OK;
done:
    free(shards);
    return code;
}
