/*
 * memory.c: the memory plan and its arena (see memory.h for the life cycle).
 *
 * A program is a recorded sequence of events e_0, e_1, ... where each event acquires or
 * releases one buffer b; buffer b lives over the closed event interval [first_b, last_b].
 * Two buffers of one program may share bytes only when their intervals are disjoint:
 *     [o_a, o_a + n_a) and [o_b, o_b + n_b) intersect  =>  last_a < first_b or last_b < first_a.
 * Layout (rv_mem_finalize): persistent buffers are laid end to end from offset 0; then every
 * program is packed on its own, greedily by decreasing size, each buffer going into the
 * smallest gap (best fit) left by the already placed buffers whose lifetimes overlap its own,
 * or past the last of them; all programs share one region after the persistent ones, sized for
 * the largest, because two programs never run at the same time. Every offset is a multiple of
 * RV_MEM_ALIGN. The arena is one rv_ctx_alloc of persistent + largest region bytes.
 *
 * rv_mem_planned runs the accountant's bookkeeping (memory_replay.c) over a recorded event list,
 * so a replay measures exactly what the plan says.
 *
 * Owns: the host-side plan (names, events, persistent slots' addresses) and the one arena. The
 * replay of programs and the measured counters are memory_replay.c's, which stands above this
 * file; the structures both read are in memory_plan.h.
 */
#include "memory_plan.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One cache line; also what AVX-512 loads want, and a divisor of cudaMalloc's 256. */
#define RV_MEM_ALIGN ((size_t)64)
/* Sizes above this are refused up front so that offset arithmetic cannot wrap. */
#define RV_MEM_MAX_BYTES (SIZE_MAX / 4)
/* Placeholders live where nothing is mapped, so that an op that wrongly dereferences one during
 * a recording faults at once instead of scribbling: on 64-bit machines 2^62 is a non-canonical
 * address on x86-64 and beyond the user address space on AArch64; on 32-bit ones, above the
 * first megabyte, which stays unmapped. */
#if UINTPTR_MAX > 0xFFFFFFFFu
#define RV_MEM_PLACEHOLDER_BASE ((uintptr_t)1 << 62)
#else
#define RV_MEM_PLACEHOLDER_BASE ((uintptr_t)1 << 20)
#endif

const char *rv_mem_category_name(rv_mem_category c)
{
    switch (c) {
    case RV_MEM_PARAMS: return "params";
    case RV_MEM_GRADS: return "grads";
    case RV_MEM_OPTIMIZER: return "optimizer";
    case RV_MEM_KEPT: return "kept";
    case RV_MEM_TRANSIENT: return "transient";
    case RV_MEM_WORKSPACE: return "workspace";
    case RV_MEM_INPUT: return "input";
    case RV_MEM_N_CATEGORIES: break;
    }
    return "unknown";
}

/* ---- small helpers ---------------------------------------------------------------------- */

static size_t align_up(size_t x) { return (x + RV_MEM_ALIGN - 1) / RV_MEM_ALIGN * RV_MEM_ALIGN; }

/* a + b into *r; 0 when it would exceed RV_MEM_MAX_BYTES (so a later align_up cannot wrap). */
static int add_bytes(size_t a, size_t b, size_t *r)
{
    if (a > RV_MEM_MAX_BYTES || b > RV_MEM_MAX_BYTES - a) return 0;
    *r = a + b;
    return 1;
}

/* Grows *arr (elements of elem bytes) so that it holds at least need elements. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 1;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2) return 0;
        n *= 2;
    }
    if (n > SIZE_MAX / elem) return 0;
    void *p = realloc(*arr, n * elem);
    if (!p) return 0;
    *arr = p;
    *cap = n;
    return 1;
}

static void copy_name(char *dst, const char *src)
{
    size_t n = strlen(src);
    if (n > RV_MEM_NAME_LEN - 1) n = RV_MEM_NAME_LEN - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int is_activation(rv_mem_category c)
{
    return c == RV_MEM_KEPT || c == RV_MEM_TRANSIENT || c == RV_MEM_WORKSPACE;
}

/* Raises the peaks to the current values. */
void rv_mem_stats_touch(rv_mem_stats *s)
{
    size_t total = 0, act = 0;
    for (int c = 0; c < RV_MEM_N_CATEGORIES; c++) {
        if (s->current_bytes[c] > s->peak_bytes[c]) s->peak_bytes[c] = s->current_bytes[c];
        total += s->current_bytes[c];
        if (is_activation((rv_mem_category)c)) act += s->current_bytes[c];
    }
    if (total > s->peak_total_bytes) s->peak_total_bytes = total;
    if (act > s->peak_activation_bytes) s->peak_activation_bytes = act;
}

