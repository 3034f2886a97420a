/* scratch_dir.c: see scratch_dir.h. */
#include "scratch_dir.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char g_dir[PATH_MAX];

void scratch_dir_make(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/rv-test-train-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir), "mkdtemp: %s", strerror(errno));
}

/* rm -r, recursing into folders (checkpoints/ and the like). */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[PATH_MAX * 2];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

void scratch_dir_remove(void) { remove_tree(g_dir); }

char *path_in(const char *name)
{
    static char bufs[8][PATH_MAX + 64];
    static int next;
    char *p = bufs[next++ % 8];
    snprintf(p, PATH_MAX + 64, "%s/%s", g_dir, name);
    return p;
}

unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

void write_all(const char *path, const unsigned char *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    cr_assert_eq(fclose(f), 0, "cannot write %s: %s", path, strerror(errno));
}

void write_text(const char *path, const char *text)
{
    write_all(path, (const unsigned char *)text, strlen(text));
}

char *read_text(const char *path)
{
    size_t len;
    char *text = (char *)read_all(path, &len);
    text[len] = '\0'; /* read_all allocates one byte more */
    return text;
}

char *read_output(const char *path)
{
    enum { CAP = 1 << 16 };
    static char bufs[3][CAP];
    static int next;
    char *b = bufs[next++ % 3];
    b[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return b;
    size_t n = fread(b, 1, CAP - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}
