/*
 * fuzz_util.h: what the libFuzzer targets share: a private scratch folder (on /dev/shm when
 * there is one, so that the files each input becomes cost no disk writes), writing a file in
 * it, and a check that aborts (a crash to libFuzzer) with a message when an invariant fails.
 */
#ifndef RB_FUZZ_UTIL_H
#define RB_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The scratch folder of this process, created on first use and removed at exit. */
const char *fuzz_dir(void);
/* Writes n bytes to fuzz_dir()/rel, creating the folders on the way; then pads the file with
 * zero bytes up to total (when total > n; a sparse tail, not written). Aborts on any I/O error: that is the harness's
 * failure, not the code's under test. */
void fuzz_write(const char *rel, const uint8_t *data, size_t n, size_t total);
/* fuzz_dir()/rel in a static buffer (one at a time). */
const char *fuzz_path(const char *rel);
/* Aborts with the message when cond is false: an invariant of the code under test broke. */
void fuzz_check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
