/*
 * test_experiment.c: experiment files (harness/experiments/experiment.c): matrix expansion counts, the
 * shipped files, and every kind of bad input giving an error with the right line number.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/experiment.h"

static const char QUICK[] =
    "[experiment]\n"
    "name = t\n"
    "kind = train\n"
    "schedule = quick\n"
    "[train]\n"
    "steps = 2000 ; inline comment\n"
    "batch = 100\n"
    "[matrix]\n"
    "pairs = resnet-32:revnet-38\n"
    "datasets = cifar10 cifar100\n"
    "seeds = 1 2\n"
    "[matrix.deep]\n"
    "pairs = resnet-110:revnet-110,\n"
    "  resnet-164:revnet-164\n"
    "datasets = cifar10\n"
    "steps = 500\n"
    "train_subset = 5000\n";

Test(experiment, expands_pairs_datasets_seeds_and_overrides)
{
    rb_experiment e;
    char err[512] = "";
    cr_assert_eq(rb_experiment_parse(&e, "q.ini", QUICK, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(e.name, "t");
    cr_expect_str_eq(e.schedule, "quick");
    cr_expect_eq(e.kind, RB_EXP_TRAIN);
    /* 2 archs x 2 datasets x 2 seeds + 4 archs (continued line) x 1 dataset. */
    cr_assert_eq(e.n_entries, 8 + 4);
    cr_expect_str_eq(e.entries[0].arch, "resnet-32");
    cr_expect_str_eq(e.entries[0].mode, "standard");
    cr_expect_str_eq(e.entries[2].arch, "revnet-38");
    cr_expect_str_eq(e.entries[2].mode, "reversible");
    cr_expect_eq(e.entries[0].set.steps, 2000);
    cr_expect_eq(e.entries[1].seed, 2);
    cr_expect_str_eq(e.entries[8].group, "deep");
    cr_expect_str_eq(e.entries[11].arch, "revnet-164");
    cr_expect_eq(e.entries[8].set.steps, 500);
    cr_expect_eq(e.entries[8].set.train_subset, 5000);
    cr_expect_eq(e.entries[8].set.batch, 100);
    cr_expect_eq(e.entries[0].set.train_subset, 0);
    rb_experiment_free(&e);
}

Test(experiment, families_units_and_unsupported_modes)
{
    const char *text = "[experiment]\nname = m\nkind = mem\n[mem]\nsteps = 3\n"
                       "[matrix]\nfamilies = resnet-basic revnet-basic\nunits = 3 6 12\n"
                       "modes = standard checkpoint reversible\ndevices = cpu cuda\n";
    rb_experiment e;
    char err[512] = "";
    cr_assert_eq(rb_experiment_parse(&e, "m.ini", text, err, sizeof err), 0, "%s", err);
    /* ResNets: standard + checkpoint; RevNets: standard + reversible; 3 depths, 2 devices. */
    cr_expect_eq(e.n_entries, 2 * 3 * 2 * 2);
    cr_expect_eq(e.n_skipped, 2 * 3 * 1 * 2);
    cr_expect_str_eq(e.entries[0].arch, "resnet-basic-3");
    cr_expect_str_eq(e.entries[0].dataset, "random");
    cr_expect_eq(e.entries[0].set.steps, 3);
    rb_experiment_free(&e);
}

/* Arrays, not pointers: Criterion re-executes the binary for each parameter, so pointers into
 * the parent's static data would not survive address-space randomization. */
typedef struct {
    char text[512];
    int line;              /* expected line in the message; 0 = no line */
    char needle[48];       /* expected words in the message */
} bad_case;

