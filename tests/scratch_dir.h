/*
 * scratch_dir.h: a fresh folder under /tmp for each test, removed with everything in it
 * afterwards (test_train, test_checkpoint), and whole-file reads and writes for them. Use as `.init = scratch_dir_make,
 * .fini = scratch_dir_remove`; the folder's path is in g_dir.
 */
#ifndef RV_TEST_SCRATCH_DIR_H
#define RV_TEST_SCRATCH_DIR_H

#include <limits.h>

extern char g_dir[PATH_MAX];

void scratch_dir_make(void);
void scratch_dir_remove(void);

#include <stddef.h>

/* Whole file into memory (malloc'ed; *len gets its size); fails the test if it cannot. */
unsigned char *read_all(const char *path, size_t *len);
/* Writes buf to path, replacing it; fails the test if it cannot. */
void write_all(const char *path, const unsigned char *buf, size_t len);

/* Runs the shell command made from fmt (system(3)); returns its exit status, -1 when it did
 * not exit normally. */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
