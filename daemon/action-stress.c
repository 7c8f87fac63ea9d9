/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action=stress: background pressure from stress-ng, for a [Load]. The
 * load's one step runs stress-ng for the whole run (or Timeout= at a
 * time, again and again) with the profile's Stressors= ("vm:2 cpu:1":
 * --vm 2 --cpu 1), in a memory cgroup and a process group of its own,
 * and returns when the run stops: SIGTERM to stress-ng (which then stops
 * its stressors and writes its YAML), and after STRESS_TERM_GRACE_NS a
 * SIGKILL of everything left in its group. Nothing named stress-ng of
 * ours survives the step: the group must be empty before it is removed,
 * and this worker is the subreaper that reaps whatever stress-ng orphaned.
 *
 * stress-ng writes --yaml into a memfd (nothing to clean up on disk);
 * its metrics (bogo ops, rates, CPU time, RSS per stressor) come back as
 * the step's metrics (totals) and as the load's section of the run report
 * (per stressor, summed over runs), through worker_report().
 *
 * The seed stress-ng uses (--seed) comes from the worker's PRNG, so a run
 * replays from its seed as far as stress-ng does.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "action-stress.h"
#include "kvm-proc.h"
#include "memcg.h"

#define STRESS_BINARY "stress-ng"
#define STRESS_INSTALL_HINT "apt-get install stress-ng (Debian, Ubuntu) or dnf install stress-ng (Fedora)"
/* How long stress-ng gets to stop its stressors and write its YAML after SIGTERM (measured: 0.01-0.5s, more
 * on a loaded host); the engine SIGKILLs the worker 3s after it asked it to stop. */
#define STRESS_TERM_GRACE_NS (2500 * NSEC_PER_MSEC)
/* After a run that did not work, the next waits this long per failure in a row. */
#define STRESS_BACKOFF_NS (5 * NSEC_PER_SEC)
/* A finite Timeout= that stress-ng overruns by this much is ended by us. */
#define STRESS_OVERRUN_NS (10 * NSEC_PER_SEC)
#define STRESSORS_MAX 32
#define ARGUMENTS_MAX 64
#define YAML_MAX (1024 * 1024)
#define LOG_TAIL 512

typedef struct StressParams {
        char **stressors;
        uint64_t timeout_ns;
        uint64_t memory_limit;
        char **arguments;
} StressParams;

static const Outcome stress_outcomes[_STRESS_OUT_MAX] = {
        [STRESS_OUT_RAN] = { "ran", OUTCOME_OK, "stress-ng ran and its metrics were read back" },
        [STRESS_OUT_STRESSOR_FAILED] = { "stressor-failed", OUTCOME_FAILURE,
                                         "stress-ng reported that a stressor failed (exit status 2)" },
        [STRESS_OUT_NO_METRICS] = { "no-metrics", OUTCOME_ENV_ERROR,
                                    "stress-ng ended without writing metrics (it had to be SIGKILLed)" },
        [STRESS_OUT_KILLED] = { "killed", OUTCOME_ENV_ERROR, "stress-ng died by a signal we did not send" },
        [STRESS_OUT_ENV_ERROR] = { "env-error", OUTCOME_ENV_ERROR,
                                   "stress-ng could not start or refused (missing, bad arguments, resources)" },
};

static const char *const stress_metrics[_STRESS_M_MAX + 1] = {
        [STRESS_M_RUNS] = "runs",
        [STRESS_M_STRESSORS] = "stressors",
        [STRESS_M_INSTANCES] = "instances",
        [STRESS_M_BOGO_OPS] = "bogo_ops",
        [STRESS_M_WALL_MS] = "wall_ms",
        [STRESS_M_USR_MS] = "usr_ms",
        [STRESS_M_SYS_MS] = "sys_ms",
        [STRESS_M_STOP_MS] = "stop_ms",
        NULL,
};

_Static_assert(_STRESS_M_MAX <= ACTION_METRICS_MAX, "too many metrics");

static const char *const stress_phases[] = {
        "stress:run",  /* stress-ng runs */
        "stress:stop", /* stress-ng is being stopped */
        NULL,
};

