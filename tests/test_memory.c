/*
 * test_memory.c: the memory planner, arena and accountant (lib/core/memory.c).
 *
 * Checks: planned peaks of a hand-made program; a replay measures the planned peaks to the byte;
 * simultaneously live buffers never share bytes and full-size writes corrupt nothing; buffers
 * with disjoint lifetimes and different programs share memory; persistent slots are filled;
 * every kind of deviation is RV_ERR_PLAN with a message; an injected allocation failure at
 * finalize leaves a usable object (the ASan build checks for leaks); the dry-run flag.
 */
#include <revnet/memory.h>

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Under AddressSanitizer, LeakSanitizer's report at process exit comes after Criterion has
 * already counted the test as passed; checking at the end of each test makes a leak fail it. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define RV_TEST_LEAK_CHECK() __lsan_do_recoverable_leak_check()
#else
#define RV_TEST_LEAK_CHECK() 0
#endif

static rv_ctx *ctx;
static rv_mem *mem;

static void setup(void)
{
    char msg[256];
    cr_assert_eq(rv_ctx_create(&ctx, NULL, msg, sizeof msg), RV_OK, "%s", msg);
    cr_assert_eq(rv_mem_create(ctx, &mem), RV_OK, "%s", rv_ctx_message(ctx));
}

static void teardown(void)
{
    rv_mem_destroy(mem);
    rv_ctx_destroy(ctx);
    mem = NULL;
    ctx = NULL;
}

/* Ends a test that got this far: destroys everything, then fails the test if anything leaked.
 * (Criterion ignores assertions in .fini, so the check must run in the test body.) */
static void finish(void)
{
    teardown();
    cr_assert_eq(RV_TEST_LEAK_CHECK(), 0, "memory leaked (see the LeakSanitizer report)");
}

TestSuite(memory, .init = setup, .fini = teardown);

/* ---- scripted programs ------------------------------------------------------------------ */

/* One event of a script: acquire buffer `id` or release it. */
typedef struct {
    int release;
    int id;
    rv_mem_category cat;
    size_t bytes;
} step;

#define MAX_IDS 4096

/* Runs a script inside a recording or a replay; ptrs[id] holds each buffer's address. */
static void run_script(const step *s, size_t n, void **ptrs)
{
    char name[32];
    for (size_t i = 0; i < n; i++) {
        if (s[i].release) {
            cr_assert_eq(rv_mem_release(mem, ptrs[s[i].id]), RV_OK, "step %zu: %s", i,
                         rv_ctx_message(ctx));
        } else {
            snprintf(name, sizeof name, "buf%d", s[i].id);
            cr_assert_eq(rv_mem_acquire(mem, &ptrs[s[i].id], name, s[i].cat, s[i].bytes), RV_OK,
                         "step %zu: %s", i, rv_ctx_message(ctx));
            cr_assert_not_null(ptrs[s[i].id]);
        }
    }
}

static void record_script(int program, const step *s, size_t n)
{
    static void *ptrs[MAX_IDS];
    cr_assert_eq(rv_mem_record_begin(mem, program), RV_OK, "%s", rv_ctx_message(ctx));
    run_script(s, n, ptrs);
    cr_assert_eq(rv_mem_record_end(mem), RV_OK, "%s", rv_ctx_message(ctx));
}

/* Deterministic pseudo-random numbers (a 64-bit LCG) so that failures reproduce. */
static uint64_t lcg_state;
static uint32_t lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg_state >> 33);
}

/* A random well-formed script: n_ids buffers, at most max_live at a time, released in a random
 * order, sizes 1..5000 bytes (mostly not multiples of the alignment). Returns its length. */
static size_t random_script(step *s, int n_ids, int max_live, uint64_t seed)
{
    static const rv_mem_category cats[] = { RV_MEM_KEPT, RV_MEM_TRANSIENT, RV_MEM_WORKSPACE,
                                            RV_MEM_INPUT };
    int live[MAX_IDS];
    int n_live = 0, next_id = 0;
    size_t n = 0;
    lcg_state = seed;
    while (next_id < n_ids || n_live > 0) {
        int acquire = next_id < n_ids && (n_live == 0 || (n_live < max_live && lcg() % 2));
        if (acquire) {
            s[n] = (step){ 0, next_id, cats[lcg() % 4], 1 + lcg() % 5000 };
            live[n_live++] = next_id++;
        } else {
            int k = (int)(lcg() % (uint32_t)n_live);
            s[n] = (step){ 1, live[k], 0, 0 };
            live[k] = live[--n_live];
        }
        n++;
    }
    return n;
}

