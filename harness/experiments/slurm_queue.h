/*
 * slurm_queue.h: talking to Slurm through its commands (sbatch, scontrol), and the record of
 * what `revbench run --slurm` submitted (RUNDIR/jobs.txt).
 *
 * No Slurm library is linked: a cluster's commands are what every user has, they are the
 * stable interface across Slurm versions, and a revbench built without Slurm still runs
 * everywhere else.
 */
#ifndef RB_SLURM_QUEUE_H
#define RB_SLURM_QUEUE_H

#include <stddef.h>

/* Runs argv (argv[0] looked up in PATH) and captures its stdout (and its stderr when
 * with_stderr, else stderr is dropped) into out (NUL-terminated, truncated to len). Returns its exit status, 127 when
 * it cannot be run, or 128 + the signal that ended it. */
int rb_slurm_exec(char *const argv[], int with_stderr, char *out, size_t len);

/* Submits a batch script: `sbatch --parsable [--dependency=afterany:DEPS] SCRIPT`. Fills
 * job_id. Returns 0, or -1 with sbatch's message in err. */
int rb_slurm_sbatch(const char *script, const char *afterany_deps, char *job_id, size_t id_len,
                    char *err, size_t err_len);

/* The state of job job_id (array task `task` of it when task >= 0) as `scontrol show job`
 * tells it: "PENDING", "RUNNING", "COMPLETED", "CANCELLED", "TIMEOUT", ... with the reason in
 * parentheses when Slurm gives one ("PENDING (Dependency)"). "unknown to Slurm" when scontrol
 * no longer knows the job (finished jobs are forgotten after the cluster's MinJobAge). */
void rb_slurm_job_state(const char *job_id, int task, char *out, size_t len);

/* 1 when the state is one of a job that is still queued or running (PENDING, RUNNING,
 * CONFIGURING, COMPLETING, REQUEUED, RESIZING, SUSPENDED, STOPPED). */
int rb_slurm_state_active(const char *state);

/* The newest record of the jobs file for the shard label: fills job_id and task (the array
 * task id) and returns 1, or 0 when the label was never submitted. */
int rb_slurm_find_task(const char *jobs_file, const char *label, char *job_id, size_t id_len,
                       int *task);
/* The newest merge job of the jobs file: 1 and job_id, or 0. */
int rb_slurm_find_merge(const char *jobs_file, char *job_id, size_t id_len);

#endif
