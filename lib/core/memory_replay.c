/*
 * memory_replay.c: running a recorded program against the plan (memory.c), and the accountant.
 *
 * A replay of program p expects p's recorded events in order: the i-th rv_mem_acquire must
 * match the i-th event's bytes and category and gets the address the layout gave that buffer;
 * the i-th rv_mem_release must give back exactly the buffer the plan releases there. The first
 * deviation breaks the replay (RV_ERR_PLAN, every later call refused) until rv_mem_run_end.
 * rv_mem_acquire / rv_mem_release are the entry points ops call in both phases: during a
 * recording they hand the call on to memory.c's recorder.
 *
 * The accountant counts requested bytes (not rounded) as buffers come and go in a replay:
 * current and peak per category, the peak of their sum and the peak of KEPT + TRANSIENT +
 * WORKSPACE, so the measured peak can be compared with rv_mem_planned's to the byte.
 *
 * Owns: the replay cursor (running, run_pos, run_broken) and the measured statistics of rv_mem.
 */
#include "memory_plan.h"

#include <string.h>

/* ---- replay ----------------------------------------------------------------------------- */

/* rv_mem_run_begin and rv_mem_run_end are kept apart from the recording pair they parallel:
 * each phase checks its own state, with a message of its own for every refusal. */
rv_status rv_mem_run_begin(rv_mem *m, int program)
{
    if (!m) return RV_ERR_ARG;
    rv_status s = rv_mem_check_program(m, program, "rv_mem_run_begin");
    if (s != RV_OK) return s;
    if (!m->finalized)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN, "rv_mem_run_begin: the plan is not finalized");
    if (m->running >= 0)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_run_begin: program %d is still running", m->running);
    if (m->prog[program].state != PROG_RECORDED)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_run_begin: program %d was never recorded", program);
    m->running = program;
    m->run_pos = 0;
    m->run_broken = 0;
    return RV_OK;
}

rv_status rv_mem_run_end(rv_mem *m)
{
    if (!m) return RV_ERR_ARG;
    if (m->running < 0)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN, "rv_mem_run_end: no replay in progress");
    int program = m->running;
    const mem_program *p = &m->prog[program];
    size_t pos = m->run_pos;
    int broken = m->run_broken;
    /* The run ends whatever happened: only the persistent buffers stay live. */
    m->running = -1;
    memcpy(m->stats.current_bytes, m->persist_bytes, sizeof m->stats.current_bytes);
    if (broken)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_run_end: program %d deviated from its plan at event %zu",
                           program, pos);
    if (pos != p->n_events) {
        const mem_event *e = &p->events[pos];
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_run_end: program %d ended after %zu of %zu events; the next "
                           "was the %s of '%s'",
                           program, pos, p->n_events, e->release ? "release" : "acquire",
                           p->bufs[e->buf].name);
    }
    return RV_OK;
}

static void *replay_address(const rv_mem *m, const mem_buf *b)
{
    return (char *)m->arena + m->region_base + b->offset;
}

/* replay_acquire and replay_release open alike (a broken replay refuses every further event)
 * and stay apart: each checks its own kind of event and names what the caller passed (a
 * buffer's name, a pointer). */
static rv_status replay_acquire(rv_mem *m, void **out, const char *name, rv_mem_category cat,
                                size_t bytes)
{
    int program = m->running;
    const mem_program *p = &m->prog[program];
    size_t pos = m->run_pos;
    if (m->run_broken)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_acquire: '%s' after program %d deviated from its plan", name,
                           program);
    m->run_broken = 1; /* cleared below when the event matches */
    if (pos >= p->n_events)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_acquire: '%s' (%s, %zu bytes) is an extra acquire: program %d "
                           "recorded %zu events", name, rv_mem_category_name(cat), bytes, program,
                           p->n_events);
    const mem_event *e = &p->events[pos];
    const mem_buf *b = &p->bufs[e->buf];
    if (e->release)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_acquire: '%s' at event %zu of program %d, where the plan "
                           "releases '%s'", name, pos, program, b->name);
    if (b->bytes != bytes || b->category != cat)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_acquire: '%s' (%s, %zu bytes) at event %zu of program %d, "
                           "where the plan acquires '%s' (%s, %zu bytes)",
                           name, rv_mem_category_name(cat), bytes, pos, program, b->name,
                           rv_mem_category_name(b->category), b->bytes);
    m->run_broken = 0;
    m->run_pos++;
    m->stats.current_bytes[cat] += bytes;
    rv_mem_stats_touch(&m->stats);
    *out = replay_address(m, b);
    return RV_OK;
}