static const KeySpec stress_keys[] = {
        { "Stressors", KEY_WORDS, offsetof(StressParams, stressors), NULL, 0, STRESSORS_MAX, NULL,
          "stress-ng stressors, NAME[:INSTANCES] (vm:2 cpu:1; 0 instances = one per CPU online)" },
        { "Timeout", KEY_DURATION, offsetof(StressParams, timeout_ns), "infinity", NSEC_PER_SEC, 0, NULL,
          "how long one stress-ng run lasts; infinity: the whole run (a shorter one is started again)" },
        { "MemoryLimit", KEY_SIZE, offsetof(StressParams, memory_limit), "0", 0, 1ULL << 50, NULL,
          "limit of stress-ng's memory cgroup (0: none); its stressors are OOM-killed and restarted there" },
        { "Arguments", KEY_WORDS, offsetof(StressParams, arguments), NULL, 0, ARGUMENTS_MAX, NULL,
          "more stress-ng options, e.g. --vm-bytes 25% --vm-keep (not --yaml, --timeout, --seed, --metrics)" },
        {}
};

/* Options the action sets itself. */
static const char *const owned_options[] = { "-Y", "--yaml", "-t", "--timeout", "--seed", "-M", "--metrics",
                                              "--metrics-brief", "--log-file", "-j", "--job", NULL };

/* Per stressor, summed over this worker's runs: what the report section shows. */
typedef struct StressTotal {
        char name[STRESS_YAML_WORD_MAX];
        uint64_t instances, runs;
        double bogo_ops, wall_s, usr_s, sys_s, max_rss_kib;
} StressTotal;

typedef struct StressState {
        char *binary;
        char version[STRESS_YAML_WORD_MAX];
        StressTotal totals[STRESSORS_MAX];
        unsigned n_totals;
        uint64_t runs;
        unsigned failures; /* runs in a row that did not work */
        bool no_cgroup_noted;
        StressYaml yaml; /* big: kept here, not on the stack */
} StressState;

_printf_(4, 5) static int result(StepResult *ret, unsigned outcome, int error, const char *format, ...)
{
        va_list ap;

        ret->outcome = outcome;
        ret->error = error;
        va_start(ap, format);
        vsnprintf(ret->detail, sizeof ret->detail, format, ap);
        va_end(ap);
        return 0;
}

/* ---- the YAML ---- */

static void copy_word(char *dst, const char *src, size_t n)
{
        /* Quoted scalars ('#1 SMP', "x") lose their quotes; the rest is kept as written. */
        if (n >= 2 && (src[0] == '\'' || src[0] == '"') && src[n - 1] == src[0]) {
                src++;
                n -= 2;
        }
        snprintf(dst, STRESS_YAML_WORD_MAX, "%.*s", (int)MIN(n, (size_t)STRESS_YAML_WORD_MAX - 1), src);
}

int stress_yaml_parse(const char *text, StressYaml *ret)
{
        enum { OUTSIDE, SYSINFO, METRICS } where = OUTSIDE;
        StressYamlEntry *cur = NULL;
        bool any_metrics = false;

        memset(ret, 0, sizeof *ret);
        for (const char *line = text; line && *line;) {
                const char *end = strchr(line, '\n'), *p, *colon;
                size_t len = end ? (size_t)(end - line) : strlen(line);
                const char *next = end ? end + 1 : NULL;

                /* Top-level keys start in column 0. */
                if (len > 0 && line[0] != ' ' && line[0] != '-') {
                        where = OUTSIDE;
                        cur = NULL;
                        if (len >= 8 && strncmp(line, "metrics:", 8) == 0) {
                                where = METRICS;
                                any_metrics = true;
                        } else if (len >= 12 && strncmp(line, "system-info:", 12) == 0)
                                where = SYSINFO;
                        line = next;
                        continue;
                }
                p = line;
                while (p < line + len && *p == ' ')
                        p++;
                if (where == METRICS && p < line + len && *p == '-') {
                        /* "- stressor: NAME" opens an entry. */
                        p++;
                        while (p < line + len && *p == ' ')
                                p++;
                        cur = NULL;
                        if (ret->n_entries >= STRESS_YAML_ENTRIES_MAX) {
                                ret->truncated = true;
                        } else
                                cur = &ret->entries[ret->n_entries++];
                }
                colon = memchr(p, ':', (size_t)(line + len - p));
                if (colon && where != OUTSIDE) {
                        const char *v = colon + 1;
                        size_t klen = (size_t)(colon - p), vlen;
                        while (v < line + len && *v == ' ')
                                v++;
                        vlen = (size_t)(line + len - v);
                        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\r'))
                                vlen--;
                        if (where == SYSINFO && klen == 17 && strncmp(p, "stress-ng-version", 17) == 0)
                                copy_word(ret->version, v, vlen);
                        else if (where == METRICS && cur) {
                                if (klen == 8 && strncmp(p, "stressor", 8) == 0)
                                        copy_word(cur->stressor, v, vlen);
                                else if (cur->n_fields < STRESS_YAML_FIELDS_MAX) {
                                        StressYamlField *f = &cur->fields[cur->n_fields++];
                                        copy_word(f->key, p, klen);
                                        copy_word(f->value, v, vlen);
                                } else
                                        ret->truncated = true;
                        }
                }
                line = next;
        }
        /* An entry without a stressor name is not one. */
        for (unsigned i = 0; i < ret->n_entries;)
                if (!ret->entries[i].stressor[0]) {
                        memmove(&ret->entries[i], &ret->entries[i + 1],
                                (ret->n_entries - i - 1) * sizeof ret->entries[0]);
                        ret->n_entries--;
                } else
                        i++;
        return any_metrics ? 0 : -ENODATA;
}

