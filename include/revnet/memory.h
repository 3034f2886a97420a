/*
 * memory.h: the memory planner, arena and accountant.
 *
 * Nothing is allocated while a network runs. Instead:
 *   1. Persistent buffers (parameters, gradients, optimizer state) are declared with
 *      rv_mem_declare; their addresses are written into the given slots at finalize.
 *   2. Each kind of step the caller will run (a training step in one backward mode, an
 *      evaluation pass, ...) is recorded once as a "program": between rv_mem_record_begin and
 *      rv_mem_record_end the context is in dry-run mode, ops touch no memory, and every
 *      rv_mem_acquire / rv_mem_release is logged as an event {name, category, bytes}.
 *   3. rv_mem_finalize assigns every buffer an offset in one arena (persistent buffers first;
 *      the transient buffers of each program packed greedily by size over their lifetimes,
 *      programs sharing the same region because they never run at the same time) and makes the
 *      one allocation through the backend.
 *   4. rv_mem_run_begin(program) replays: the i-th acquire must match the i-th recorded event
 *      (same bytes and category) and gets its planned address; a deviation is RV_ERR_PLAN.
 * The accountant tracks current and peak bytes per category while replaying, so the measured
 * peak can be compared with the planned one to the byte.
 */
#ifndef RV_MEMORY_H
#define RV_MEMORY_H

#include <stddef.h>
#include "context.h"

typedef enum {
    RV_MEM_PARAMS = 0,   /* weights, BN scale/shift, BN running averages */
    RV_MEM_GRADS,        /* parameter gradients */
    RV_MEM_OPTIMIZER,    /* momentum buffers */
    RV_MEM_KEPT,         /* activations kept from the forward pass for the backward pass */
    RV_MEM_TRANSIENT,    /* activations and activation gradients that live inside one layer/block */
    RV_MEM_WORKSPACE,    /* op scratch (im2col columns, cuDNN workspace) */
    RV_MEM_INPUT,        /* the input batch and labels */
    RV_MEM_N_CATEGORIES
} rv_mem_category;

/* "params", "grads", "optimizer", "kept", "transient", "workspace", "input" */
const char *rv_mem_category_name(rv_mem_category c);

typedef struct {
    size_t current_bytes[RV_MEM_N_CATEGORIES];
    size_t peak_bytes[RV_MEM_N_CATEGORIES];  /* high-water mark of each category on its own */
    size_t peak_total_bytes;                 /* high-water mark of the sum of all categories */
    size_t peak_activation_bytes;            /* high-water of KEPT + TRANSIENT + WORKSPACE */
} rv_mem_stats;

typedef struct {
    const char *name;
    rv_mem_category category;
    size_t bytes;
    size_t offset;      /* in the arena; valid after finalize */
    long first_event;   /* -1 for persistent buffers */
    long last_event;
} rv_mem_entry;

typedef struct rv_mem rv_mem;

rv_status rv_mem_create(rv_ctx *ctx, rv_mem **out);
/* Frees the arena and the plan. Accepts NULL. */
void rv_mem_destroy(rv_mem *m);

/* Declares a persistent buffer; *slot receives its address at finalize (keep slot valid). */
rv_status rv_mem_declare(rv_mem *m, void **slot, const char *name, rv_mem_category cat,
                         size_t bytes);

/* Records program `program` (0 <= program < 16); puts the context in dry-run mode. */
rv_status rv_mem_record_begin(rv_mem *m, int program);
/* Ends the recording; RV_ERR_PLAN if a buffer acquired in it was not released. */
rv_status rv_mem_record_end(rv_mem *m);

/* Assigns offsets and allocates the arena (one backend allocation). */
rv_status rv_mem_finalize(rv_mem *m);

/* Starts/ends a replay of a recorded program; end checks every event happened. */
rv_status rv_mem_run_begin(rv_mem *m, int program);
rv_status rv_mem_run_end(rv_mem *m);

/* Takes a buffer for the current recording or replay. Names are copied (up to 63 chars). */
rv_status rv_mem_acquire(rv_mem *m, void **out, const char *name, rv_mem_category cat,
                         size_t bytes);
/* Gives it back; p must be a live buffer of the current recording or replay. */
rv_status rv_mem_release(rv_mem *m, void *p);

/* What the plan says program `program` needs (persistent buffers included). */
rv_status rv_mem_planned(const rv_mem *m, int program, rv_mem_stats *out);
/* What the accountant measured since the last reset (persistent buffers included). */
void rv_mem_measured(const rv_mem *m, rv_mem_stats *out);
void rv_mem_reset_peaks(rv_mem *m);
/* Bytes of the one arena allocation (>= the planned peak: packing may leave gaps). */
size_t rv_mem_arena_bytes(const rv_mem *m);

/* The plan, without allocating: persistent entries (program -1) or those of one program. */
size_t rv_mem_n_entries(const rv_mem *m, int program);
rv_status rv_mem_get_entry(const rv_mem *m, int program, size_t i, rv_mem_entry *out);

#endif
