/*
 * report_memory.h: the report's memory and complexity tables (report_memory.c), which
 * rb_report_write (report.c) places after the CIFAR and ImageNet tables.
 */
#ifndef RB_REPORT_MEMORY_H
#define RB_REPORT_MEMORY_H

#include <stdio.h>

#include "reporting/report_format.h"

/* Each writes its table as out/tables/NAME.md and NAME.tex, appends the Markdown to md, and
 * returns 0, or -1 after a message on stderr (rb_table_finish). */
int rb_report_complexity(const rb_report_ctx *c, const char *out, FILE *md);
int rb_report_memory(const rb_report_ctx *c, const char *out, FILE *md);

#endif
