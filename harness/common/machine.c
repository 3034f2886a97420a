/*
 * machine.c: the machine and software facts a run records (machine.h).
 *
 * The ISA is what the CPU offers (__builtin_cpu_supports), not what this build uses: the
 * reference backend is compiled for generic x86-64 and OpenBLAS picks its kernels at run time
 * (its core name is in runs.blas); a backend with its own kernels names its ISA in runs.backend.
 *
 * Owns: one static rb_machine.
 */
#include "common/machine.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void read_cpu_model(char *out, size_t len)
{
    snprintf(out, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, len, "%s", colon);
        break;
    }
    fclose(f);
}

static void read_isa(char *out, size_t len)
{
    out[0] = '\0';
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* Widest first, each spelled as the compilers' -m flags spell it. __builtin_cpu_supports
     * needs a literal, hence the two parallel lists. */
    static const char *const NAMES[] = { "avx512f", "avx512bw", "avx512vl", "avx512vnni",
                                         "avx2",    "fma",      "avx",      "sse4.2" };
    const int have[] = { __builtin_cpu_supports("avx512f"),  __builtin_cpu_supports("avx512bw"),
                         __builtin_cpu_supports("avx512vl"), __builtin_cpu_supports("avx512vnni"),
                         __builtin_cpu_supports("avx2"),     __builtin_cpu_supports("fma"),
                         __builtin_cpu_supports("avx"),      __builtin_cpu_supports("sse4.2") };
    size_t used = 0;
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        if (!have[i]) continue;
        int n = snprintf(out + used, len - used, "%s%s", used ? " " : "", NAMES[i]);
        if (n < 0 || (size_t)n >= len - used) break;
        used += (size_t)n;
    }
    if (!used) snprintf(out, len, "x86-64 baseline");
#else
    snprintf(out, len, "unknown (not x86)");
#endif
}

/* The checkout's commit, with "-dirty" when tracked files have changed: a run made from
 * uncommitted code must not claim a commit's name. */
static void read_git_rev(char *out, size_t len)
{
    snprintf(out, len, "unknown");
    FILE *p = popen("git describe --always --dirty --abbrev=12 --exclude '*' 2>/dev/null", "r");
    if (!p) return;
    char line[64] = "";
    int got = fgets(line, sizeof line, p) != NULL;
    int rc = pclose(p);
    line[strcspn(line, "\n")] = '\0';
    if (got && rc == 0 && line[0]) snprintf(out, len, "%s", line);
}

const rb_machine *rb_machine_get(void)
{
    static rb_machine m;
    static int done;
    if (done) return &m;
    if (gethostname(m.hostname, sizeof m.hostname) != 0) snprintf(m.hostname, sizeof m.hostname,
                                                                 "unknown");
    m.hostname[sizeof m.hostname - 1] = '\0';
    read_cpu_model(m.cpu_model, sizeof m.cpu_model);
    read_isa(m.isa, sizeof m.isa);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    m.n_cpus = n > 0 ? (int)n : 0;
    read_git_rev(m.git_rev, sizeof m.git_rev);
#ifdef __VERSION__
    const char *cc = __VERSION__;
#else
    const char *cc = "unknown";
#endif
    snprintf(m.software, sizeof m.software, "revbench %s; SQLite %s; compiler %s",
             REVBENCH_VERSION, sqlite3_libversion(), cc);
    done = 1;
    return &m;
}

double rb_machine_load1(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return -1;
    double v = -1;
    if (fscanf(f, "%lf", &v) != 1) v = -1;
    fclose(f);
    return v;
}
