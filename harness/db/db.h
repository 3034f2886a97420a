/*
 * db.h: the results database (SQLite, results/results.db by default).
 *
 * Tables (schema version in PRAGMA user_version, migrations applied on open):
 *   runs     one row per run: full configuration (arch, dataset, mode, device, batch, seed,
 *            steps, schedule, eval_every, train_subset, experiment name, config_key = a
 *            canonical string of the configuration used to match finished runs), status
 *            ('running', 'finished', 'failed', 'interrupted'), failure reason, start/end
 *            times, machine (hostname, CPU model, its vector ISA and CPU count, GPU model),
 *            the 1-minute load average at start and end, BLAS and cuDNN versions, backend
 *            description, software versions, git revision, checkpoint path, final metrics.
 *   metrics  (run_id, step, name, value): train_loss, train_error, test_loss, test_error, lr,
 *            images_per_sec, grad_angle_deg, ...
 *   memory   (run_id, category, planned_bytes, peak_bytes) plus whole-step rows
 *            ('activation_peak', 'total_peak', 'arena', 'max_rss', 'device_in_use').
 *   paper    the paper's own numbers (table, arch, dataset, quantity, value, source).
 *   meta     (key, value): 'db_id', the database's random identity (rb_db_identity).
 *   views    paper tables side by side with the reproduced values.
 * WAL mode and a busy timeout so several processes can write one file; every write in a
 * transaction so a killed process leaves a consistent file.
 */
#ifndef RB_DB_H
#define RB_DB_H

#include <stdint.h>
#include <stddef.h>

typedef struct rb_db rb_db;

/* Everything that identifies a run; strings are copied by the db functions. */
typedef struct {
    const char *arch;
    const char *dataset;       /* cifar10, cifar100, fashion-mnist, random */
    const char *mode;          /* standard, reversible, checkpoint */
    const char *device;        /* cpu, cuda */
    const char *kind;          /* train, mem, angle, bench */
    const char *schedule;      /* e.g. "paper", "quick", "custom" */
    const char *experiment;    /* experiment file name, or "" for a direct command */
    int batch;
    long steps;
    uint64_t seed;
    long eval_every;
    long train_subset;         /* 0 = the whole training set */
    int threads;
    const char *extra_json;    /* any further configuration, a JSON object or NULL */
} rb_run_config;

/* Opens (creating and migrating as needed) the database at path. On failure *out is NULL and
 * err (err_len bytes) says why in words a user can act on (read-only file, locked, not a
 * revbench database, newer schema than this program knows). */
int rb_db_open(rb_db **out, const char *path, char *err, size_t err_len);
void rb_db_close(rb_db *db);
/* Message of the last failure. */
const char *rb_db_message(const rb_db *db);
/* Primary SQLite result code of the last failed call (SQLITE_BUSY, SQLITE_FULL, ...), 0 if
 * none failed yet: lets a caller tell "locked" or "full" from other failures. */
int rb_db_last_code(const rb_db *db);

/* The database's identity: RB_DB_ID_LEN lowercase hex digits drawn at random when the file was
 * made (or upgraded to schema 4) and never changed. Copies of one file share it. Checkpoints
 * and run locks are kept under it so that they never mix between databases. */
#define RB_DB_ID_LEN 32
const char *rb_db_identity(const rb_db *db);

/* How long a write waits for another process's lock before failing with SQLITE_BUSY
 * (default 10 s). A caller that has just waited once shortens it before its last write. */
void rb_db_set_busy_timeout(rb_db *db, int ms);
int rb_db_busy_timeout(const rb_db *db);

/* The canonical configuration key (all fields of cfg in a fixed order); caller frees. */
char *rb_db_config_key(const rb_run_config *cfg);

/* Finds the newest run with this configuration key: returns 1 and fills run_id/status
 * (status buffer of 16 bytes) if found, 0 if none, -1 on error. */
int rb_db_find_run(rb_db *db, const rb_run_config *cfg, int64_t *run_id, char *status);

/* Inserts a run in status 'running' with machine and software details (backend_desc from
 * rv_ctx_describe). Returns 0 and sets *run_id, or -1. */
int rb_db_run_begin(rb_db *db, const rb_run_config *cfg, const char *backend_desc,
                    int64_t *run_id);
/* Marks an existing run 'running' again (resume). Where this process's machine, build or
 * commit (backend_desc from rv_ctx_describe) differ from what the row holds, the row's columns
 * gain them, joined by " + ". */
int rb_db_run_resume(rb_db *db, int64_t run_id, const char *backend_desc);
/* Sets the checkpoint path of a run. */
int rb_db_run_set_checkpoint(rb_db *db, int64_t run_id, const char *path);
/* Ends a run: status 'finished', 'failed' or 'interrupted'; reason may be NULL. */
int rb_db_run_end(rb_db *db, int64_t run_id, const char *status, const char *reason);

/* Appends metric rows. For many rows at once, wrap with rb_db_begin/rb_db_commit. */
int rb_db_metric(rb_db *db, int64_t run_id, long step, const char *name, double value);
/* Removes metrics of a run past a step (a resumed run rewrites what followed its checkpoint). */
int rb_db_metrics_truncate(rb_db *db, int64_t run_id, long after_step);
int rb_db_memory(rb_db *db, int64_t run_id, const char *category, int64_t planned_bytes,
                 int64_t peak_bytes);
int rb_db_begin(rb_db *db);
int rb_db_commit(rb_db *db);
int rb_db_rollback(rb_db *db);

/* The underlying handle, for the report and tests. */
struct sqlite3 *rb_db_handle(rb_db *db);

#endif