#define HEAD "[experiment]\nname = b\nkind = train\n"
static bad_case BAD[] = {
    { HEAD "[matrix]\narchs = resnet-32\ndatasets = cifar10\ncolor = blue\n", 7, "unknown key" },
    { HEAD "[matrx]\narchs = resnet-32\n", 5, "unknown section" },
    { HEAD "[matrix]\narchs = resnet-33\ndatasets = cifar10\n", 5, "resnet-33" },
    { HEAD "[matrix]\npairs = resnet-32\ndatasets = cifar10\n", 5, "RESNET:REVNET" },
    { HEAD "[train]\nsteps = 12x\n[matrix]\narchs = resnet-32\ndatasets = cifar10\n", 5,
      "whole number" },
    { HEAD "[train]\nlr = fast\n", 5, "number" },
    { HEAD "[train]\nbatch = 0\n", 5, "[1, 65536]" },
    { HEAD "[matrix]\narchs = resnet-32\ndatasets = imagenet\n", 6, "imagenet" },
    { HEAD "[matrix]\narchs = resnet-32\ndatasets = cifar10\nmodes = fast\n", 7, "fast" },
    { HEAD "[matrix]\narchs = resnet-32\ndatasets = cifar10\ndevices = tpu\n", 7, "tpu" },
    { HEAD "[matrix]\narchs = resnet-32\ndatasets = cifar10\nseeds = -1\n", 7, "seeds" },
    { HEAD "[mem]\nsteps = 3\n", 5, "does not apply" },
    { HEAD "this line is junk\n", 4, "key = value" },
    { HEAD "[experiment\n", 4, "key = value" },
    { HEAD "[matrix]\nunits = 3\ndatasets = cifar10\n", 5, "families" },
    { HEAD "[matrix]\narchs = resnet-32\n", 5, "needs datasets" },
    { HEAD "[matrix]\narchs = resnet-101\ndatasets = cifar10\n", 5, "ImageNet" },
    { "[experiment]\nname = b\nkind = sleep\n", 3, "train or mem" },
    { "[experiment]\nkind = train\n[matrix]\narchs = resnet-32\ndatasets = cifar10\n", 0,
      "needs a name" },
    { HEAD, 0, "no [matrix]" },
    { "[experiment]\nname = b\nkind = mem\n[matrix]\narchs = resnet-32\nlr = 0.1\n", 6,
      "training setting" },
    { "[experiment]\nname = b\nkind = mem\n[matrix]\narchs = resnet-32\ndatasets = cifar10\n",
      5, "no datasets" },
    /* A list key given twice: 12 families overran the 8-slot array (SIGSEGV); units and
     * seeds were cut at 64 without a word. Now any repeated key is an error at its line. */
#define FAMILIES4 "families = resnet-basic revnet-basic resnet-bottleneck revnet-bottleneck\n"
    { HEAD "[matrix]\n" FAMILIES4 FAMILIES4 FAMILIES4 "units = 1\ndatasets = cifar10\n", 6,
      "'families' is given twice" },
    { HEAD "[matrix]\nfamilies = resnet-basic\nunits = 1 2\nunits = 3\ndatasets = cifar10\n",
      7, "first on line 6" },
    { HEAD "[matrix]\narchs = resnet-32\nseeds = 1\ndatasets = cifar10\n[matrix.b]\n"
      "archs = resnet-32\ndatasets = cifar10\nseeds = 2\nseeds = 3\n", 12, "'seeds'" },
    { HEAD "[matrix]\narchs = resnet-32\ndatasets = cifar10\ndatasets = cifar100\n", 7,
      "'datasets' is given twice" },
    { HEAD "[train]\nsteps = 10\nsteps = 20\n[matrix]\narchs = resnet-32\ndatasets = cifar10\n",
      6, "'steps'" },
    { HEAD "name = c\n[matrix]\narchs = resnet-32\ndatasets = cifar10\n", 4, "'name'" },
    /* Sections given twice: two [matrix] were merged (the second's datasets applied to the
     * first's archs), a second [train] overrode the first. */
    { HEAD "[matrix]\narchs = resnet-32\ndatasets = cifar10\n[matrix]\narchs = revnet-38\n"
      "datasets = cifar100\n", 7, "[matrix] appears twice (first on line 4)" },
    { HEAD "[matrix.a]\narchs = resnet-32\ndatasets = cifar10\n[matrix.a]\nseeds = 2\n", 7,
      "its own label" },
    { HEAD "[train]\nsteps = 10\n[matrix]\narchs = resnet-32\ndatasets = cifar10\n[train]\n"
      "batch = 20\n", 9, "[train] appears twice" },
    /* Back to back, the repeated header has no other section between them. */
    { HEAD "[train]\nsteps = 10\n[train]\nbatch = 20\n", 6, "[train] appears twice" },
    { HEAD "[experiment]\nschedule = s\n", 4, "[experiment] appears twice" },
    /* [slurm]: its values go into batch scripts, so nothing a shell would read otherwise. */
    { HEAD "[slurm]\ntime = 2h; rm -rf /\n", 5, "time limit" },
    { HEAD "[slurm]\nmem = lots\n", 5, "4G" },
    { HEAD "[slurm]\npartition = gpu $(id)\n", 5, "partition name" },
    { HEAD "[slurm]\ngpus_per_task = -1\n", 5, "whole number" },
    { HEAD "[slurm]\nqos = high\n", 5, "unknown key" },
    { HEAD "[slurm]\ntime = 10\ntime = 20\n", 6, "'time' is given twice" },
    { HEAD "[slurm]\ntime = 10\n[matrix]\narchs = resnet-32\ndatasets = cifar10\n[slurm]\n"
      "mem = 1G\n", 9, "[slurm] appears twice" },
};

ParameterizedTestParameters(experiment, bad_input_names_the_line)
{
    return cr_make_param_array(bad_case, BAD, sizeof BAD / sizeof BAD[0]);
}

