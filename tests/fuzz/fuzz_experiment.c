/*
 * fuzz_experiment.c: libFuzzer target for the experiment-file parser
 * (harness/experiments/experiment.c). The input is the file's text.
 *
 * Beyond "no crash, no leak, no undefined behaviour" (the sanitizers), it checks the parser's
 * contract: a refusal names the file (and says something), an accepted file expands to
 * 1..10000 entries whose strings are terminated, and the work stays linear in the text
 * (rb_experiment_parse_work: at most 4 bytes copied per byte of text, the bound derived in
 * test_experiment.c: once by the line reader, once into a value, under twice more by the
 * doubling growth of values; the fuzzer found 3.02x, past an earlier, underived 3x).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/experiment.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text), work = 0;
    rb_experiment e;
    char err[512] = "";
    int rc = rb_experiment_parse_work(&e, "fuzz.ini", text, err, sizeof err, &work);
    fuzz_check(work <= 4 * len, "copied %zu bytes for a %zu-byte text", work, len);
    if (rc != 0) {
        fuzz_check(rc == -1, "returned %d", rc);
        fuzz_check(strncmp(err, "fuzz.ini", 8) == 0 && strlen(err) > 10,
                   "error without the file name: '%s'", err);
        fuzz_check(e.n_entries == 0 && e.entries == NULL, "a refused file left entries");
    } else {
        fuzz_check(e.n_entries >= 1 && e.n_entries <= 10000, "%d entries", e.n_entries);
        fuzz_check(memchr(e.name, 0, sizeof e.name) && e.name[0], "name not terminated");
        for (int i = 0; i < e.n_entries; i++) {
            const rb_exp_entry *x = &e.entries[i];
            fuzz_check(memchr(x->arch, 0, sizeof x->arch) && x->arch[0] &&
                           memchr(x->mode, 0, sizeof x->mode) && x->mode[0] &&
                           memchr(x->dataset, 0, sizeof x->dataset) && x->dataset[0] &&
                           memchr(x->group, 0, sizeof x->group),
                       "entry %d has an unterminated or empty field", i);
            fuzz_check(x->set.steps >= 1 && x->set.batch >= 1, "entry %d: steps %ld batch %d",
                       i, x->set.steps, x->set.batch);
        }
    }
    rb_experiment_free(&e);
    free(text);
    return 0;
}