double stress_yaml_number(const StressYamlEntry *e, const char *key)
{
        for (unsigned i = 0; i < e->n_fields; i++)
                if (streq(e->fields[i].key, key)) {
                        char *end;
                        double v = strtod(e->fields[i].value, &end);
                        return end != e->fields[i].value ? v : 0.0;
                }
        return 0.0;
}

/* ---- Stressors= ---- */

/* "vm:2" → name "vm", instances 2; "cpu" → 1. -EINVAL with a reason for anything else. */
static int stressor_parse(const char *word, char *name, size_t name_len, uint64_t *ret_instances, const char **why)
{
        const char *colon = strchr(word, ':');
        size_t n = colon ? (size_t)(colon - word) : strlen(word);
        uint64_t inst = 1;

        if (n == 0 || n >= name_len || n >= STRESS_YAML_WORD_MAX) {
                *why = "a stressor name is 1 to 63 characters";
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++)
                if (!((word[i] >= 'a' && word[i] <= 'z') || (word[i] >= '0' && word[i] <= '9') || word[i] == '-')) {
                        *why = "a stressor name is lower-case letters, digits and '-' (see stress-ng --stressors)";
                        return -EINVAL;
                }
        if (colon && (parse_uint64(colon + 1, &inst) < 0 || inst > 4096)) {
                *why = "write NAME:INSTANCES with 0..4096 instances (0: one per CPU online)";
                return -EINVAL;
        }
        memcpy(name, word, n);
        name[n] = '\0';
        *ret_instances = inst;
        return 0;
}

/* "/usr/bin/stress-ng", from PATH (or the usual places when PATH is unset, as under some service managers). */
static int find_binary(char **ret)
{
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = strdup(path && path[0] ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin");
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                char *candidate;
                if (asprintf(&candidate, "%s/%s", dir, STRESS_BINARY) < 0)
                        return -ENOMEM;
                if (access(candidate, X_OK) == 0) {
                        *ret = candidate;
                        return 0;
                }
                free(candidate);
        }
        return -ENOENT;
}

/* ---- running stress-ng ---- */

