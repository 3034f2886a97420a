/* fuzz_util.c: see fuzz_util.h. */
#include "fuzz_util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[PATH_MAX];

static void remove_tree(const char *dir)
{
    /* The targets write at most a few files two levels deep; rm -r is the plainest way. */
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", dir);
}

static void cleanup(void)
{
    if (g_dir[0]) remove_tree(g_dir);
}

const char *fuzz_dir(void)
{
    if (g_dir[0]) return g_dir;
    struct stat sb;
    const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : NULL;
    if (!base) base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_dir, sizeof g_dir, "%s/revbench-fuzz.XXXXXX", base);
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "fuzz: cannot create a scratch folder in %s: %s\n", base,
                strerror(errno));
        abort();
    }
    atexit(cleanup);
    return g_dir;
}

const char *fuzz_path(const char *rel)
{
    static char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", fuzz_dir(), rel);
    return p;
}

void fuzz_write(const char *rel, const uint8_t *data, size_t n, size_t total)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", fuzz_dir(), rel);
    for (char *s = strchr(p + strlen(fuzz_dir()) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "fuzz: mkdir %s: %s\n", p, strerror(errno));
            abort();
        }
        *s = '/';
    }
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n)) {
        fprintf(stderr, "fuzz: cannot write %s: %s\n", p, strerror(errno));
        abort();
    }
    /* A sparse tail: reads as zeros, costs no writing (CIFAR files are 30 MB). */
    if (total > n && (fflush(f) != 0 || ftruncate(fileno(f), (off_t)total) != 0)) {
        fprintf(stderr, "fuzz: cannot extend %s: %s\n", p, strerror(errno));
        abort();
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot close %s: %s\n", p, strerror(errno));
        abort();
    }
}

void fuzz_check(int cond, const char *fmt, ...)
{
    if (cond) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz: invariant broken: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}