/* Statistics holding only the persistent buffers, current and peak alike. */
static void stats_persistent(const rv_mem *m, rv_mem_stats *s)
{
    memset(s, 0, sizeof *s);
    memcpy(s->current_bytes, m->persist_bytes, sizeof s->current_bytes);
    rv_mem_stats_touch(s);
}

static int valid_category(rv_mem_category c) { return (int)c >= 0 && c < RV_MEM_N_CATEGORIES; }

rv_status rv_mem_check_program(const rv_mem *m, int program, const char *fn)
{
    if (program < 0 || program >= RV_MEM_MAX_PROGRAMS)
        return rv_ctx_fail(m->ctx, RV_ERR_ARG, "%s: program %d is outside [0, %d)", fn, program,
                           RV_MEM_MAX_PROGRAMS);
    return RV_OK;
}

/* Common checks of a new buffer's description. */
rv_status rv_mem_check_buffer_args(rv_mem *m, const char *fn, const void *out, const char *name,
                                   rv_mem_category cat, size_t bytes)
{
    if (!out) return rv_ctx_fail(m->ctx, RV_ERR_ARG, "%s: the output pointer is NULL", fn);
    if (!name) return rv_ctx_fail(m->ctx, RV_ERR_ARG, "%s: name is NULL", fn);
    if (!valid_category(cat))
        return rv_ctx_fail(m->ctx, RV_ERR_ARG, "%s: '%s' has an unknown category %d", fn, name,
                           (int)cat);
    if (bytes == 0)
        return rv_ctx_fail(m->ctx, RV_ERR_ARG, "%s: '%s' asks for 0 bytes", fn, name);
    if (bytes > RV_MEM_MAX_BYTES)
        return rv_ctx_fail(m->ctx, RV_ERR_ARG, "%s: '%s' asks for %zu bytes, more than %zu", fn,
                           name, bytes, (size_t)RV_MEM_MAX_BYTES);
    return RV_OK;
}

/* A fresh placeholder range of `bytes` bytes, disjoint from every earlier one, so that an op
 * checking its arguments for aliasing during a recording sees what it would see for real. */
static rv_status next_placeholder(rv_mem *m, size_t bytes, uintptr_t *out)
{
    uintptr_t p = m->next_placeholder;
    size_t span = align_up(bytes);
    if (span > UINTPTR_MAX - p)
        return rv_ctx_fail(m->ctx, RV_ERR_NOMEM,
                           "memory plan: placeholder address space exhausted");
    m->next_placeholder = p + span;
    *out = p;
    return RV_OK;
}

/* ---- life cycle ------------------------------------------------------------------------- */

rv_status rv_mem_create(rv_ctx *ctx, rv_mem **out)
{
    if (!out) return rv_ctx_fail(ctx, RV_ERR_ARG, "rv_mem_create: out is NULL");
    *out = NULL;
    if (!ctx) return RV_ERR_ARG;
    rv_mem *m = calloc(1, sizeof *m);
    if (!m) return rv_ctx_fail(ctx, RV_ERR_NOMEM, "out of memory creating a memory plan");
    m->ctx = ctx;
    m->recording = -1;
    m->running = -1;
    m->next_placeholder = RV_MEM_PLACEHOLDER_BASE;
    *out = m;
    return RV_OK;
}

static void program_clear(mem_program *p)
{
    free(p->bufs);
    free(p->events);
    memset(p, 0, sizeof *p);
}

void rv_mem_destroy(rv_mem *m)
{
    if (!m) return;
    if (m->recording >= 0) rv_ctx_set_dry_run(m->ctx, m->saved_dry_run);
    for (int i = 0; i < RV_MEM_MAX_PROGRAMS; i++) program_clear(&m->prog[i]);
    free(m->persist);
    free(m->slots);
    rv_ctx_free(m->ctx, m->arena);
    free(m);
}