static int pidfd_open_(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Reads a memfd from its start: at most max bytes, NUL-terminated (the tail when from_end). */
static char *memfd_read(int fd, size_t max, bool from_end)
{
        struct stat st;
        off_t start = 0;
        char *buf;
        ssize_t k;

        if (fstat(fd, &st) < 0)
                return NULL;
        if ((size_t)st.st_size > max)
                start = from_end ? st.st_size - (off_t)max : 0;
        buf = calloc(1, MIN((size_t)st.st_size, max) + 1);
        if (!buf)
                return NULL;
        k = pread(fd, buf, MIN((size_t)st.st_size, max), start);
        if (k < 0) {
                free(buf);
                return NULL;
        }
        buf[k] = '\0';
        return buf;
}

/* The argument vector: stress-ng --NAME N … --timeout T --metrics --yaml /proc/self/fd/3 --seed S ARGUMENTS… */
static char **build_argv(const StressParams *p, const char *binary, uint64_t seed)
{
        size_t n = 0, max = 2 * STRESSORS_MAX + ARGUMENTS_MAX + 16;
        char **argv = calloc(max, sizeof *argv);
        char buf[STRESS_YAML_WORD_MAX + 8];

#define ADD(s)                                                                                                    \
        do {                                                                                                      \
                if (n + 1 >= max || !(argv[n++] = strdup(s))) {                                                  \
                        strv_free(argv);                                                                          \
                        return NULL;                                                                              \
                }                                                                                                 \
        } while (0)

        if (!argv)
                return NULL;
        ADD(binary);
        for (char **s = p->stressors; s && *s; s++) {
                char name[STRESS_YAML_WORD_MAX];
                uint64_t inst;
                const char *why;
                if (stressor_parse(*s, name, sizeof name, &inst, &why) < 0)
                        continue; /* validated at parse time */
                snprintf(buf, sizeof buf, "--%s", name);
                ADD(buf);
                snprintf(buf, sizeof buf, "%" PRIu64, inst);
                ADD(buf);
        }
        ADD("--timeout");
        /* 0: no timeout; stress-ng runs until we stop it. */
        snprintf(buf, sizeof buf, "%" PRIu64,
                 p->timeout_ns == UINT64_MAX ? (uint64_t)0 : (uint64_t)MAX(p->timeout_ns / NSEC_PER_SEC, 1ULL));
        ADD(buf);
        ADD("--metrics");
        ADD("--yaml");
        ADD("/proc/self/fd/3");
        ADD("--seed");
        snprintf(buf, sizeof buf, "%" PRIu64, seed);
        ADD(buf);
        for (char **a = p->arguments; a && *a; a++)
                ADD(*a);
#undef ADD
        return argv;
}

_noreturn_ static void exec_stress(char **argv, Memcg *m, int yaml_fd, int log_fd)
{
        sigset_t none;
        int null_fd;

        /* Its own process group: stopping it never signals the worker, and killpg reaches its stressors. */
        (void)setpgid(0, 0);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
            dup2(log_fd, STDERR_FILENO) < 0 || dup2(yaml_fd, 3) < 0)
                _exit(126);
        /* Joined before exec, so every stressor it forks is in the group from its first page. */
        if (m) {
                int r = memcg_attach(m, getpid());
                if (r < 0) {
                        dprintf(STDERR_FILENO, "hvtorture: joining %s: %s\n", m->path, strerror(-r));
                        _exit(126);
                }
        }
        (void)syscall(SYS_close_range, 4U, ~0U, 0U);
        execv(argv[0], argv);
        dprintf(STDERR_FILENO, "hvtorture: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
}

/* Reaps what stress-ng orphaned (we are their subreaper): zombies named stress-ng…, nothing else. */
static void reap_orphans(void)
{
        for (;;) {
                siginfo_t si = {};
                char path[64], comm[32] = "";
                int fd;
                ssize_t k;

                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
                        return;
                snprintf(path, sizeof path, "/proc/%d/comm", (int)si.si_pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                k = fd >= 0 ? read(fd, comm, sizeof comm - 1) : -1;
                safe_close(fd);
                comm[k > 0 ? k : 0] = '\0';
                if (!startswith(comm, "stress-ng"))
                        return;
                (void)waitpid(si.si_pid, NULL, WNOHANG);
        }
}

/* Everything left in stress-ng's group (or process group) goes; true once nothing is. */
static bool kill_leftovers(Memcg *m, pid_t pgid)
{
        uint64_t deadline = now_ns(CLOCK_MONOTONIC) + 2 * NSEC_PER_SEC;

        for (;;) {
                pid_t pids[8];
                size_t n = 0;

                if (pgid > 0)
                        (void)kill(-pgid, SIGKILL);
                if (m) {
                        (void)memcg_kill_all(m, SIGKILL);
                        if (memcg_pids(m, pids, ELEMENTSOF(pids), &n) < 0)
                                n = 0;
                } else
                        n = kill(-pgid, 0) == 0;
                reap_orphans();
                if (n == 0)
                        return true;
                if (now_ns(CLOCK_MONOTONIC) > deadline)
                        return false;
                sleep_ns(10 * NSEC_PER_MSEC);
        }
}

static StressTotal *total_for(StressState *s, const char *name)
{
        for (unsigned i = 0; i < s->n_totals; i++)
                if (streq(s->totals[i].name, name))
                        return &s->totals[i];
        if (s->n_totals >= ELEMENTSOF(s->totals))
                return NULL;
        {
                /* name may point into s (the YAML just read): copy by length, not through a format. */
                size_t n = strnlen(name, sizeof s->totals[0].name - 1);
                memmove(s->totals[s->n_totals].name, name, n);
                s->totals[s->n_totals].name[n] = '\0';
        }
        return &s->totals[s->n_totals++];
}

static uint64_t instances_of(const StressParams *p, const char *name)
{
        for (char **w = p->stressors; w && *w; w++) {
                char n[STRESS_YAML_WORD_MAX];
                uint64_t inst;
                const char *why;
                if (stressor_parse(*w, n, sizeof n, &inst, &why) == 0 && streq(n, name))
                        return inst == 0 ? (uint64_t)MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L) : inst;
        }
        return 0;
}

static uint64_t total_instances(const StressParams *p)
{
        uint64_t n = 0;

        for (char **w = p->stressors; w && *w; w++) {
                char name[STRESS_YAML_WORD_MAX];
                uint64_t inst;
                const char *why;
                if (stressor_parse(*w, name, sizeof name, &inst, &why) == 0)
                        n += inst == 0 ? (uint64_t)MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L) : inst;
        }
        return n;
}