static void assert_stats_equal(const rv_mem_stats *a, const rv_mem_stats *b)
{
    for (int c = 0; c < RV_MEM_N_CATEGORIES; c++) {
        cr_assert_eq(a->current_bytes[c], b->current_bytes[c], "current %s: %zu != %zu",
                     rv_mem_category_name(c), a->current_bytes[c], b->current_bytes[c]);
        cr_assert_eq(a->peak_bytes[c], b->peak_bytes[c], "peak %s: %zu != %zu",
                     rv_mem_category_name(c), a->peak_bytes[c], b->peak_bytes[c]);
    }
    cr_assert_eq(a->peak_total_bytes, b->peak_total_bytes, "total %zu != %zu",
                 a->peak_total_bytes, b->peak_total_bytes);
    cr_assert_eq(a->peak_activation_bytes, b->peak_activation_bytes, "activation %zu != %zu",
                 a->peak_activation_bytes, b->peak_activation_bytes);
}

/* ---- the plan's numbers ----------------------------------------------------------------- */

/* Per-category peaks happen at different times, so their sum (200 activation bytes) exceeds
 * the true activation peak (190): the accountant must track the sum, not add the peaks. */
static const step hand_made[] = {
    { 0, 0, RV_MEM_INPUT, 40 },
    { 0, 1, RV_MEM_KEPT, 100 },
    { 0, 2, RV_MEM_TRANSIENT, 50 },
    { 0, 3, RV_MEM_WORKSPACE, 30 },  /* activations 180 */
    { 1, 3, 0, 0 },
    { 1, 2, 0, 0 },
    { 0, 4, RV_MEM_TRANSIENT, 70 },
    { 0, 5, RV_MEM_WORKSPACE, 20 },  /* activations 190: the peak */
    { 1, 5, 0, 0 },
    { 1, 4, 0, 0 },
    { 1, 1, 0, 0 },
    { 1, 0, 0, 0 },
};
#define N_HAND_MADE (sizeof hand_made / sizeof hand_made[0])

static void declare_hand_made_persistent(void **slots)
{
    cr_assert_eq(rv_mem_declare(mem, &slots[0], "w", RV_MEM_PARAMS, 1000), RV_OK);
    cr_assert_eq(rv_mem_declare(mem, &slots[1], "dw", RV_MEM_GRADS, 1000), RV_OK);
    cr_assert_eq(rv_mem_declare(mem, &slots[2], "v", RV_MEM_OPTIMIZER, 500), RV_OK);
}

Test(memory, hand_made_plan_gives_known_peaks)
{
    void *slots[3];
    declare_hand_made_persistent(slots);
    record_script(0, hand_made, N_HAND_MADE);

    rv_mem_stats st;
    cr_assert_eq(rv_mem_planned(mem, 0, &st), RV_OK, "%s", rv_ctx_message(ctx));
    cr_assert_eq(rv_mem_arena_bytes(mem), 0, "planning alone must not allocate");
    const size_t want_peak[RV_MEM_N_CATEGORIES] = { 1000, 1000, 500, 100, 70, 30, 40 };
    const size_t want_current[RV_MEM_N_CATEGORIES] = { 1000, 1000, 500, 0, 0, 0, 0 };
    for (int c = 0; c < RV_MEM_N_CATEGORIES; c++) {
        cr_expect_eq(st.peak_bytes[c], want_peak[c], "peak %s = %zu", rv_mem_category_name(c),
                     st.peak_bytes[c]);
        cr_expect_eq(st.current_bytes[c], want_current[c], "current %s = %zu",
                     rv_mem_category_name(c), st.current_bytes[c]);
    }
    cr_expect_eq(st.peak_activation_bytes, 190);
    cr_expect_eq(st.peak_total_bytes, 2500 + 40 + 190);

    /* The plan lists the buffers with their lifetimes in event indices. */
    cr_assert_eq(rv_mem_n_entries(mem, 0), 6);
    cr_assert_eq(rv_mem_n_entries(mem, -1), 3);
    cr_assert_eq(rv_mem_n_entries(mem, 1), 0, "program 1 was never recorded");
    rv_mem_entry e;
    cr_assert_eq(rv_mem_get_entry(mem, 0, 4, &e), RV_OK);
    cr_expect_str_eq(e.name, "buf4");
    cr_expect_eq(e.category, RV_MEM_TRANSIENT);
    cr_expect_eq(e.bytes, 70);
    cr_expect_eq(e.first_event, 6);
    cr_expect_eq(e.last_event, 9);
    cr_assert_eq(rv_mem_get_entry(mem, -1, 2, &e), RV_OK);
    cr_expect_str_eq(e.name, "v");
    cr_expect_eq(e.first_event, -1);
    cr_expect_eq(rv_mem_get_entry(mem, 0, 6, &e), RV_ERR_ARG);
    cr_expect_eq(rv_mem_planned(mem, 1, &st), RV_ERR_PLAN, "program 1 was never recorded");
    finish();
}

