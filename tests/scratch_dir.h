/*
 * scratch_dir.h: a fresh folder under /tmp for each test, removed with everything in it
 * afterwards (the training, checkpoint, merge and command tests), paths in it, whole-file reads
 * and writes, and shell commands. Use as `.init = scratch_dir_make, .fini = scratch_dir_remove`;
 * the folder's path is in g_dir. The file and shell helpers work on any path.
 */
#ifndef RV_TEST_SCRATCH_DIR_H
#define RV_TEST_SCRATCH_DIR_H

#include <limits.h>

extern char g_dir[PATH_MAX];

void scratch_dir_make(void);
void scratch_dir_remove(void);

#include <stddef.h>

/* g_dir/name, in one of 8 static buffers used in turn (so that a few can be live at once). */
char *path_in(const char *name);

/* Whole file into memory (malloc'ed; *len gets its size); fails the test if it cannot. */
unsigned char *read_all(const char *path, size_t *len);
/* Writes buf to path, replacing it; fails the test if it cannot. */
void write_all(const char *path, const unsigned char *buf, size_t len);
/* Writes the string text to path, replacing it; fails the test if it cannot. */
void write_text(const char *path, const char *text);
/* Whole file as a NUL-terminated string (malloc'ed); fails the test if it cannot. */
char *read_text(const char *path);
/* What a command left in the file at path, for messages: cut at 64 KiB, in one of 3 static
 * buffers used in turn; "" when there is no such file. */
char *read_output(const char *path);

/* Runs the shell command made from fmt (system(3)); returns its exit status, -1 when it did
 * not exit normally. */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