/* The last non-empty line of stress-ng's output, the one that says why; in place (the buffer is ours). */
static const char *last_line(char *log)
{
        char *end, *start;

        if (!log)
                return "no output";
        end = log + strlen(log);
        while (end > log && (end[-1] == '\n' || end[-1] == ' '))
                *--end = '\0';
        start = strrchr(log, '\n');
        start = start ? start + 1 : log;
        return start[0] ? start : "no output";
}

/* The load's section of the run report: per stressor, summed over every run of this worker. */
static void send_report(Worker *w, StressState *s, const char *argv_line)
{
        json_object *o = json_object_new_object(), *arr = json_object_new_array(), *lines = json_object_new_array();
        char line[256];

        json_object_object_add(o, "tool", json_object_new_string("stress-ng"));
        json_object_object_add(o, "version", json_object_new_string(s->version));
        json_object_object_add(o, "command", json_object_new_string(argv_line));
        json_object_object_add(o, "runs", json_object_new_int64((int64_t)s->runs));
        snprintf(line, sizeof line, "stress-ng %s, %" PRIu64 " run%s: %s", s->version[0] ? s->version : "?", s->runs,
                 s->runs == 1 ? "" : "s", argv_line);
        json_object_array_add(lines, json_object_new_string(line));
        for (unsigned i = 0; i < s->n_totals; i++) {
                StressTotal *t = &s->totals[i];
                json_object *e = json_object_new_object();
                double rate = t->wall_s > 0 ? t->bogo_ops / t->wall_s : 0.0;
                double cpu_rate = t->usr_s + t->sys_s > 0 ? t->bogo_ops / (t->usr_s + t->sys_s) : 0.0;

                json_object_object_add(e, "stressor", json_object_new_string(t->name));
                json_object_object_add(e, "instances", json_object_new_int64((int64_t)t->instances));
                json_object_object_add(e, "bogo_ops", json_object_new_int64((int64_t)t->bogo_ops));
                json_object_object_add(e, "bogo_ops_per_s_real", json_object_new_double(rate));
                json_object_object_add(e, "bogo_ops_per_s_cpu", json_object_new_double(cpu_rate));
                json_object_object_add(e, "wall_s", json_object_new_double(t->wall_s));
                json_object_object_add(e, "usr_s", json_object_new_double(t->usr_s));
                json_object_object_add(e, "sys_s", json_object_new_double(t->sys_s));
                json_object_object_add(e, "max_rss_kib", json_object_new_int64((int64_t)t->max_rss_kib));
                json_object_array_add(arr, e);
                snprintf(line, sizeof line,
                         "%-12s x%-3" PRIu64 " %12.0f bogo ops %10.1f/s real %10.1f/s cpu  usr %.1fs sys %.1fs  rss %.0f KiB",
                         t->name, t->instances, t->bogo_ops, rate, cpu_rate, t->usr_s, t->sys_s, t->max_rss_kib);
                json_object_array_add(lines, json_object_new_string(line));
        }
        json_object_object_add(o, "stressors", arr);
        json_object_object_add(o, "lines", lines);
        (void)worker_report(w, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
}

/* Folds one run's YAML into the totals and the step's metrics; the detail lists the stressors. */
static void account(const StressParams *p, StressState *s, StepResult *ret, double wall_s)
{
        size_t used;

        if (s->yaml.version[0])
                snprintf(s->version, sizeof s->version, "%s", s->yaml.version);
        used = (size_t)snprintf(ret->detail, sizeof ret->detail, "stress-ng %s, %.1fs:", s->version, wall_s);
        for (unsigned i = 0; i < s->yaml.n_entries; i++) {
                const StressYamlEntry *e = &s->yaml.entries[i];
                StressTotal *t = total_for(s, e->stressor);
                double ops = stress_yaml_number(e, "bogo-ops"), usr = stress_yaml_number(e, "user-time"),
                       sys = stress_yaml_number(e, "system-time"), wall = stress_yaml_number(e, "wall-clock-time");

                ret->metrics[STRESS_M_STRESSORS]++;
                ret->metrics[STRESS_M_BOGO_OPS] += (uint64_t)ops;
                ret->metrics[STRESS_M_USR_MS] += (uint64_t)(usr * 1e3);
                ret->metrics[STRESS_M_SYS_MS] += (uint64_t)(sys * 1e3);
                if (t) {
                        t->instances = instances_of(p, e->stressor);
                        t->runs++;
                        t->bogo_ops += ops;
                        t->wall_s += wall;
                        t->usr_s += usr;
                        t->sys_s += sys;
                        t->max_rss_kib = MAX(t->max_rss_kib, stress_yaml_number(e, "max-rss"));
                }
                if (used < sizeof ret->detail)
                        used += (size_t)snprintf(ret->detail + used, sizeof ret->detail - used, "%s %s %.0f ops %.0f/s",
                                                 i ? "," : "", e->stressor, ops,
                                                 stress_yaml_number(e, "bogo-ops-per-second-real-time"));
        }
}

static int stress_run(Worker *w, const StressParams *p, StressState *s, StepResult *ret)
{
        _cleanup_(memcg_freep) Memcg *m = NULL;
        _cleanup_close_ int yaml_fd = -1, log_fd = -1, pidfd = -1;
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *yaml = NULL, *log = NULL, *argv_line = NULL;
        char name[MEMCG_NAME_MAX], tag[48], st[64];
        const char *reason = NULL;
        uint64_t t_start, t_term = 0, seed = prng_next(worker_prng(w));
        bool termed = false, killed_hard = false, left;
        int status = 0, r;
        pid_t pid;

        argv = build_argv(p, s->binary, seed);
        if (!argv)
                return -ENOMEM;
        {
                size_t len = 0;
                FILE *f = open_memstream(&argv_line, &len);
                if (!f)
                        return -ENOMEM;
                for (char **a = argv + 1; *a; a++)
                        fprintf(f, "%s%s", a == argv + 1 ? "" : " ", *a);
                fclose(f);
        }
        yaml_fd = memfd_create("hvt-stress-yaml", MFD_CLOEXEC);
        log_fd = memfd_create("hvt-stress-log", MFD_CLOEXEC);
        if (yaml_fd < 0 || log_fd < 0)
                return result(ret, STRESS_OUT_ENV_ERROR, negative_errno(), "memfd_create: %m");

        /* A memory cgroup of its own where the host has one; a process group in any case. */
        if (memcg_detect(&reason) >= 0) {
                snprintf(tag, sizeof tag, "stress-%u-%" PRIu64, worker_instance(w), worker_iteration(w));
                r = memcg_name(name, sizeof name, tag);
                if (r >= 0)
                        r = memcg_create(name, &m);
                if (r >= 0 && p->memory_limit)
                        r = memcg_set_limit(m, p->memory_limit);
                if ((r == -EACCES || r == -EPERM || r == -EROFS) && !p->memory_limit) {
                        /* Not ours to make (not root): its process group still takes it down. */
                        if (!s->no_cgroup_noted)
                                worker_note(w, "no memory cgroup for stress-ng (%s): its process group only",
                                            strerror(-r));
                        s->no_cgroup_noted = true;
                        r = 0;
                }
                if (r < 0)
                        return result(ret, STRESS_OUT_ENV_ERROR, r, "cannot set up a memory cgroup for stress-ng: %s",
                                      strerror(-r));
        } else if (p->memory_limit)
                return result(ret, STRESS_OUT_ENV_ERROR, -EOPNOTSUPP, "MemoryLimit= needs a memory cgroup: %s", reason);

        worker_set_phase(w, "stress:run");
        t_start = now_ns(CLOCK_MONOTONIC);
        pid = proc_fork_child();
        if (pid == 0)
                exec_stress(argv, m, yaml_fd, log_fd);
        if (pid < 0)
                return result(ret, STRESS_OUT_ENV_ERROR, pid, "fork: %s", strerror(-pid));
        (void)setpgid(pid, pid);
        pidfd = pidfd_open_(pid);

        for (;;) {
                struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
                uint64_t now;

                if (pidfd >= 0 ? poll(&pfd, 1, 100) > 0 : (sleep_ns(100 * NSEC_PER_MSEC), !proc_alive(pid)))
                        break;
                now = now_ns(CLOCK_MONOTONIC);
                if (!termed && (worker_should_stop(w) ||
                                (p->timeout_ns != UINT64_MAX && now - t_start > p->timeout_ns + STRESS_OVERRUN_NS))) {
                        /* stress-ng stops its stressors on SIGTERM and writes its YAML. */
                        worker_set_phase(w, "stress:stop");
                        (void)kill(pid, SIGTERM);
                        termed = true;
                        t_term = now;
                } else if (termed && !killed_hard && now - t_term > STRESS_TERM_GRACE_NS) {
                        killed_hard = true;
                        (void)kill_leftovers(m, pid);
                }
        }
        (void)proc_wait(pid, 5 * NSEC_PER_SEC, &status);
        if (termed)
                ret->metrics[STRESS_M_STOP_MS] = (now_ns(CLOCK_MONOTONIC) - t_term) / NSEC_PER_MSEC;
        ret->metrics[STRESS_M_WALL_MS] = (now_ns(CLOCK_MONOTONIC) - t_start) / NSEC_PER_MSEC;

        /* Stressors stress-ng left behind, or that outlived it: none may remain. */
        left = !kill_leftovers(m, pid);
        if (m) {
                r = memcg_remove(m);
                if (r < 0)
                        worker_note(w, "could not remove %s: %s", m->path, strerror(-r));
        }

        s->runs++;
        ret->metrics[STRESS_M_RUNS] = 1;
        ret->metrics[STRESS_M_INSTANCES] = total_instances(p);
        yaml = memfd_read(yaml_fd, YAML_MAX, false);
        log = memfd_read(log_fd, LOG_TAIL, true);
        if (left)
                worker_note(w, "stress-ng processes still in %s after SIGKILL", m ? m->path : "its process group");

        if (WIFEXITED(status) && WEXITSTATUS(status) >= 126)
                return result(ret, STRESS_OUT_ENV_ERROR, -ENOEXEC, "%s could not be started: %s", s->binary,
                              last_line(log));
        if (!yaml || stress_yaml_parse(yaml, &s->yaml) < 0) {
                proc_status_describe(status, st, sizeof st);
                if (killed_hard)
                        return result(ret, STRESS_OUT_NO_METRICS, -ETIMEDOUT,
                                      "stress-ng did not stop within %llums of SIGTERM and was SIGKILLed; no metrics; "
                                      "it said: %s", STRESS_TERM_GRACE_NS / NSEC_PER_MSEC, last_line(log));
                if (WIFSIGNALED(status) && !termed)
                        return result(ret, STRESS_OUT_KILLED, -EINTR, "stress-ng %s; no metrics", st);
                return result(ret, STRESS_OUT_ENV_ERROR, -EINVAL, "stress-ng %s without metrics: %s", st,
                              last_line(log));
        }

        account(p, s, ret, (double)ret->metrics[STRESS_M_WALL_MS] / 1e3);
        send_report(w, s, argv_line);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
                ret->outcome = STRESS_OUT_STRESSOR_FAILED;
                ret->error = -EPROTO;
                snprintf(ret->detail, sizeof ret->detail, "stress-ng: a stressor failed: %s", last_line(log));
                return 0;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
                ret->outcome = STRESS_OUT_ENV_ERROR;
                ret->error = -EINVAL;
                snprintf(ret->detail, sizeof ret->detail, "stress-ng exited with status %d: %s", WEXITSTATUS(status),
                         last_line(log));
                return 0;
        }
        if (WIFSIGNALED(status) && !termed) {
                ret->outcome = STRESS_OUT_KILLED;
                ret->error = -EINTR;
                return 0;
        }
        ret->outcome = STRESS_OUT_RAN;
        return 0;
}

