/*
 * db_runs.c: the rows of the runs table (db.h, db_ext.h): a run's configuration key, looking a
 * run up by it, and every write to a run's row from its start ('running', with the machine and
 * software it runs on) to its end (status, reason, final metrics).
 *
 * Owns: nothing beyond one call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/machine.h"
#include "db/db_ext.h"
#include "db/db_internal.h"

/* Appends "name=value;" with ';', '=' and '\' escaped so that distinct configurations never
 * give the same key. */
static void key_append(char **buf, size_t *len, size_t *cap, const char *name, const char *v)
{
    size_t need = strlen(name) + 2 * strlen(v) + 3;
    if (*len + need + 1 > *cap) {
        size_t ncap = (*cap + need) * 2;
        char *n = realloc(*buf, ncap);
        if (!n) return;
        *buf = n;
        *cap = ncap;
    }
    char *p = *buf + *len;
    p += sprintf(p, "%s=", name);
    for (; *v; v++) {
        if (*v == ';' || *v == '=' || *v == '\\') *p++ = '\\';
        *p++ = *v;
    }
    *p++ = ';';
    *p = '\0';
    *len = (size_t)(p - *buf);
}

char *rb_db_config_key(const rb_run_config *cfg)
{
    size_t len = 0, cap = 256;
    char *buf = malloc(cap), num[32];
    if (!buf) return NULL;
    buf[0] = '\0';
#define S(field) key_append(&buf, &len, &cap, #field, cfg->field ? cfg->field : "")
#define N(field, fmt, cast)                                                                     \
    do {                                                                                        \
        snprintf(num, sizeof num, fmt, (cast)cfg->field);                                       \
        key_append(&buf, &len, &cap, #field, num);                                              \
    } while (0)
    S(kind);
    S(arch);
    S(dataset);
    S(mode);
    S(device);
    S(schedule);
    S(experiment);
    N(batch, "%d", int);
    N(steps, "%ld", long);
    N(seed, "%llu", unsigned long long);
    N(eval_every, "%ld", long);
    N(train_subset, "%ld", long);
    N(threads, "%d", int);
    S(extra_json);
#undef S
#undef N
    /* A failed realloc leaves a shorter key; refuse it rather than match the wrong run. */
    if (len == 0 || buf[len - 1] != ';' || !strstr(buf, "extra_json=")) {
        free(buf);
        return NULL;
    }
    return buf;
}

int rb_db_find_run(rb_db *db, const rb_run_config *cfg, int64_t *run_id, char *status)
{
    char *key = rb_db_config_key(cfg);
    if (!key) return rb_db_fail(db, "out of memory building a configuration key");
    sqlite3_stmt *st = NULL;
    int found = -1;
    if (sqlite3_prepare_v2(db->h,
                           "SELECT id, status FROM runs WHERE config_key = ? "
                           "ORDER BY id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        rb_db_fail_sql(db, "looking up a run");
        goto done;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *run_id = sqlite3_column_int64(st, 0);
        snprintf(status, 16, "%s", (const char *)sqlite3_column_text(st, 1));
        found = 1;
    } else if (rc == SQLITE_DONE) {
        found = 0;
    } else {
        rb_db_fail_sql(db, "looking up a run");
    }
done:
    sqlite3_finalize(st);
    free(key);
    return found;
}

/* The field of a "cpu; OpenBLAS 0.3.21 ...; cuDNN 9.1; GPU NVIDIA H200" description that
 * starts with prefix (case-insensitive), or NULL. */
static char *describe_field(const char *desc, const char *prefix)
{
    if (!desc) return NULL;
    size_t plen = strlen(prefix);
    const char *p = desc;
    while (*p) {
        while (*p == ' ' || *p == ';') p++;
        size_t n = strcspn(p, ";");
        if (n >= plen && strncasecmp(p, prefix, plen) == 0) {
            char *f = malloc(n + 1);
            if (f) {
                memcpy(f, p, n);
                f[n] = '\0';
            }
            return f;
        }
        p += n;
    }
    return NULL;
}

/* NULL as "": the configuration fields are NOT NULL columns. */
static const char *or_empty(const char *s) { return s ? s : ""; }

int rb_db_run_begin(rb_db *db, const rb_run_config *cfg, const char *backend_desc,
                    int64_t *run_id)
{
    const rb_machine *mach = rb_machine_get();
    double load = rb_machine_load1();
    char *key = rb_db_config_key(cfg);
    char *blas = describe_field(backend_desc, "OpenBLAS");
    char *cudnn = describe_field(backend_desc, "cuDNN");
    char *gpu = describe_field(backend_desc, "GPU");
    int ret = -1;
    if (!key) {
        rb_db_fail(db, "out of memory building a configuration key");
    } else {
        const rb_db_arg a[] = {
            RB_DB_ARG_TEXT(key),
            RB_DB_ARG_TEXT(or_empty(cfg->kind)),
            RB_DB_ARG_TEXT(or_empty(cfg->arch)),
            RB_DB_ARG_TEXT(or_empty(cfg->dataset)),
            RB_DB_ARG_TEXT(or_empty(cfg->mode)),
            RB_DB_ARG_TEXT(or_empty(cfg->device)),
            RB_DB_ARG_TEXT(or_empty(cfg->schedule)),
            RB_DB_ARG_TEXT(or_empty(cfg->experiment)),
            RB_DB_ARG_INT(cfg->batch),
            RB_DB_ARG_INT(cfg->steps),
            RB_DB_ARG_INT((int64_t)cfg->seed),
            RB_DB_ARG_INT(cfg->eval_every),
            RB_DB_ARG_INT(cfg->train_subset),
            RB_DB_ARG_INT(cfg->threads),
            RB_DB_ARG_TEXT(cfg->extra_json),
            RB_DB_ARG_TEXT(mach->hostname),
            RB_DB_ARG_TEXT(mach->cpu_model),
            RB_DB_ARG_TEXT(gpu),
            RB_DB_ARG_TEXT(blas),
            RB_DB_ARG_TEXT(cudnn),
            RB_DB_ARG_TEXT(backend_desc),
            RB_DB_ARG_TEXT(mach->git_rev),
            RB_DB_ARG_INT(getpid()),
            RB_DB_ARG_TEXT(mach->isa),
            mach->n_cpus > 0 ? RB_DB_ARG_INT(mach->n_cpus) : RB_DB_ARG_NULL,
            load >= 0 ? RB_DB_ARG_REAL(load) : RB_DB_ARG_NULL,
            RB_DB_ARG_TEXT(mach->software),
        };
        ret = rb_db_exec(
            db, "recording a new run",
            "INSERT INTO runs(config_key, kind, arch, dataset, mode, device, schedule, experiment,"
            " batch, steps, seed, eval_every, train_subset, threads, extra_json, status,"
            " started_at, updated_at, hostname, cpu_model, gpu_model, blas, cudnn, backend,"
            " git_rev, pid, isa, n_cpus, load_start, software) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
            " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'running',"
            " strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),"
            " ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)",
            a, (int)(sizeof a / sizeof a[0]));
        if (ret == 0) *run_id = sqlite3_last_insert_rowid(db->h);
    }
    free(key);
    free(blas);
    free(cudnn);
    free(gpu);
    return ret;
}

/* rb_db_exec of an UPDATE of one run's row: the run id in ?1, texts (NULL binds NULL) in
 * ?2..?4. A run that does not exist is a failure, not an update of nothing. */
static int update_run(rb_db *db, const char *what, const char *sql, int64_t id, const char *t2,
                      const char *t3, const char *t4)
{
    const rb_db_arg a[] = { RB_DB_ARG_INT(id), RB_DB_ARG_TEXT(t2), RB_DB_ARG_TEXT(t3),
                            RB_DB_ARG_TEXT(t4) };
    if (rb_db_exec(db, what, sql, a, 4)) return -1;
    if (sqlite3_changes(db->h) == 0)
        return rb_db_fail(db, "%s: no run with id %lld", what, (long long)id);
    return 0;
}

/* SQL for "column col, with value ?N added unless it is already one of its ' + '-joined
 * parts". */
#define JOINED(col, n)                                                                      \
    col " = CASE WHEN ?" #n " IS NULL OR ?" #n " = '' OR " col " IS ?" #n                    \
    " OR instr(' + ' || " col " || ' + ', ' + ' || ?" #n " || ' + ') > 0 THEN " col           \
    " WHEN coalesce(" col ", '') = '' THEN ?" #n " ELSE " col " || ' + ' || ?" #n " END"

int rb_db_run_resume(rb_db *db, int64_t run_id, const char *backend_desc)
{
    const rb_machine *mach = rb_machine_get();
    char *blas = describe_field(backend_desc, "OpenBLAS");
    const rb_db_arg a[] = {
        RB_DB_ARG_INT(run_id),       RB_DB_ARG_INT(getpid()),
        RB_DB_ARG_TEXT(mach->hostname), RB_DB_ARG_TEXT(mach->cpu_model),
        RB_DB_ARG_TEXT(mach->isa),   RB_DB_ARG_TEXT(blas),
        RB_DB_ARG_TEXT(backend_desc), RB_DB_ARG_TEXT(mach->git_rev),
        RB_DB_ARG_TEXT(mach->software),
    };
    /* A run resumed in another sitting may run on another machine, build or commit: the row
     * then names every one it ran on, joined by " + ", so that no step is attributed to a
     * machine it did not run on. (started_at stays the first sitting's: the wall time of a
     * resumed run includes the pause, and its images_per_sec metrics are the speed.) */
    int ret = rb_db_exec(db, "resuming a run",
                         "UPDATE runs SET status = 'running', reason = NULL, ended_at = NULL,"
                         " pid = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
                         JOINED("hostname", 3) ", " JOINED("cpu_model", 4) ", "
                         JOINED("isa", 5) ", " JOINED("blas", 6) ", " JOINED("backend", 7) ", "
                         JOINED("git_rev", 8) ", " JOINED("software", 9) " WHERE id = ?1",
                         a, (int)(sizeof a / sizeof a[0]));
    free(blas);
    if (ret == 0 && sqlite3_changes(db->h) == 0)
        return rb_db_fail(db, "resuming a run: no run with id %lld", (long long)run_id);
    return ret;
}

int rb_db_run_set_checkpoint(rb_db *db, int64_t run_id, const char *path)
{
    return update_run(db, "recording a checkpoint path",
                      "UPDATE runs SET checkpoint = ?2,"
                      " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
                      run_id, path, NULL, NULL);
}

int rb_db_run_set_result(rb_db *db, int64_t run_id, const char *json)
{
    return update_run(db, "recording a run's result",
                      "UPDATE runs SET result_json = ?2 WHERE id = ?1", run_id, json, NULL, NULL);
}

int rb_db_run_set_backend(rb_db *db, int64_t run_id, const char *backend_desc)
{
    char *blas = describe_field(backend_desc, "OpenBLAS");
    char *cudnn = describe_field(backend_desc, "cuDNN");
    char *gpu = describe_field(backend_desc, "GPU");
    const rb_db_arg a[] = { RB_DB_ARG_INT(run_id), RB_DB_ARG_TEXT(backend_desc),
                            RB_DB_ARG_TEXT(blas), RB_DB_ARG_TEXT(cudnn), RB_DB_ARG_TEXT(gpu) };
    int rc = rb_db_exec(db, "recording a run's backend",
                        "UPDATE runs SET backend = ?2, blas = coalesce(?3, blas),"
                        " cudnn = coalesce(?4, cudnn), gpu_model = coalesce(?5, gpu_model)"
                        " WHERE id = ?1",
                        a, 5);
    free(blas);
    free(cudnn);
    free(gpu);
    return rc;
}

int rb_db_run_checkpoint(rb_db *db, int64_t run_id, char *out, size_t len)
{
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db->h, "SELECT checkpoint FROM runs WHERE id = ?", -1, &st, NULL) !=
        SQLITE_OK)
        return rb_db_fail_sql(db, "reading a checkpoint path");
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st), ret = 0;
    if (rc == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(st, 0);
        if (p) snprintf(out, len, "%s", p);
    } else if (rc == SQLITE_DONE) {
        ret = rb_db_fail(db, "no run with id %lld", (long long)run_id);
    } else {
        ret = rb_db_fail_sql(db, "reading a checkpoint path");
    }
    sqlite3_finalize(st);
    return ret;
}

