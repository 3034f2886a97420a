/*
 * memory_plan.h: the memory planner's structures, shared by the two halves of rv_mem
 * (include/revnet/memory.h): memory.c builds the plan (persistent declarations, recorded
 * programs, the layout and the one arena) and memory_replay.c runs programs against it and
 * keeps the accountant's counters. Internal to lib/core: nothing outside these two files
 * includes it.
 */
#ifndef RV_MEMORY_PLAN_H
#define RV_MEMORY_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <revnet/memory.h>

#define RV_MEM_MAX_PROGRAMS 16
#define RV_MEM_NAME_LEN 64

typedef struct {
    char name[RV_MEM_NAME_LEN];
    rv_mem_category category;
    size_t bytes;
    size_t offset;          /* persistent: in the arena; program: in the shared region */
    uintptr_t placeholder;  /* the address handed out while recording */
    long first_event;
    long last_event;        /* -1 while live in a recording */
} mem_buf;

typedef struct {
    size_t buf;   /* index into the program's buffers */
    int release;  /* 0: acquire, 1: release */
} mem_event;

typedef enum { PROG_EMPTY = 0, PROG_RECORDING, PROG_RECORDED } prog_state;

typedef struct {
    prog_state state;
    mem_buf *bufs;           /* in acquisition order, so placeholders increase with the index */
    size_t n_bufs, cap_bufs;
    mem_event *events;
    size_t n_events, cap_events;
    size_t n_live;           /* while recording */
    size_t region_bytes;     /* after finalize */
} mem_program;

struct rv_mem {
    rv_ctx *ctx;
    mem_buf *persist;
    void ***slots;           /* slots[i] receives persist[i]'s address */
    size_t n_persist, cap_persist;
    size_t persist_bytes[RV_MEM_N_CATEGORIES];
    mem_program prog[RV_MEM_MAX_PROGRAMS];
    uintptr_t next_placeholder;

    int recording;           /* program being recorded, or -1 */
    int saved_dry_run;       /* the context's flag before the recording began */

    int finalized;
    void *arena;
    size_t arena_bytes;
    size_t region_base;      /* where the shared program region starts in the arena */

    int running;             /* program being replayed, or -1 */
    size_t run_pos;          /* next expected event */
    int run_broken;          /* a deviation happened in this replay */

    rv_mem_stats stats;
};

/* Raises the peaks of *s to its current values. */
void rv_mem_stats_touch(rv_mem_stats *s);

/* RV_OK when 0 <= program < RV_MEM_MAX_PROGRAMS, else RV_ERR_ARG with fn in the message. */
rv_status rv_mem_check_program(const rv_mem *m, int program, const char *fn);

/* The checks every new buffer's description passes (out and name set, a known category, a
 * size in (0, the largest the plan accepts]); RV_ERR_ARG naming fn otherwise. */
rv_status rv_mem_check_buffer_args(rv_mem *m, const char *fn, const void *out, const char *name,
                                   rv_mem_category cat, size_t bytes);

/* The recording's side of rv_mem_acquire / rv_mem_release (m->recording >= 0, arguments
 * checked): log the event and hand out, or take back, a placeholder address. */
rv_status rv_mem_record_acquire(rv_mem *m, void **out, const char *name, rv_mem_category cat,
                                size_t bytes);
rv_status rv_mem_record_release(rv_mem *m, void *ptr);

#endif