static int stress_step(Worker *w, const void *params, void *state, StepResult *ret)
{
        const StressParams *p = params;
        StressState *s = state;
        uint64_t deadline;
        int r;

        r = stress_run(w, p, s, ret);
        if (r < 0 || ret->outcome == STRESS_OUT_RAN) {
                s->failures = 0;
                return r;
        }
        /*
         * A stress-ng that cannot run now will not run a moment later either: the next attempt waits
         * STRESS_BACKOFF_NS per failure in a row (at most a minute), or until the run ends.
         */
        s->failures++;
        deadline = now_ns(CLOCK_MONOTONIC) + MIN(s->failures * STRESS_BACKOFF_NS, 60 * NSEC_PER_SEC);
        while (!worker_should_stop(w) && now_ns(CLOCK_MONOTONIC) < deadline)
                sleep_ns(100 * NSEC_PER_MSEC);
        return 0;
}

static int stress_worker_init(Worker *w, const void *params, void **ret)
{
        _cleanup_free_ StressState *s = calloc(1, sizeof(StressState));
        int r;

        if (!s)
                return -ENOMEM;
        r = find_binary(&s->binary);
        if (r < 0)
                return r == -ENOENT ? -ENOEXEC : r;
        /* Orphans of stress-ng come to us and are reaped here, not left as zombies of PID 1. */
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
        *ret = TAKE_PTR(s);
        return 0;
}