Test(memory, replay_measures_exactly_the_plan)
{
    void *slots[3];
    declare_hand_made_persistent(slots);
    record_script(0, hand_made, N_HAND_MADE);
    cr_assert_eq(rv_mem_finalize(mem), RV_OK, "%s", rv_ctx_message(ctx));

    rv_mem_stats planned, measured;
    cr_assert_eq(rv_mem_planned(mem, 0, &planned), RV_OK);
    /* Right after finalize, the accountant already holds the persistent buffers. */
    rv_mem_measured(mem, &measured);
    cr_expect_eq(measured.current_bytes[RV_MEM_PARAMS], 1000);
    cr_expect_eq(measured.peak_total_bytes, 2500);

    void *ptrs[8];
    for (int rep = 0; rep < 2; rep++) {
        rv_mem_reset_peaks(mem);
        cr_assert_eq(rv_mem_run_begin(mem, 0), RV_OK, "%s", rv_ctx_message(ctx));
        run_script(hand_made, N_HAND_MADE, ptrs);
        cr_assert_eq(rv_mem_run_end(mem), RV_OK, "%s", rv_ctx_message(ctx));
        rv_mem_measured(mem, &measured);
        assert_stats_equal(&measured, &planned);
    }
    finish();
}

/* ---- the arena -------------------------------------------------------------------------- */

#define N_RANDOM_PROGRAMS 3
#define N_RANDOM_IDS 400
#define RANDOM_MAX_LIVE 24

static step random_steps[N_RANDOM_PROGRAMS][2 * N_RANDOM_IDS];
static size_t random_len[N_RANDOM_PROGRAMS];

/* Three random programs plus persistent buffers of odd sizes, finalized. */
static void build_random_plan(void **slots, size_t *slot_bytes, int n_slots)
{
    for (int i = 0; i < n_slots; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        slot_bytes[i] = 100 + 37 * (size_t)i;
        cr_assert_eq(rv_mem_declare(mem, &slots[i], name, (rv_mem_category)(i % 3),
                                    slot_bytes[i]), RV_OK);
    }
    for (int p = 0; p < N_RANDOM_PROGRAMS; p++) {
        random_len[p] = random_script(random_steps[p], N_RANDOM_IDS, RANDOM_MAX_LIVE,
                                      1234 + (uint64_t)p);
        record_script(p, random_steps[p], random_len[p]);
    }
    cr_assert_eq(rv_mem_finalize(mem), RV_OK, "%s", rv_ctx_message(ctx));
}

static unsigned char pattern(int id, size_t i) { return (unsigned char)(id * 131 + i * 7 + 1); }

/*
 * Replays a script, checking at every acquire that the new buffer is 64-byte aligned, lies in
 * the arena and shares no byte with any live buffer; with `fill`, writes a pattern over each
 * buffer's full size on acquire and checks it is intact on release.
 */
static void replay_checked(int program, const step *s, size_t n, char *arena, int fill)
{
    static void *ptrs[MAX_IDS];
    static size_t bytes[MAX_IDS];
    static int live[MAX_IDS];
    int n_live = 0;
    size_t arena_bytes = rv_mem_arena_bytes(mem);
    char name[32];
    cr_assert_eq(rv_mem_run_begin(mem, program), RV_OK, "%s", rv_ctx_message(ctx));
    for (size_t i = 0; i < n; i++) {
        int id = s[i].id;
        if (s[i].release) {
            if (fill) {
                const unsigned char *q = ptrs[id];
                for (size_t k = 0; k < bytes[id]; k++)
                    cr_assert_eq(q[k], pattern(id, k), "buf%d byte %zu overwritten", id, k);
            }
            cr_assert_eq(rv_mem_release(mem, ptrs[id]), RV_OK, "%s", rv_ctx_message(ctx));
            for (int k = 0; k < n_live; k++) {
                if (live[k] == id) {
                    live[k] = live[--n_live];
                    break;
                }
            }
            continue;
        }
        snprintf(name, sizeof name, "buf%d", id);
        cr_assert_eq(rv_mem_acquire(mem, &ptrs[id], name, s[i].cat, s[i].bytes), RV_OK, "%s",
                     rv_ctx_message(ctx));
        bytes[id] = s[i].bytes;
        char *a = ptrs[id];
        cr_assert_eq((uintptr_t)a % 64, 0, "buf%d is not 64-byte aligned", id);
        cr_assert(a >= arena && a + bytes[id] <= arena + arena_bytes, "buf%d outside the arena",
                  id);
        for (int k = 0; k < n_live; k++) {
            const char *b = ptrs[live[k]];
            cr_assert(a + bytes[id] <= b || b + bytes[live[k]] <= a,
                      "buf%d [%td, +%zu) overlaps live buf%d [%td, +%zu)", id, a - arena,
                      bytes[id], live[k], b - arena, bytes[live[k]]);
        }
        live[n_live++] = id;
        if (fill) {
            unsigned char *q = ptrs[id];
            for (size_t k = 0; k < bytes[id]; k++) q[k] = pattern(id, k);
        }
    }
    cr_assert_eq(rv_mem_run_end(mem), RV_OK, "%s", rv_ctx_message(ctx));
}

