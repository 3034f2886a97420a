/* mkdirs.c: mkdir -p (mkdirs.h). */
#include "common/mkdirs.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Writes a message into why and returns s. */
static rv_status mkdirs_fail(char *why, size_t why_len, rv_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static rv_status mkdirs_fail(char *why, size_t why_len, rv_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return s;
}

rv_status rb_mkdirs(const char *dir, char *why, size_t why_len)
{
    char buf[PATH_MAX];
    if (!dir || !*dir) return mkdirs_fail(why, why_len, RV_ERR_ARG, "mkdirs: empty path");
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return mkdirs_fail(why, why_len, RV_ERR_ARG, "mkdirs: path too long: %s", dir);
    /* Create each prefix ending before a '/', then the whole path; EEXIST is success as long
     * as what exists is a folder. */
    for (char *c = buf + 1;; c++) {
        int end = (*c == '\0');
        if (*c == '/' || end) {
            char saved = *c;
            *c = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return mkdirs_fail(why, why_len, RV_ERR_IO, "cannot create folder %s: %s", buf,
                                   strerror(errno));
            struct stat sb;
            if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
                return mkdirs_fail(why, why_len, RV_ERR_IO, "%s exists and is not a folder", buf);
            *c = saved;
        }
        if (end) break;
    }
    return RV_OK;
}