static void stress_worker_done(Worker *w, const void *params, void *state)
{
        StressState *s = state;

        if (!s)
                return;
        free(s->binary);
        free(s);
}

static int stress_validate(void *params, const char *file, const char *section, unsigned line, ConfErrors *errs)
{
        StressParams *p = params;
        int r = 0;

        if (!p->stressors || !p->stressors[0])
                return conf_error(errs, file, line, section, "Stressors", NULL,
                                  "a stress load needs Stressors=, e.g. Stressors=vm:2 cpu:1");
        for (char **s = p->stressors; *s; s++) {
                char name[STRESS_YAML_WORD_MAX];
                uint64_t inst;
                const char *why = NULL;
                if (stressor_parse(*s, name, sizeof name, &inst, &why) < 0)
                        r = conf_error(errs, file, line, section, "Stressors", *s, "%s", why);
        }
        for (char **a = p->arguments; a && *a; a++)
                for (const char *const *o = owned_options; *o; o++)
                        if (streq(*a, *o) || (startswith(*a, *o) && (*a)[strlen(*o)] == '='))
                                r = conf_error(errs, file, line, section, "Arguments", *a,
                                               "%s is set by the stress action itself", *o);
        return r;
}

static void stress_describe(const void *params, FILE *f)
{
        const StressParams *p = params;
        char a[32];

        fputs("stress-ng", f);
        for (char **s = p->stressors; s && *s; s++) {
                char name[STRESS_YAML_WORD_MAX];
                uint64_t inst;
                const char *why;
                if (stressor_parse(*s, name, sizeof name, &inst, &why) == 0)
                        fprintf(f, " --%s %" PRIu64, name, inst);
        }
        for (char **x = p->arguments; x && *x; x++)
                fprintf(f, " %s", *x);
        if (p->timeout_ns == UINT64_MAX)
                fputs(" for the whole run", f);
        else
                fprintf(f, ", %s per run, again until the run ends", format_duration(a, sizeof a, p->timeout_ns));
        if (p->memory_limit)
                fprintf(f, ", in a memory cgroup limited to %s", format_size(a, sizeof a, p->memory_limit));
}