rv_status rv_mem_declare(rv_mem *m, void **slot, const char *name, rv_mem_category cat,
                         size_t bytes)
{
    if (!m) return RV_ERR_ARG;
    rv_status s = rv_mem_check_buffer_args(m, "rv_mem_declare", slot, name, cat, bytes);
    if (s != RV_OK) return s;
    if (m->finalized)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_declare: '%s' declared after rv_mem_finalize", name);
    size_t cap = m->cap_persist;
    if (!grow((void **)&m->persist, &cap, m->n_persist + 1, sizeof *m->persist))
        return rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "out of memory declaring '%s'", name);
    cap = m->cap_persist;
    if (!grow((void **)&m->slots, &cap, m->n_persist + 1, sizeof *m->slots))
        return rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "out of memory declaring '%s'", name);
    m->cap_persist = cap;
    size_t total;
    if (!add_bytes(m->persist_bytes[cat], bytes, &total))
        return rv_ctx_fail(m->ctx, RV_ERR_ARG, "rv_mem_declare: '%s' overflows the plan", name);
    uintptr_t ph = 0;
    s = next_placeholder(m, bytes, &ph);
    if (s != RV_OK) return s;

    mem_buf *b = &m->persist[m->n_persist];
    memset(b, 0, sizeof *b);
    copy_name(b->name, name);
    b->category = cat;
    b->bytes = bytes;
    b->placeholder = ph;
    b->first_event = -1;
    b->last_event = -1;
    m->slots[m->n_persist] = slot;
    m->n_persist++;
    m->persist_bytes[cat] = total;
    /* A placeholder until finalize, so that ops validating their pointers accept the buffer
     * while programs are recorded. */
    *slot = (void *)ph;
    return RV_OK;
}

/* ---- recording -------------------------------------------------------------------------- */

rv_status rv_mem_record_begin(rv_mem *m, int program)
{
    if (!m) return RV_ERR_ARG;
    rv_status s = rv_mem_check_program(m, program, "rv_mem_record_begin");
    if (s != RV_OK) return s;
    if (m->finalized)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_record_begin: program %d recorded after rv_mem_finalize",
                           program);
    if (m->recording >= 0)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_record_begin: program %d is still being recorded",
                           m->recording);
    if (m->prog[program].state != PROG_EMPTY)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_record_begin: program %d was already recorded", program);
    m->prog[program].state = PROG_RECORDING;
    m->recording = program;
    m->saved_dry_run = rv_ctx_dry_run(m->ctx);
    rv_ctx_set_dry_run(m->ctx, 1);
    return RV_OK;
}

rv_status rv_mem_record_end(rv_mem *m)
{
    if (!m) return RV_ERR_ARG;
    if (m->recording < 0)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN, "rv_mem_record_end: no recording in progress");
    int program = m->recording;
    mem_program *p = &m->prog[program];
    rv_ctx_set_dry_run(m->ctx, m->saved_dry_run);
    m->recording = -1;
    if (p->n_live > 0) {
        const char *name = "?";
        for (size_t i = 0; i < p->n_bufs; i++) {
            if (p->bufs[i].last_event < 0) {
                name = p->bufs[i].name;
                break;
            }
        }
        /* Format before clearing: the name lives in the program's storage. */
        rv_status s = rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                                  "rv_mem_record_end: program %d left %zu buffer(s) unreleased, "
                                  "the first '%s'; the recording is discarded",
                                  program, p->n_live, name);
        program_clear(p);
        return s;
    }
    p->state = PROG_RECORDED;
    return RV_OK;
}

static rv_status push_event(rv_mem *m, mem_program *p, size_t buf, int release)
{
    size_t cap = p->cap_events;
    if (p->n_events >= (size_t)LONG_MAX ||
        !grow((void **)&p->events, &cap, p->n_events + 1, sizeof *p->events))
        return rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "out of memory recording event %zu",
                           p->n_events);
    p->cap_events = cap;
    p->events[p->n_events].buf = buf;
    p->events[p->n_events].release = release;
    p->n_events++;
    return RV_OK;
}

rv_status rv_mem_record_acquire(rv_mem *m, void **out, const char *name, rv_mem_category cat,
                                size_t bytes)
{
    mem_program *p = &m->prog[m->recording];
    size_t cap = p->cap_bufs;
    if (!grow((void **)&p->bufs, &cap, p->n_bufs + 1, sizeof *p->bufs))
        return rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "out of memory recording '%s'", name);
    p->cap_bufs = cap;
    uintptr_t ph = 0;
    rv_status s = next_placeholder(m, bytes, &ph);
    if (s != RV_OK) return s;
    s = push_event(m, p, p->n_bufs, 0);
    if (s != RV_OK) return s;

    mem_buf *b = &p->bufs[p->n_bufs++];
    memset(b, 0, sizeof *b);
    copy_name(b->name, name);
    b->category = cat;
    b->bytes = bytes;
    b->placeholder = ph;
    b->first_event = (long)(p->n_events - 1);
    b->last_event = -1;
    p->n_live++;
    *out = (void *)ph;
    return RV_OK;
}

