/*
 * scratch_dir.h: a fresh folder under /tmp for each test, removed with everything in it
 * afterwards (test_train, test_checkpoint). Use as `.init = scratch_dir_make,
 * .fini = scratch_dir_remove`; the folder's path is in g_dir.
 */
#ifndef RV_TEST_SCRATCH_DIR_H
#define RV_TEST_SCRATCH_DIR_H

#include <limits.h>

extern char g_dir[PATH_MAX];

void scratch_dir_make(void);
void scratch_dir_remove(void);

#endif
