/*
 * progress.c: a progress bar with ETA and images/s on a terminal, periodic plain lines
 * otherwise (see progress.h).
 *
 * rate = images_per_step * (step - first) / elapsed;  ETA = (total - step) * elapsed /
 * (step - first). Both describe this process only, so a resumed run does not claim the
 * throughput of the steps it skipped.
 */
#include "reporting/progress.h"

#include <string.h>
#include <unistd.h>

#include "common/measure.h"

#define PROGRESS_TTY_INTERVAL_MS 200.0
#define PROGRESS_LOG_INTERVAL_MS 30000.0
#define PROGRESS_BAR_WIDTH 24

/* "1h02m", "3m07s" or "12s". */
static void format_duration(char *buf, size_t len, double seconds)
{
    if (seconds < 0) seconds = 0;
    long s = (long)(seconds + 0.5);
    if (s >= 3600) snprintf(buf, len, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
    else if (s >= 60) snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
    else snprintf(buf, len, "%lds", s);
}

void rb_progress_format(char *buf, size_t len, const char *label, long first, long step,
                        long total, long images_per_step, double elapsed_ms, int bar_width,
                        const char *extra)
{
    size_t used = 0;
#define APPEND(...)                                                                           \
    do {                                                                                      \
        if (used < len) {                                                                     \
            int n_ = snprintf(buf + used, len - used, __VA_ARGS__);                           \
            if (n_ > 0) used += (size_t)n_;                                                   \
        }                                                                                     \
    } while (0)

    if (len == 0) return;
    buf[0] = '\0';
    double frac = total > 0 ? (double)step / (double)total : 1.0;
    if (frac > 1) frac = 1;
    if (frac < 0) frac = 0;
    APPEND("%s", label ? label : "");
    if (bar_width > 0) {
        int filled = (int)(frac * bar_width);
        APPEND(" [");
        for (int i = 0; i < bar_width; i++)
            APPEND("%c", i < filled ? '=' : (i == filled ? '>' : ' '));
        APPEND("]");
    }
    APPEND(" %5.1f%%  %ld/%ld", 100.0 * frac, step, total);
    long done = step - first;
    if (done > 0 && elapsed_ms > 0) {
        double per_step_s = elapsed_ms / 1e3 / (double)done;
        char eta[32];
        format_duration(eta, sizeof eta, per_step_s * (double)(total - step));
        APPEND("  %.0f img/s  ETA %s", (double)images_per_step / per_step_s, eta);
    }
    if (extra && *extra) APPEND("  %s", extra);
#undef APPEND
}

void rb_progress_begin(rb_progress *p, FILE *out, const char *label, long first, long total,
                       long images_per_step)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = isatty(fileno(out));
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->first = first;
    p->total = total;
    p->images_per_step = images_per_step;
    p->t0_ms = rb_now_ms();
    p->interval_ms = p->tty ? PROGRESS_TTY_INTERVAL_MS : PROGRESS_LOG_INTERVAL_MS;
    p->last_ms = -1;
}

static void emit(rb_progress *p, long step, const char *extra, double now)
{
    char line[512];
    rb_progress_format(line, sizeof line, p->label, p->first, step, p->total,
                       p->images_per_step, now - p->t0_ms, p->tty ? PROGRESS_BAR_WIDTH : 0,
                       extra);
    if (p->tty) {
        /* \r returns to the line start, \033[K clears what a longer previous line left. */
        fprintf(p->out, "\r%s\033[K", line);
        p->drawn = 1;
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
    p->last_ms = now;
}

void rb_progress_update(rb_progress *p, long step, const char *extra)
{
    if (!p->out) return;
    double now = rb_now_ms();
    /* The first plain line waits one interval too: a log wants the rate, not a 0% line. */
    double since = p->last_ms < 0 ? now - p->t0_ms : now - p->last_ms;
    if (step < p->total && since < p->interval_ms) return;
    emit(p, step, extra, now);
}

void rb_progress_end(rb_progress *p, long step, const char *status)
{
    if (!p->out) return;
    double now = rb_now_ms();
    emit(p, step, status, now);
    if (p->tty) fputc('\n', p->out);
    fflush(p->out);
    p->drawn = 0;
}
