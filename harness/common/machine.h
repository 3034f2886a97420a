/*
 * machine.h: what a run records about the machine and the software it ran on (runs.hostname,
 * cpu_model, isa, n_cpus, git_rev, software, load_start, load_end), and what
 * `revbench --version` prints. Read once per process.
 */
#ifndef RB_MACHINE_H
#define RB_MACHINE_H

typedef struct {
    char hostname[256];
    char cpu_model[256];   /* /proc/cpuinfo "model name", or "unknown" */
    char isa[160];         /* the vector extensions this CPU has, widest first, e.g.
                            * "avx512f avx512bw avx512vl avx2 fma avx sse4.2" */
    int n_cpus;            /* online CPUs (what the load average is relative to) */
    char git_rev[64];      /* commit of the working directory's checkout, "-dirty" appended
                            * when tracked files differ from it; "unknown" outside a checkout */
    char software[256];    /* "revbench V; SQLite V; compiler V" */
} rb_machine;

/* The facts above, read on the first call and kept for the life of the process. */
const rb_machine *rb_machine_get(void);

/* The 1-minute load average (/proc/loadavg), or -1 where it cannot be read. A run records it
 * when it starts and when it ends, because timings taken on a loaded machine mean little. */
double rb_machine_load1(void);

#endif