#define N_SLOTS 5

Test(memory, random_replays_match_plan_and_never_overlap_live_buffers)
{
    void *slots[N_SLOTS];
    size_t slot_bytes[N_SLOTS];
    build_random_plan(slots, slot_bytes, N_SLOTS);
    /* Persistent buffers come first, so the first one sits at the start of the arena. */
    char *arena = slots[0];
    size_t max_region = 0;
    for (int p = 0; p < N_RANDOM_PROGRAMS; p++) {
        rv_mem_stats planned, measured;
        cr_assert_eq(rv_mem_planned(mem, p, &planned), RV_OK);
        rv_mem_reset_peaks(mem);
        replay_checked(p, random_steps[p], random_len[p], arena, 0);
        rv_mem_measured(mem, &measured);
        assert_stats_equal(&measured, &planned);

        /* Every program entry lies after the persistent buffers, inside the arena. */
        for (size_t i = 0; i < rv_mem_n_entries(mem, p); i++) {
            rv_mem_entry e;
            cr_assert_eq(rv_mem_get_entry(mem, p, i, &e), RV_OK);
            cr_assert_eq(e.offset % 64, 0);
            cr_assert_leq(e.offset + e.bytes, rv_mem_arena_bytes(mem));
            if (e.offset + e.bytes > max_region) max_region = e.offset + e.bytes;
        }
    }
    cr_assert_leq(max_region, rv_mem_arena_bytes(mem));
    finish();
}

Test(memory, full_size_writes_corrupt_no_live_buffer)
{
    void *slots[N_SLOTS];
    size_t slot_bytes[N_SLOTS];
    build_random_plan(slots, slot_bytes, N_SLOTS);
    for (int i = 0; i < N_SLOTS; i++) memset(slots[i], 0xA0 + i, slot_bytes[i]);
    for (int p = 0; p < N_RANDOM_PROGRAMS; p++)
        replay_checked(p, random_steps[p], random_len[p], slots[0], 1);
    for (int i = 0; i < N_SLOTS; i++) {
        const unsigned char *q = slots[i];
        for (size_t k = 0; k < slot_bytes[i]; k++)
            cr_assert_eq(q[k], 0xA0 + i, "persistent p%d byte %zu overwritten", i, k);
    }
    finish();
}

Test(memory, disjoint_lifetimes_reuse_memory)
{
    /* Ten buffers one after another, then a ping-pong chain x_i = f(x_{i-1}) that releases
     * x_{i-1} only after x_i exists: two slots suffice for the chain. */
    step s[64];
    size_t n = 0;
    for (int i = 0; i < 10; i++) {
        s[n++] = (step){ 0, i, RV_MEM_TRANSIENT, 1000 };
        s[n++] = (step){ 1, i, 0, 0 };
    }
    record_script(0, s, n);
    n = 0;
    s[n++] = (step){ 0, 0, RV_MEM_TRANSIENT, 1000 };
    for (int i = 1; i < 10; i++) {
        s[n++] = (step){ 0, i, RV_MEM_TRANSIENT, 1000 };
        s[n++] = (step){ 1, i - 1, 0, 0 };
    }
    s[n++] = (step){ 1, 9, 0, 0 };
    record_script(1, s, n);
    cr_assert_eq(rv_mem_finalize(mem), RV_OK, "%s", rv_ctx_message(ctx));
    /* 1000 bytes rounded up to the 64-byte alignment is 1024; two of them for the chain. */
    cr_expect_eq(rv_mem_arena_bytes(mem), 2 * 1024, "arena %zu", rv_mem_arena_bytes(mem));
    cr_expect_lt(rv_mem_arena_bytes(mem), 10 * 1000);
    finish();
}