rv_status rv_mem_record_release(rv_mem *m, void *ptr)
{
    int program = m->recording;
    mem_program *p = &m->prog[program];
    uintptr_t x = (uintptr_t)ptr;
    /* Placeholders increase with the buffer index: binary search for the one that starts at x. */
    size_t lo = 0, hi = p->n_bufs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->bufs[mid].placeholder < x) lo = mid + 1;
        else hi = mid;
    }
    if (lo == p->n_bufs || p->bufs[lo].placeholder != x)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_release: %p is not a buffer acquired in the recording of "
                           "program %d", ptr, program);
    mem_buf *b = &p->bufs[lo];
    if (b->last_event >= 0)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_release: '%s' released twice in the recording of program %d",
                           b->name, program);
    rv_status s = push_event(m, p, lo, 1);
    if (s != RV_OK) return s;
    b->last_event = (long)(p->n_events - 1);
    p->n_live--;
    return RV_OK;
}

/* ---- layout ----------------------------------------------------------------------------- */

typedef struct {
    size_t bytes;
    long first_event;
    size_t idx;
} order_key;

/* Largest first; ties by first use, so the layout does not depend on qsort's stability. */
static int order_cmp(const void *a, const void *b)
{
    const order_key *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes > y->bytes ? -1 : 1;
    if (x->first_event != y->first_event) return x->first_event < y->first_event ? -1 : 1;
    return 0;
}

static int lifetimes_overlap(const mem_buf *a, const mem_buf *b)
{
    return a->first_event <= b->last_event && b->first_event <= a->last_event;
}

/*
 * Packs one program's buffers (greedy by size, best fit among the gaps left by the placed
 * buffers whose lifetimes overlap); writes each buffer's offset in the region and the region's
 * size. O(n^2) in the number of buffers: a few thousand take milliseconds.
 */
static rv_status layout_program(rv_mem *m, mem_program *p)
{
    size_t n = p->n_bufs;
    p->region_bytes = 0;
    if (n == 0) return RV_OK;
    rv_status s = RV_OK;
    order_key *order = malloc(n * sizeof *order);
    size_t *placed = malloc(n * sizeof *placed); /* buffer indices sorted by offset */
    if (!order || !placed) {
        s = rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "out of memory laying out %zu buffers", n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        order[i].bytes = p->bufs[i].bytes;
        order[i].first_event = p->bufs[i].first_event;
        order[i].idx = i;
    }
    qsort(order, n, sizeof *order, order_cmp);

    size_t n_placed = 0, region = 0;
    for (size_t k = 0; k < n; k++) {
        mem_buf *b = &p->bufs[order[k].idx];
        size_t cursor = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
        for (size_t j = 0; j < n_placed; j++) {
            const mem_buf *q = &p->bufs[placed[j]];
            if (!lifetimes_overlap(b, q)) continue;
            if (q->offset > cursor) {
                size_t gap = q->offset - cursor;
                if (gap >= b->bytes && gap < best_gap) {
                    best_gap = gap;
                    best = cursor;
                }
            }
            size_t end = align_up(q->offset + q->bytes);
            if (end > cursor) cursor = end;
        }
        b->offset = best != SIZE_MAX ? best : cursor;
        size_t end;
        if (!add_bytes(b->offset, b->bytes, &end)) {
            s = rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "memory plan: '%s' lies past %zu bytes",
                            b->name, (size_t)RV_MEM_MAX_BYTES);
            goto fail;
        }
        end = align_up(end);
        if (end > region) region = end;

        /* Insert into `placed`, kept sorted by offset (the scan above relies on it). */
        size_t lo = 0, hi = n_placed;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (p->bufs[placed[mid]].offset <= b->offset) lo = mid + 1;
            else hi = mid;
        }
        memmove(placed + lo + 1, placed + lo, (n_placed - lo) * sizeof *placed);
        placed[lo] = order[k].idx;
        n_placed++;
    }
    p->region_bytes = region;
fail:
    free(order);
    free(placed);
    return s;
}