int rb_db_run_end(rb_db *db, int64_t run_id, const char *status, const char *reason)
{
    if (!status || (strcmp(status, "finished") && strcmp(status, "failed") &&
                    strcmp(status, "interrupted")))
        return rb_db_fail(db, "ending run %lld: status '%s' is not finished, failed or "
                          "interrupted", (long long)run_id, status ? status : "(null)");
    /* The final metrics are the last logged value of each, copied so that tables and views
     * need no per-run subquery. The load average goes in as text, rounded as it is printed,
     * and back to a number, NULL where /proc/loadavg cannot be read. */
    char load[32] = "";
    double l1 = rb_machine_load1();
    if (l1 >= 0) snprintf(load, sizeof load, "%.2f", l1);
    return update_run(
        db, "ending a run",
        "UPDATE runs SET status = ?2, reason = ?3,"
        " load_end = CAST(nullif(?4, '') AS REAL),"
        " ended_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), updated_at = strftime("
        "'%Y-%m-%dT%H:%M:%fZ', 'now'),"
        " final_test_error = (SELECT value FROM metrics WHERE run_id = ?1"
        "   AND name = 'test_error' ORDER BY step DESC LIMIT 1),"
        " final_test_loss = (SELECT value FROM metrics WHERE run_id = ?1"
        "   AND name = 'test_loss' ORDER BY step DESC LIMIT 1),"
        " final_train_loss = (SELECT value FROM metrics WHERE run_id = ?1"
        "   AND name = 'train_loss' ORDER BY step DESC LIMIT 1),"
        " final_train_error = (SELECT value FROM metrics WHERE run_id = ?1"
        "   AND name = 'train_error' ORDER BY step DESC LIMIT 1)"
        " WHERE id = ?1",
        run_id, status, reason, load);
}