ParameterizedTest(bad_case *c, experiment, bad_input_names_the_line)
{
    rb_experiment e;
    char err[512] = "";
    cr_assert_eq(rb_experiment_parse(&e, "bad.ini", c->text, err, sizeof err), -1,
                 "accepted: %s", c->text);
    char prefix[32];
    if (c->line) snprintf(prefix, sizeof prefix, "bad.ini:%d: ", c->line);
    else snprintf(prefix, sizeof prefix, "bad.ini: ");
    cr_expect_eq(strncmp(err, prefix, strlen(prefix)), 0, "want prefix '%s', got '%s'", prefix,
                 err);
    cr_expect(strstr(err, c->needle) != NULL, "want '%s' in '%s'", c->needle, err);
    cr_expect_eq(e.n_entries, 0);
}

Test(experiment, slurm_section)
{
    rb_experiment e;
    char err[512] = "";
    const char *text = HEAD "[matrix]\narchs = resnet-32\ndatasets = cifar10\n[slurm]\n"
                            "partition = gpu\ntime = 1-12:00:00\nmem = 8G\ngpus_per_task = 2\n";
    cr_assert_eq(rb_experiment_parse(&e, "s.ini", text, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(e.slurm.partition, "gpu");
    cr_expect_str_eq(e.slurm.time, "1-12:00:00");
    cr_expect_str_eq(e.slurm.mem, "8G");
    cr_expect_eq(e.slurm.gpus_per_task, 2);
    cr_expect_eq(e.slurm.cpus_per_task, 0, "not set: the entry's threads");
    rb_experiment_free(&e);
    /* Without the section nothing is set. */
    cr_assert_eq(rb_experiment_parse(&e, "s.ini", HEAD "[matrix]\narchs = resnet-32\n"
                                     "datasets = cifar10\n", err, sizeof err), 0, "%s", err);
    cr_expect_eq(e.slurm.gpus_per_task, -1);
    cr_expect_eq(e.slurm.partition[0], '\0');
    rb_experiment_free(&e);
}

Test(experiment, long_lines_are_refused_not_truncated)
{
    char text[1024];
    snprintf(text, sizeof text, HEAD "[matrix]\narchs = resnet-32%0300d\n", 0);
    rb_experiment e;
    char err[512] = "";
    cr_assert_eq(rb_experiment_parse(&e, "long.ini", text, err, sizeof err), -1);
    cr_expect(strstr(err, "long.ini:5: line longer") != NULL, "%s", err);
}

/* A label may come back only as its own section: distinct labels stay distinct matrices. */
Test(experiment, distinct_matrix_labels_stay_apart)
{
    const char *text = HEAD "[matrix.a]\narchs = resnet-32\ndatasets = cifar10\n"
                            "[matrix.b]\narchs = revnet-38\ndatasets = cifar100\nseeds = 1 2\n";
    rb_experiment e;
    char err[512] = "";
    cr_assert_eq(rb_experiment_parse(&e, "ok.ini", text, err, sizeof err), 0, "%s", err);
    cr_assert_eq(e.n_entries, 3);
    cr_expect_str_eq(e.entries[0].dataset, "cifar10");
    cr_expect_str_eq(e.entries[1].dataset, "cifar100");
    cr_expect_str_eq(e.entries[2].group, "b");
    rb_experiment_free(&e);
}

/* A list at the item limit is accepted; one more item anywhere is refused, never cut. */
Test(experiment, lists_stop_at_the_item_limit)
{
    char text[4096];
    for (int extra = 0; extra < 2; extra++) {
        int n = snprintf(text, sizeof text, HEAD "[matrix]\narchs = resnet-32\n"
                                                 "datasets = cifar10\nseeds =");
        for (int i = 0; i < 64 + extra; i++)
            n += snprintf(text + n, sizeof text - (size_t)n, "%s%d", i % 8 ? " " : "\n  ", i);
        snprintf(text + n, sizeof text - (size_t)n, "\n");
        rb_experiment e;
        char err[512] = "";
        int rc = rb_experiment_parse(&e, "lim.ini", text, err, sizeof err);
        if (!extra) {
            cr_assert_eq(rc, 0, "%s", err);
            cr_expect_eq(e.n_entries, 64);
            rb_experiment_free(&e);
        } else {
            cr_assert_eq(rc, -1);
            cr_expect(strstr(err, "lim.ini:7: seeds: more than 64 items") != NULL, "%s", err);
        }
    }
}

/* Builds HEAD + "description = x" + n indented continuation lines of "  word". */
static char *continued_description(int n, size_t *len)
{
    static const char line[] = "  word\n";
    size_t head = strlen(HEAD "description = x\n");
    char *t = malloc(head + (size_t)n * (sizeof line - 1) + 1);
    cr_assert_not_null(t);
    memcpy(t, HEAD "description = x\n", head);
    for (int i = 0; i < n; i++) memcpy(t + head + (size_t)i * (sizeof line - 1), line, sizeof line - 1);
    *len = head + (size_t)n * (sizeof line - 1);
    t[*len] = '\0';
    return t;
}

/* Continuation lines cost work linear in their number: 700,000 of them took over a minute
 * (each appended to a copy of the whole value so far). The parser's own count of the bytes
 * it copied is the measure, not time. Two parts: a long valid value is read in linear work,
 * and a runaway one is refused at the line where it passes the limit, reading no further. */
Test(experiment, continuation_lines_cost_linear_work)
{
    /* 140 lines of 5 bytes ("word" + the joining space): a 701-character description. */
    size_t len, work = 0;
    char *t = continued_description(140, &len);
    rb_experiment e;
    char err[512] = "";
    cr_assert_eq(rb_experiment_parse_work(&e, "c.ini", t, err, sizeof err, &work), -1);
    cr_expect(strstr(err, "no [matrix]") != NULL, "%s", err);
    /* Each byte is copied once by the line reader and at most once into a value. Growing a
     * value to capacity 2 * (length + 1) at least doubles the length copied from one
     * reallocation to the next, so all the copies sum to under twice the final length (a
     * geometric series). 4x the text bounds the work, where appending to a copy costs
     * ~n^2/2 * 5 bytes (49,000 here, 1.2e12 for 700,000 lines). */
    const size_t MAX_WORK_PER_BYTE = 4;
    cr_expect_leq(work, MAX_WORK_PER_BYTE * len, "copied %zu bytes for a %zu-byte text", work,
                  len);
    free(t);

    /* 700,000 lines: "x" on line 4 plus 5 characters a line passes 16384 characters on line
     * 4 + 3277; the parser stops there, having copied at most 4x what it read. */
    size_t read_len;
    free(continued_description(3277, &read_len));
    t = continued_description(700000, &len);
    cr_assert_eq(rb_experiment_parse_work(&e, "big.ini", t, err, sizeof err, &work), -1);
    cr_expect(strstr(err, "big.ini:3281: a value longer than 16384") != NULL, "%s", err);
    cr_expect_leq(work, MAX_WORK_PER_BYTE * read_len, "copied %zu bytes before stopping", work);
    free(t);
}

Test(experiment, shipped_files_parse)
{
    static const struct {
        const char *file;
        int min_entries;
    } files[] = { { "cifar-paper.ini", 12 },     { "cifar-quick.ini", 12 },
                  { "cifar-memory.ini", 12 },    { "memory-depth.ini", 20 },
                  { "grad-angle.ini", 1 },       { "imagenet-memory.ini", 2 },
                  { "cifar-long.ini", 2 } };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", RV_EXPERIMENTS_DIR, files[i].file);
        rb_experiment e;
        char err[512] = "";
        cr_expect_eq(rb_experiment_load(&e, path, err, sizeof err), 0, "%s", err);
        cr_expect_geq(e.n_entries, files[i].min_entries, "%s", files[i].file);
        rb_experiment_free(&e);
    }
    rb_experiment e;
    char err[512] = "";
    cr_expect_eq(rb_experiment_load(&e, "/nonexistent/x.ini", err, sizeof err), -1);
    cr_expect(strstr(err, "cannot open") != NULL, "%s", err);
}

/* The longer schedule (issue 14): the ResNet-32 / RevNet-38 pair on CIFAR-10, 16,000 steps
 * at batch 100 with the paper's recipe, checkpointed often enough that an interrupted sitting
 * loses at most 500 steps. */
Test(experiment, the_long_schedule_is_the_pair_at_a_fifth_of_the_paper)
{
    rb_experiment e;
    char err[512] = "";
    cr_assert_eq(rb_experiment_load(&e, RV_EXPERIMENTS_DIR "/cifar-long.ini", err, sizeof err),
                 0, "%s", err);
    cr_expect_str_eq(e.schedule, "long");
    cr_assert_eq(e.n_entries, 2);
    cr_expect_str_eq(e.entries[0].arch, "resnet-32");
    cr_expect_str_eq(e.entries[1].arch, "revnet-38");
    cr_expect_str_eq(e.entries[1].mode, "reversible");
    for (int i = 0; i < 2; i++) {
        cr_expect_str_eq(e.entries[i].dataset, "cifar10");
        cr_expect_eq(e.entries[i].set.steps, 16000);
        cr_expect_eq(e.entries[i].set.batch, 100);
        cr_expect_eq(e.entries[i].set.checkpoint_every, 500);
        cr_expect_float_eq(e.entries[i].set.lr, 0.1, 1e-12);
        cr_expect_float_eq(e.entries[i].set.weight_decay, 2e-4, 1e-12);
    }
    rb_experiment_free(&e);
}
