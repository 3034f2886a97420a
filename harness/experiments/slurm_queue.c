/*
 * slurm_queue.c: sbatch and scontrol, run as child processes, and the jobs file
 * (slurm_queue.h).
 *
 * `scontrol show job -o ID` prints one line per job record: for an array, one per task that
 * has started (ArrayJobId=J ArrayTaskId=K) and one for the tasks still pending, whose
 * ArrayTaskId is a list of ids and ranges ("2,5-7" or "3-9%2"). JobState= and Reason= are
 * read from those lines. (`sbatch --wait` is not used: it returned 0 for a cancelled job.)
 *
 * Owns: the child processes it starts (waited for before returning).
 */
#include "experiments/slurm_queue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int rb_slurm_exec(char *const argv[], int with_stderr, char *out, size_t len)
{
    int fds[2];
    out[0] = '\0';
    if (pipe(fds) != 0) return 127;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return 127;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        if (with_stderr) {
            dup2(fds[1], STDERR_FILENO);
        } else {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) dup2(null, STDERR_FILENO);
        }
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t at = 0;
    char sink[512];
    for (;;) {
        /* Past len, keep reading (into sink) so the child never blocks on a full pipe. */
        char *dst = at + 1 < len ? out + at : sink;
        size_t room = at + 1 < len ? len - at - 1 : sizeof sink;
        ssize_t got = read(fds[0], dst, room);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        if (dst != sink) at += (size_t)got;
    }
    out[at] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int rb_slurm_sbatch(const char *script, const char *afterany_deps, char *job_id, size_t id_len,
                    char *err, size_t err_len)
{
    char dep[1024] = "";
    char *argv[5];
    int n = 0;
    argv[n++] = "sbatch";
    argv[n++] = "--parsable";
    if (afterany_deps && afterany_deps[0]) {
        snprintf(dep, sizeof dep, "--dependency=afterany:%s", afterany_deps);
        argv[n++] = dep;
    }
    argv[n++] = (char *)script;
    argv[n] = NULL;
    char out[2048];
    int rc = rb_slurm_exec(argv, 1, out, sizeof out);
    /* --parsable prints "JOBID" or "JOBID;CLUSTER"; warnings may precede it on other lines. */
    char *last = out, *line = strtok(out, "\n");
    for (; line; line = strtok(NULL, "\n")) last = line;
    size_t digits = strspn(last, "0123456789");
    if (rc != 0 || digits == 0 || (last[digits] && last[digits] != ';')) {
        snprintf(err, err_len, "sbatch %s failed (exit status %d): %s", script, rc,
                 rc == 127 ? "sbatch not found (is this a Slurm login node?)" : last);
        return -1;
    }
    snprintf(job_id, id_len, "%.*s", (int)digits, last);
    return 0;
}

/* The value of "Key=" in a one-line scontrol record, up to the next space, into out. */
static int field(const char *rec, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);
    for (const char *p = rec; (p = strstr(p, key)) != NULL; p += klen) {
        if (p != rec && p[-1] != ' ') continue;
        p += klen;
        size_t n = strcspn(p, " \n");
        snprintf(out, len, "%.*s", (int)n, p);
        return 1;
    }
    return 0;
}

/* Whether task is in an ArrayTaskId list such as "2,5-7" or "3-9%2". */
static int task_in_list(const char *list, int task)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    buf[strcspn(buf, "%")] = '\0';
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int lo = atoi(tok), hi = lo;
        const char *dash = strchr(tok, '-');
        if (dash) hi = atoi(dash + 1);
        if (task >= lo && task <= hi) return 1;
    }
    return 0;
}

void rb_slurm_job_state(const char *job_id, int task, char *out, size_t len)
{
    snprintf(out, len, "unknown to Slurm");
    char *argv[] = { "scontrol", "show", "job", "-o", (char *)job_id, NULL };
    static char buf[1 << 16];
    if (rb_slurm_exec(argv, 0, buf, sizeof buf) != 0) return;
    char *save = NULL;
    for (char *rec = strtok_r(buf, "\n", &save); rec; rec = strtok_r(NULL, "\n", &save)) {
        char ids[512] = "", state[64] = "", reason[128] = "";
        if (task >= 0) {
            if (!field(rec, "ArrayTaskId=", ids, sizeof ids) || !task_in_list(ids, task))
                continue;
        }
        if (!field(rec, "JobState=", state, sizeof state)) continue;
        field(rec, "Reason=", reason, sizeof reason);
        if (reason[0] && strcmp(reason, "None")) snprintf(out, len, "%s (%s)", state, reason);
        else snprintf(out, len, "%s", state);
        return;
    }
}

int rb_slurm_state_active(const char *state)
{
    static const char *const ACTIVE[] = { "PENDING", "RUNNING", "CONFIGURING", "COMPLETING",
                                          "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING",
                                          "SUSPENDED", "STOPPED", "SIGNALING", NULL };
    for (int i = 0; ACTIVE[i]; i++) {
        size_t n = strlen(ACTIVE[i]);
        if (!strncmp(state, ACTIVE[i], n) && (state[n] == '\0' || state[n] == ' ')) return 1;
    }
    return 0;
}

/* Lines: "task JOBID K LABEL" and "merge JOBID"; the newest (last) match wins. */
int rb_slurm_find_task(const char *jobs_file, const char *label, char *job_id, size_t id_len,
                       int *task)
{
    FILE *f = fopen(jobs_file, "r");
    if (!f) return 0;
    char line[1024], id[64], lab[512];
    int k, found = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "task %63s %d %511s", id, &k, lab) == 3 && !strcmp(lab, label)) {
            snprintf(job_id, id_len, "%s", id);
            *task = k;
            found = 1;
        }
    fclose(f);
    return found;
}

int rb_slurm_find_merge(const char *jobs_file, char *job_id, size_t id_len)
{
    FILE *f = fopen(jobs_file, "r");
    if (!f) return 0;
    char line[1024], id[64];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "merge %63s", id) == 1) {
            snprintf(job_id, id_len, "%s", id);
            found = 1;
        }
    fclose(f);
    return found;
}