Test(memory, programs_share_one_region)
{
    void *w;
    cr_assert_eq(rv_mem_declare(mem, &w, "w", RV_MEM_PARAMS, 100), RV_OK);
    step a[] = {
        { 0, 0, RV_MEM_KEPT, 1024 }, { 0, 1, RV_MEM_KEPT, 1024 }, { 0, 2, RV_MEM_KEPT, 1024 },
        { 1, 2, 0, 0 }, { 1, 1, 0, 0 }, { 1, 0, 0, 0 },
    };
    step b[] = {
        { 0, 0, RV_MEM_TRANSIENT, 4096 }, { 0, 1, RV_MEM_WORKSPACE, 4096 },
        { 1, 0, 0, 0 }, { 1, 1, 0, 0 },
    };
    record_script(0, a, sizeof a / sizeof a[0]);
    record_script(3, b, sizeof b / sizeof b[0]);
    cr_assert_eq(rv_mem_finalize(mem), RV_OK, "%s", rv_ctx_message(ctx));
    /* 100 persistent bytes padded to 128, then one region sized for the larger program. */
    cr_expect_eq(rv_mem_arena_bytes(mem), 128 + 8192, "arena %zu", rv_mem_arena_bytes(mem));
    rv_mem_entry e0, e3;
    cr_assert_eq(rv_mem_get_entry(mem, 0, 0, &e0), RV_OK);
    cr_assert_eq(rv_mem_get_entry(mem, 3, 0, &e3), RV_OK);
    cr_expect_geq(e0.offset, 128, "program buffers come after the persistent ones");
    cr_expect_geq(e3.offset, 128);
    finish();
}

Test(memory, persistent_slots_are_filled)
{
    void *slots[4] = { NULL, NULL, NULL, NULL };
    const size_t sizes[4] = { 1, 63, 65, 1000 };
    for (int i = 0; i < 4; i++)
        cr_assert_eq(rv_mem_declare(mem, &slots[i], "p", RV_MEM_PARAMS + i, sizes[i]), RV_OK);
    /* Before finalize the slots hold distinct placeholders, so ops validating pointers during a
     * recording accept them. */
    void *before[4];
    for (int i = 0; i < 4; i++) {
        cr_assert_not_null(slots[i]);
        for (int j = 0; j < i; j++) cr_assert_neq(slots[i], slots[j]);
        before[i] = slots[i];
    }
    cr_assert_eq(rv_mem_finalize(mem), RV_OK, "%s", rv_ctx_message(ctx));
    char *base = slots[0];
    for (int i = 0; i < 4; i++) {
        cr_assert_neq(slots[i], before[i], "slot %d not written at finalize", i);
        cr_assert_eq((uintptr_t)slots[i] % 64, 0);
        rv_mem_entry e;
        cr_assert_eq(rv_mem_get_entry(mem, -1, (size_t)i, &e), RV_OK);
        cr_assert_eq((char *)slots[i] - base, (ptrdiff_t)e.offset);
        memset(slots[i], i + 1, sizes[i]);
    }
    for (int i = 0; i < 4; i++)
        for (size_t k = 0; k < sizes[i]; k++)
            cr_assert_eq(((unsigned char *)slots[i])[k], i + 1);
    cr_expect_eq(rv_mem_arena_bytes(mem), 64 + 64 + 128 + 1024);
    rv_mem_stats st;
    rv_mem_measured(mem, &st);
    cr_expect_eq(st.current_bytes[RV_MEM_OPTIMIZER], 65);
    cr_expect_eq(st.peak_total_bytes, 1 + 63 + 65 + 1000);
    cr_expect_eq(rv_mem_declare(mem, &slots[0], "late", RV_MEM_PARAMS, 8), RV_ERR_PLAN);
    finish();
}

/* ---- deviations ------------------------------------------------------------------------- */

static const step two_buffers[] = {
    { 0, 0, RV_MEM_KEPT, 256 }, { 0, 1, RV_MEM_TRANSIENT, 128 }, { 1, 1, 0, 0 }, { 1, 0, 0, 0 },
};

static void plan_two_buffers(void)
{
    record_script(0, two_buffers, 4);
    cr_assert_eq(rv_mem_finalize(mem), RV_OK, "%s", rv_ctx_message(ctx));
    cr_assert_eq(rv_mem_run_begin(mem, 0), RV_OK, "%s", rv_ctx_message(ctx));
}

/* The failed replay must end cleanly and a correct replay must then succeed. */
static void assert_recovers(void)
{
    cr_assert_eq(rv_mem_run_end(mem), RV_ERR_PLAN, "a deviated run must not end with RV_OK");
    void *ptrs[2];
    cr_assert_eq(rv_mem_run_begin(mem, 0), RV_OK, "%s", rv_ctx_message(ctx));
    run_script(two_buffers, 4, ptrs);
    cr_assert_eq(rv_mem_run_end(mem), RV_OK, "%s", rv_ctx_message(ctx));
    rv_mem_stats planned, measured;
    cr_assert_eq(rv_mem_planned(mem, 0, &planned), RV_OK);
    rv_mem_measured(mem, &measured);
    assert_stats_equal(&measured, &planned);
}

