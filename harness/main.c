/*
 * main.c: the revbench command. Dispatches to one subcommand per file (commands.h).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include <revnet/build_info.h>

#include "common/exit_status.h"
#include "commands/commands.h"
#include "common/machine.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
    { "bench", rb_cmd_bench, "training steps: images/s and where a step goes (step); conv shapes against bare GEMM (conv); the CPU's FMA peak (peak)" },
    { "info", rb_cmd_info, "parameters, layers and the planned memory of a network, without running it" },
    { "mem", rb_cmd_mem, "a few training steps: planned and measured memory per category, step time" },
    { "angle", rb_cmd_angle, "angle between stored- and reconstructed-activation gradients (RevNets)" },
    { "train", rb_cmd_train, "train one network with the paper's recipe, logged and resumable" },
    { "run", rb_cmd_run, "run every entry of an experiment file: skips finished runs, resumes the rest" },
    { "merge", rb_cmd_merge, "merge shard databases (Slurm tasks, other machines) into one, in one transaction" },
    { "report", rb_cmd_report, "paper tables beside ours (Markdown and LaTeX) from the results database" },
    { "export", rb_cmd_export, "the results database as SQL text a person can read and diff" },
    { "import", rb_cmd_import, "load SQL text from `export` (e.g. results/reference) into a database" },
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *out)
{
    fprintf(out,
            "revbench %s: reversible (RevNet) against ordinary (ResNet) backprop, measured\n\n"
            "usage: revbench <command> [options]   (revbench <command> --help for its options)\n\n"
            "commands:\n",
            REVBENCH_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out, "\noptions:\n  --help     this message\n  --version  version, backends in this build, SQLite and BLAS\n");
}

/* What this build can run and with which libraries: the backends (built or not, and why),
 * SQLite, the BLAS, and the machine as a run would record it. */
static void version(void)
{
    const rb_machine *m = rb_machine_get();
    printf("revbench %s\n\nbackends:\n", REVBENCH_VERSION);
    rv_backend_info b[8];
    int n = rv_build_backends(b, 8);
    for (int i = 0; i < n; i++)
        printf("  %-9s %-5s %s: %s\n", b[i].name, b[i].built ? "yes" : "no", b[i].what,
               b[i].detail);
    printf("\nlibraries:\n  SQLite    %s (built against %s)\n  BLAS      %s\n",
           sqlite3_libversion(), SQLITE_VERSION, rv_build_blas());
    printf("\nthis machine (recorded with every run):\n  CPU       %s, %d online\n"
           "  ISA       %s\n  software  %s\n  commit    %s (of the current folder's checkout)\n",
           m->cpu_model, m->n_cpus, m->isa, m->software, m->git_rev);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return RB_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return RB_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        version();
        return RB_EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "revbench: unknown command '%s'; valid: ", argv[1]);
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(stderr, "%s%s", i ? ", " : "", COMMANDS[i].name);
    fprintf(stderr, "\n");
    return RB_EXIT_USAGE;
}