static rv_status replay_release(rv_mem *m, void *ptr)
{
    int program = m->running;
    const mem_program *p = &m->prog[program];
    size_t pos = m->run_pos;
    if (m->run_broken)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_release: %p after program %d deviated from its plan", ptr,
                           program);
    if (pos < p->n_events && p->events[pos].release &&
        replay_address(m, &p->bufs[p->events[pos].buf]) == ptr) {
        const mem_buf *b = &p->bufs[p->events[pos].buf];
        m->run_pos++;
        m->stats.current_bytes[b->category] -= b->bytes;
        return RV_OK;
    }
    m->run_broken = 1;
    /* The error path: find which live buffer, if any, ptr is, to say what went wrong. Buffers
     * that do not overlap in time may share an address, so look only at live ones. */
    const char *what = NULL;
    for (size_t i = 0; i < pos; i++) {
        const mem_buf *b = &p->bufs[p->events[i].buf];
        if (!p->events[i].release && (size_t)b->last_event >= pos && replay_address(m, b) == ptr) {
            what = b->name;
            break;
        }
    }
    if (pos >= p->n_events)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_release: %s%s%s (%p) is an extra release: program %d "
                           "recorded %zu events", what ? "'" : "", what ? what : "a pointer",
                           what ? "'" : "", ptr, program, p->n_events);
    const mem_event *e = &p->events[pos];
    const char *expected = p->bufs[e->buf].name;
    if (!what)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_release: %p is not a live buffer of program %d (event %zu "
                           "expects the %s of '%s')", ptr, program, pos,
                           e->release ? "release" : "acquire", expected);
    return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                       "rv_mem_release: '%s' at event %zu of program %d, where the plan %s '%s'",
                       what, pos, program, e->release ? "releases" : "acquires", expected);
}

/* ---- acquire / release ------------------------------------------------------------------ */

rv_status rv_mem_acquire(rv_mem *m, void **out, const char *name, rv_mem_category cat,
                         size_t bytes)
{
    if (!m) return RV_ERR_ARG;
    if (out) *out = NULL;
    rv_status s = rv_mem_check_buffer_args(m, "rv_mem_acquire", out, name, cat, bytes);
    if (s != RV_OK) return s;
    if (m->recording >= 0) return rv_mem_record_acquire(m, out, name, cat, bytes);
    if (m->running >= 0) return replay_acquire(m, out, name, cat, bytes);
    return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                       "rv_mem_acquire: '%s' outside a recording or a replay", name);
}

rv_status rv_mem_release(rv_mem *m, void *p)
{
    if (!m) return RV_ERR_ARG;
    if (!p) return rv_ctx_fail(m->ctx, RV_ERR_ARG, "rv_mem_release: the pointer is NULL");
    if (m->recording >= 0) return rv_mem_record_release(m, p);
    if (m->running >= 0) return replay_release(m, p);
    return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                       "rv_mem_release: %p outside a recording or a replay", p);
}

/* ---- the accountant --------------------------------------------------------------------- */

void rv_mem_measured(const rv_mem *m, rv_mem_stats *out)
{
    if (!out) return;
    if (!m) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = m->stats;
}

void rv_mem_reset_peaks(rv_mem *m)
{
    if (!m) return;
    memcpy(m->stats.peak_bytes, m->stats.current_bytes, sizeof m->stats.peak_bytes);
    m->stats.peak_total_bytes = 0;
    m->stats.peak_activation_bytes = 0;
    rv_mem_stats_touch(&m->stats);
}