static void assert_message_has(const char *a, const char *b)
{
    const char *msg = rv_ctx_message(ctx);
    cr_assert(strstr(msg, a), "message \"%s\" lacks \"%s\"", msg, a);
    if (b) cr_assert(strstr(msg, b), "message \"%s\" lacks \"%s\"", msg, b);
}

Test(memory, deviation_different_size)
{
    plan_two_buffers();
    void *p;
    cr_assert_eq(rv_mem_acquire(mem, &p, "wrong", RV_MEM_KEPT, 257), RV_ERR_PLAN);
    cr_assert_null(p);
    assert_message_has("wrong", "buf0");
    assert_recovers();
    finish();
}

Test(memory, deviation_different_category)
{
    plan_two_buffers();
    void *p;
    cr_assert_eq(rv_mem_acquire(mem, &p, "cat", RV_MEM_TRANSIENT, 256), RV_ERR_PLAN);
    assert_message_has("cat", "buf0");
    /* Once deviated, the replay refuses everything until run_end. */
    cr_assert_eq(rv_mem_acquire(mem, &p, "buf0", RV_MEM_KEPT, 256), RV_ERR_PLAN);
    assert_recovers();
    finish();
}

Test(memory, deviation_extra_acquire)
{
    plan_two_buffers();
    void *ptrs[2], *p;
    run_script(two_buffers, 4, ptrs);
    cr_assert_eq(rv_mem_acquire(mem, &p, "extra", RV_MEM_KEPT, 256), RV_ERR_PLAN);
    assert_message_has("extra", NULL);
    assert_recovers();
    finish();
}

Test(memory, deviation_missing_release)
{
    plan_two_buffers();
    void *ptrs[2];
    run_script(two_buffers, 3, ptrs);
    cr_assert_eq(rv_mem_run_end(mem), RV_ERR_PLAN);
    assert_message_has("buf0", "3 of 4");
    rv_mem_stats st;
    rv_mem_measured(mem, &st);
    cr_expect_eq(st.current_bytes[RV_MEM_KEPT], 0, "run_end must drop the run's buffers");
    void *ptrs2[2];
    cr_assert_eq(rv_mem_run_begin(mem, 0), RV_OK, "%s", rv_ctx_message(ctx));
    run_script(two_buffers, 4, ptrs2);
    cr_assert_eq(rv_mem_run_end(mem), RV_OK, "%s", rv_ctx_message(ctx));
    finish();
}

Test(memory, deviation_unknown_pointer)
{
    plan_two_buffers();
    void *ptrs[2];
    run_script(two_buffers, 2, ptrs);
    int on_stack;
    cr_assert_eq(rv_mem_release(mem, &on_stack), RV_ERR_PLAN);
    assert_message_has("not a live buffer", "buf1");
    assert_recovers();
    finish();
}

Test(memory, deviation_release_out_of_order)
{
    plan_two_buffers();
    void *ptrs[2];
    run_script(two_buffers, 2, ptrs);
    cr_assert_eq(rv_mem_release(mem, ptrs[0]), RV_ERR_PLAN);
    assert_message_has("buf0", "buf1");
    assert_recovers();
    finish();
}

Test(memory, acquire_and_release_outside_a_run)
{
    void *p = (void *)1;
    cr_assert_eq(rv_mem_acquire(mem, &p, "x", RV_MEM_KEPT, 8), RV_ERR_PLAN);
    cr_assert_null(p);
    assert_message_has("x", "outside");
    int dummy;
    cr_assert_eq(rv_mem_release(mem, &dummy), RV_ERR_PLAN);
    plan_two_buffers();
    cr_assert_eq(rv_mem_run_end(mem), RV_ERR_PLAN, "no event happened");
    cr_assert_eq(rv_mem_acquire(mem, &p, "x", RV_MEM_KEPT, 8), RV_ERR_PLAN);
    finish();
}