/* Runs `stress-ng --stressors` and checks every name the profile uses against its list. */
static int check_stressors(const char *binary, const StressParams *p, char **reason)
{
        _cleanup_close_ int out = memfd_create("hvt-stressors", MFD_CLOEXEC);
        _cleanup_free_ char *list = NULL;
        int status = 0;
        pid_t pid;

        if (out < 0)
                return 0; /* cannot tell: the run will say */
        pid = proc_fork_child();
        if (pid == 0) {
                char *argv[] = { (char *)binary, (char *)"--stressors", NULL };
                int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
                    dup2(null_fd, STDERR_FILENO) < 0)
                        _exit(126);
                execv(binary, argv);
                _exit(127);
        }
        if (pid < 0 || proc_wait(pid, 10 * NSEC_PER_SEC, &status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
                return 0;
        list = memfd_read(out, YAML_MAX, false);
        if (!list)
                return 0;
        for (char **s = p->stressors; s && *s; s++) {
                char name[STRESS_YAML_WORD_MAX], padded[STRESS_YAML_WORD_MAX + 2];
                uint64_t inst;
                const char *why;
                _cleanup_free_ char *spaced = NULL;

                if (stressor_parse(*s, name, sizeof name, &inst, &why) < 0)
                        continue;
                snprintf(padded, sizeof padded, " %s ", name);
                if (asprintf(&spaced, " %s ", list) < 0)
                        return -ENOMEM;
                for (char *c = spaced; *c; c++)
                        if (*c == '\n')
                                *c = ' ';
                if (!strstr(spaced, padded))
                        return asprintf(reason, "%s has no stressor '%s' (Stressors=%s); `%s --stressors` lists them",
                                        binary, name, *s, binary) < 0 ? -ENOMEM : -EINVAL;
        }
        return 0;
}

static int stress_check_host(const void *params, char **reason)
{
        const StressParams *p = params;
        _cleanup_free_ char *binary = NULL;
        int r;

        r = find_binary(&binary);
        if (r == -ENOENT)
                return asprintf(reason, "%s is not installed (not found in PATH): %s", STRESS_BINARY,
                                STRESS_INSTALL_HINT) < 0 ? -ENOMEM : -ENOENT;
        if (r < 0)
                return r;
        return check_stressors(binary, p, reason);
}

const ActionType action_stress = {
        .name = "stress",
        .summary = "stress-ng with chosen stressors for the whole run, its metrics read back into the report",
        .flags = ACTION_LOAD,
        .keys = stress_keys,
        .params_size = sizeof(StressParams),
        .outcomes = stress_outcomes,
        .n_outcomes = _STRESS_OUT_MAX,
        .metrics = stress_metrics,
        .phases = stress_phases,
        .validate = stress_validate,
        .describe = stress_describe,
        .check_host = stress_check_host,
        .worker_init = stress_worker_init,
        .step = stress_step,
        .worker_done = stress_worker_done,
};