rv_status rv_mem_finalize(rv_mem *m)
{
    if (!m) return RV_ERR_ARG;
    if (m->finalized)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN, "rv_mem_finalize: already finalized");
    if (m->recording >= 0)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN,
                           "rv_mem_finalize: program %d is still being recorded", m->recording);

    size_t off = 0;
    for (size_t i = 0; i < m->n_persist; i++) {
        m->persist[i].offset = off;
        if (!add_bytes(off, m->persist[i].bytes, &off))
            return rv_ctx_fail(m->ctx, RV_ERR_NOMEM,
                               "memory plan: persistent buffers exceed %zu bytes",
                               (size_t)RV_MEM_MAX_BYTES);
        off = align_up(off);
    }
    size_t region_base = off, region = 0;
    for (int i = 0; i < RV_MEM_MAX_PROGRAMS; i++) {
        mem_program *p = &m->prog[i];
        if (p->state != PROG_RECORDED) continue;
        rv_status s = layout_program(m, p);
        if (s != RV_OK) return s;
        if (p->region_bytes > region) region = p->region_bytes;
    }
    size_t total;
    if (!add_bytes(region_base, region, &total))
        return rv_ctx_fail(m->ctx, RV_ERR_NOMEM, "memory plan: the arena exceeds %zu bytes",
                           (size_t)RV_MEM_MAX_BYTES);

    void *arena = NULL;
    if (total > 0) {
        rv_status s = rv_ctx_alloc(m->ctx, &arena, total);
        if (s != RV_OK) return s; /* message set by the backend or the injection hook */
    }
    m->arena = arena;
    m->arena_bytes = total;
    m->region_base = region_base;
    m->finalized = 1;
    for (size_t i = 0; i < m->n_persist; i++)
        *m->slots[i] = (char *)arena + m->persist[i].offset;
    /* Persistent buffers are live from here on. */
    for (int c = 0; c < RV_MEM_N_CATEGORIES; c++)
        m->stats.current_bytes[c] += m->persist_bytes[c];
    rv_mem_stats_touch(&m->stats);
    return RV_OK;
}

/* ---- statistics and the plan ------------------------------------------------------------ */

rv_status rv_mem_planned(const rv_mem *m, int program, rv_mem_stats *out)
{
    if (!m) return RV_ERR_ARG;
    if (!out) return rv_ctx_fail(m->ctx, RV_ERR_ARG, "rv_mem_planned: out is NULL");
    rv_status s = rv_mem_check_program(m, program, "rv_mem_planned");
    if (s != RV_OK) return s;
    const mem_program *p = &m->prog[program];
    if (p->state != PROG_RECORDED)
        return rv_ctx_fail(m->ctx, RV_ERR_PLAN, "rv_mem_planned: program %d was never recorded",
                           program);
    rv_mem_stats st;
    stats_persistent(m, &st);
    for (size_t i = 0; i < p->n_events; i++) {
        const mem_buf *b = &p->bufs[p->events[i].buf];
        if (p->events[i].release) {
            st.current_bytes[b->category] -= b->bytes;
        } else {
            st.current_bytes[b->category] += b->bytes;
            rv_mem_stats_touch(&st);
        }
    }
    *out = st;
    return RV_OK;
}

size_t rv_mem_arena_bytes(const rv_mem *m) { return m ? m->arena_bytes : 0; }

size_t rv_mem_n_entries(const rv_mem *m, int program)
{
    if (!m) return 0;
    if (program == -1) return m->n_persist;
    if (program < 0 || program >= RV_MEM_MAX_PROGRAMS) return 0;
    return m->prog[program].state == PROG_RECORDED ? m->prog[program].n_bufs : 0;
}

rv_status rv_mem_get_entry(const rv_mem *m, int program, size_t i, rv_mem_entry *out)
{
    if (!m) return RV_ERR_ARG;
    if (!out) return rv_ctx_fail(m->ctx, RV_ERR_ARG, "rv_mem_get_entry: out is NULL");
    size_t n = rv_mem_n_entries(m, program);
    if (i >= n)
        return rv_ctx_fail(m->ctx, RV_ERR_ARG,
                           "rv_mem_get_entry: entry %zu of program %d does not exist (%zu entries)",
                           i, program, n);
    const mem_buf *b = program == -1 ? &m->persist[i] : &m->prog[program].bufs[i];
    out->name = b->name;
    out->category = b->category;
    out->bytes = b->bytes;
    out->offset = !m->finalized ? 0 : program == -1 ? b->offset : m->region_base + b->offset;
    out->first_event = b->first_event;
    out->last_event = b->last_event;
    return RV_OK;
}