Test(memory, recording_errors)
{
    void *p, *q;
    cr_assert_eq(rv_mem_record_begin(mem, 16), RV_ERR_ARG);
    cr_assert_eq(rv_mem_record_begin(mem, -1), RV_ERR_ARG);
    cr_assert_eq(rv_mem_record_end(mem), RV_ERR_PLAN, "nothing is being recorded");
    cr_assert_eq(rv_mem_record_begin(mem, 2), RV_OK);
    cr_assert_eq(rv_mem_record_begin(mem, 3), RV_ERR_PLAN, "one recording at a time");
    cr_assert_eq(rv_mem_acquire(mem, &p, "zero", RV_MEM_KEPT, 0), RV_ERR_ARG);
    cr_assert_eq(rv_mem_acquire(mem, &p, "badcat", RV_MEM_N_CATEGORIES, 8), RV_ERR_ARG);
    cr_assert_eq(rv_mem_acquire(mem, &p, "a", RV_MEM_KEPT, 8), RV_OK);
    cr_assert_eq(rv_mem_acquire(mem, &q, "b", RV_MEM_KEPT, 8), RV_OK);
    cr_assert_neq(p, q, "placeholders must be distinct");
    cr_assert_eq(rv_mem_release(mem, (char *)p + 1), RV_ERR_PLAN, "not the start of a buffer");
    cr_assert_eq(rv_mem_release(mem, p), RV_OK);
    cr_assert_eq(rv_mem_release(mem, p), RV_ERR_PLAN, "released twice");
    assert_message_has("'a'", "twice");
    /* b is never released: the recording is refused and discarded. */
    cr_assert_eq(rv_mem_record_end(mem), RV_ERR_PLAN);
    assert_message_has("'b'", "unreleased");
    cr_assert_eq(rv_mem_n_entries(mem, 2), 0);
    cr_assert_eq(rv_ctx_dry_run(ctx), 0, "dry run must be restored after a failed recording");
    /* The discarded program can be recorded again. */
    cr_assert_eq(rv_mem_record_begin(mem, 2), RV_OK, "%s", rv_ctx_message(ctx));
    cr_assert_eq(rv_mem_record_end(mem), RV_OK);
    cr_assert_eq(rv_mem_record_begin(mem, 2), RV_ERR_PLAN, "already recorded");
    cr_assert_eq(rv_mem_finalize(mem), RV_OK, "%s", rv_ctx_message(ctx));
    cr_assert_eq(rv_mem_finalize(mem), RV_ERR_PLAN, "finalize twice");
    cr_assert_eq(rv_mem_record_begin(mem, 4), RV_ERR_PLAN, "record after finalize");
    cr_assert_eq(rv_mem_run_begin(mem, 5), RV_ERR_PLAN, "program 5 was never recorded");
    finish();
}

Test(memory, names_are_copied_and_truncated)
{
    char longname[101];
    memset(longname, 'n', 100);
    longname[100] = '\0';
    char shortname[8] = "abc";
    void *p;
    cr_assert_eq(rv_mem_record_begin(mem, 0), RV_OK);
    cr_assert_eq(rv_mem_acquire(mem, &p, longname, RV_MEM_KEPT, 8), RV_OK);
    cr_assert_eq(rv_mem_release(mem, p), RV_OK);
    cr_assert_eq(rv_mem_acquire(mem, &p, shortname, RV_MEM_KEPT, 8), RV_OK);
    cr_assert_eq(rv_mem_release(mem, p), RV_OK);
    cr_assert_eq(rv_mem_record_end(mem), RV_OK);
    strcpy(shortname, "xyz");
    rv_mem_entry e;
    cr_assert_eq(rv_mem_get_entry(mem, 0, 0, &e), RV_OK);
    cr_expect_eq(strlen(e.name), 63);
    cr_expect_eq(strncmp(e.name, longname, 63), 0);
    cr_assert_eq(rv_mem_get_entry(mem, 0, 1, &e), RV_OK);
    cr_expect_str_eq(e.name, "abc");
    finish();
}

/* ---- failure injection and the context ------------------------------------------------- */

Test(memory, injected_allocation_failure_at_finalize)
{
    void *slots[3];
    declare_hand_made_persistent(slots);
    record_script(0, hand_made, N_HAND_MADE);
    void *placeholder = slots[0];
    rv_ctx_inject_alloc_failure(ctx, 1);
    cr_assert_eq(rv_mem_finalize(mem), RV_ERR_NOMEM);
    cr_assert_neq(rv_ctx_message(ctx)[0], '\0', "a failure must leave a message");
    cr_assert_eq(slots[0], placeholder, "a failed finalize must not touch the slots");
    cr_assert_eq(rv_mem_arena_bytes(mem), 0);
    cr_assert_eq(rv_mem_run_begin(mem, 0), RV_ERR_PLAN, "nothing to replay into");
    rv_mem_stats st;
    rv_mem_measured(mem, &st);
    cr_assert_eq(st.peak_total_bytes, 0, "nothing is live after a failed finalize");
    /* The object stays usable: a second finalize succeeds and the replay matches the plan. */
    cr_assert_eq(rv_mem_finalize(mem), RV_OK, "%s", rv_ctx_message(ctx));
    void *ptrs[8];
    cr_assert_eq(rv_mem_run_begin(mem, 0), RV_OK);
    run_script(hand_made, N_HAND_MADE, ptrs);
    cr_assert_eq(rv_mem_run_end(mem), RV_OK, "%s", rv_ctx_message(ctx));
    finish();
}

