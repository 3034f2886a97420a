/*
 * progress.h: progress reporting of a long run on stderr.
 *
 * On a terminal (isatty) one line is redrawn in place at most every 0.2 s:
 *   train revnet-38 [=========>          ] 47.5%  38000/80000  1234 img/s  ETA 1h02m  loss 0.731
 * Otherwise (a log file, a pipe, a batch job) a plain line is printed at most every 30 s and at
 * the end, so logs stay short and readable.
 * The rate and the ETA count only the steps done by this process (a resumed run starts its
 * clock at the step it resumed from).
 *
 * Owns nothing; the struct is plain state held by the caller.
 */
#ifndef RB_PROGRESS_H
#define RB_PROGRESS_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    FILE *out;
    int tty;               /* 1: redraw one line; 0: periodic plain lines */
    char label[64];
    long total;            /* steps of the whole run */
    long first;            /* step this process started at */
    long images_per_step;  /* for the images/s figure */
    double t0_ms;          /* when this process started */
    double interval_ms;    /* minimum time between two outputs */
    double last_ms;        /* time of the last output; < 0 before the first */
    int drawn;             /* a terminal line is open (needs a newline before other output) */
} rb_progress;

/* Starts reporting on out: label names the run, first/total are steps, images_per_step the
 * batch size. Detects a terminal with isatty(fileno(out)). */
void rb_progress_begin(rb_progress *p, FILE *out, const char *label, long first, long total,
                       long images_per_step);

/* Reports that step steps are done; extra (may be NULL) is appended, e.g. "loss 0.731".
 * Prints only when the interval has passed (always when step == total). */
void rb_progress_update(rb_progress *p, long step, const char *extra);

/* Ends the report: a final line with status (e.g. "finished", "interrupted"). */
void rb_progress_end(rb_progress *p, long step, const char *status);

/*
 * Formats one report line (without newline) into buf: label, a bar of bar_width characters
 * (0 = none), percent, step/total, rate in images/s, ETA, extra. elapsed_ms is the time this
 * process has spent on steps first..step. Exposed for tests.
 */
void rb_progress_format(char *buf, size_t len, const char *label, long first, long step,
                        long total, long images_per_step, double elapsed_ms, int bar_width,
                        const char *extra);

#endif
