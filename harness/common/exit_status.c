/* exit_status.c: the error line every command prints (exit_status.h). */
#include "common/exit_status.h"

#include <stdarg.h>
#include <stdio.h>

void rb_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "revbench %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