Test(memory, destroy_after_failed_finalize)
{
    void *slots[3];
    declare_hand_made_persistent(slots);
    record_script(0, hand_made, N_HAND_MADE);
    rv_ctx_inject_alloc_failure(ctx, 1);
    cr_assert_eq(rv_mem_finalize(mem), RV_ERR_NOMEM);
    /* finish() destroys it; under ASan its leak check fails the test if anything leaked. */
    finish();
}

Test(memory, destroy_mid_recording_restores_dry_run)
{
    void *p;
    cr_assert_eq(rv_mem_record_begin(mem, 0), RV_OK);
    cr_assert_eq(rv_mem_acquire(mem, &p, "a", RV_MEM_KEPT, 8), RV_OK);
    rv_mem_destroy(mem);
    mem = NULL;
    cr_assert_eq(rv_ctx_dry_run(ctx), 0);
    finish();
}

Test(memory, dry_run_is_set_only_while_recording)
{
    cr_assert_eq(rv_ctx_dry_run(ctx), 0);
    cr_assert_eq(rv_mem_record_begin(mem, 0), RV_OK);
    cr_assert_eq(rv_ctx_dry_run(ctx), 1);
    cr_assert_eq(rv_mem_record_end(mem), RV_OK);
    cr_assert_eq(rv_ctx_dry_run(ctx), 0);
    /* The previous value is restored, not forced to 0. */
    rv_ctx_set_dry_run(ctx, 1);
    cr_assert_eq(rv_mem_record_begin(mem, 1), RV_OK);
    cr_assert_eq(rv_mem_record_end(mem), RV_OK);
    cr_assert_eq(rv_ctx_dry_run(ctx), 1);
    rv_ctx_set_dry_run(ctx, 0);
    finish();
}

/* ---- scale ------------------------------------------------------------------------------ */

/* A 1000-unit network's shape: the forward pass keeps one activation per unit with a transient
 * and a workspace inside each unit; the backward pass releases them in reverse, each with its
 * own transient gradient. 4000+ buffers and 8000+ events must plan and replay quickly. */
Test(memory, thousand_unit_program_plans_and_replays)
{
    enum { UNITS = 1000 };
    static step s[8 * UNITS + 8];
    static void *ptrs[MAX_IDS];
    size_t n = 0;
    int id = 0;
    for (int u = 0; u < UNITS; u++) {
        int t = id++, w = id++;
        s[n++] = (step){ 0, t, RV_MEM_TRANSIENT, 4096 };
        s[n++] = (step){ 0, w, RV_MEM_WORKSPACE, 2048 + (size_t)(u % 7) * 64 };
        s[n++] = (step){ 0, u + 3 * UNITS, RV_MEM_KEPT, 1000 };
        s[n++] = (step){ 1, w, 0, 0 };
        s[n++] = (step){ 1, t, 0, 0 };
    }
    for (int u = UNITS - 1; u >= 0; u--) {
        int g = id++;
        s[n++] = (step){ 0, g, RV_MEM_TRANSIENT, 4096 };
        s[n++] = (step){ 1, u + 3 * UNITS, 0, 0 };
        s[n++] = (step){ 1, g, 0, 0 };
    }
    cr_assert_lt(id, 3 * UNITS + 1);
    record_script(0, s, n);
    cr_assert_eq(rv_mem_finalize(mem), RV_OK, "%s", rv_ctx_message(ctx));
    rv_mem_stats planned, measured;
    cr_assert_eq(rv_mem_planned(mem, 0, &planned), RV_OK);
    cr_expect_eq(planned.peak_bytes[RV_MEM_KEPT], UNITS * 1000);
    cr_assert_eq(rv_mem_run_begin(mem, 0), RV_OK);
    run_script(s, n, ptrs);
    cr_assert_eq(rv_mem_run_end(mem), RV_OK, "%s", rv_ctx_message(ctx));
    rv_mem_measured(mem, &measured);
    assert_stats_equal(&measured, &planned);
    /* Kept activations (1024 each after alignment) plus one unit's transient and largest
     * workspace: the packing must not need more than that. */
    cr_expect_leq(rv_mem_arena_bytes(mem), UNITS * 1024 + 4096 + 2048 + 6 * 64 + 64,
                  "arena %zu", rv_mem_arena_bytes(mem));
    finish();
}
