/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `hvtorture classify`: how a person checks a kernel log from any machine.
 * Reads console logs, /dev/kmsg dumps or pstore records (files or stdin)
 * and prints the title and kind of each kernel report found, nothing for a
 * clean log; --json gives one object per line. Exit 0 clean, 1 reports
 * found, 2 usage or I/O error (naming the file).
 *
 * `--corpus DIR` measures the classifier against a directory of logs with
 * expected titles in syzkaller's test-data format ("TITLE:", "ALT:" header
 * lines, an empty line, the log, optionally "REPORT:" and the expected
 * report): same kind as expected, exact title, no-crash logs clean, and
 * throughput. Exit 0 when the targets are met, 1 when not.
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "classify.h"
#include "log.h"
#include "verbs.h"

#define INPUT_MAX (256U * 1024 * 1024) /* a log bigger than this is not read whole */
#define CORPUS_FILES_MAX 100000U

static bool arg_json;
static bool arg_verbose;
static unsigned arg_flags;
static const char *arg_corpus;

static void help(void)
{
        printf("hvtorture classify [OPTIONS] FILE…|-\n"
               "hvtorture classify --corpus DIR [-v]\n\n"
               "Find kernel reports (WARNING, BUG, KASAN, lockdep, stalls, panics, …) in logs and print\n"
               "their syzbot-style titles. Exit 0: clean, 1: reports found, 2: usage or I/O error.\n\n"
               "  --json            one JSON object per report and line\n"
               "  --user-facility   also classify /dev/kmsg records userspace wrote\n"
               "  --corpus DIR      measure accuracy on logs with expected titles (syzkaller format)\n"
               "  -v, --verbose     with --corpus: one line per file\n"
               "  -h, --help        this text\n");
}

static int parse_argv(int argc, char *argv[])
{
        enum { ARG_JSON = 0x100, ARG_USER, ARG_CORPUS };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "user-facility", no_argument, NULL, ARG_USER },
                { "corpus", required_argument, NULL, ARG_CORPUS },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        arg_json = arg_verbose = false;
        arg_flags = 0;
        arg_corpus = NULL;
        optind = 0;
        while ((c = getopt_long(argc, argv, "vh", options, NULL)) >= 0)
                switch (c) {
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_USER:
                        arg_flags |= CLASSIFY_USER_FACILITY;
                        break;
                case ARG_CORPUS:
                        arg_corpus = optarg;
                        break;
                case 'v':
                        arg_verbose = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (arg_corpus && optind < argc) {
                log_error("classify: --corpus takes a directory and no files.");
                return -EINVAL;
        }
        if (!arg_corpus && optind >= argc) {
                log_error("classify: no input: give files, or - for stdin.");
                return -EINVAL;
        }
        return 1;
}

/* Reads all of fd, at most INPUT_MAX bytes. */
static int read_all(int fd, char **ret, size_t *ret_len)
{
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, cap = 0;

        for (;;) {
                ssize_t l;

                if (n + 65536 + 1 > cap) {
                        char *p;
                        if (cap >= INPUT_MAX)
                                return -EFBIG;
                        cap = MIN(MAX(cap * 2, (size_t)65536 * 4), (size_t)INPUT_MAX + 65536 + 1);
                        p = realloc(buf, cap);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                l = read(fd, buf + n, cap - n - 1);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (l == 0)
                        break;
                n += (size_t)l;
                if (n > INPUT_MAX)
                        return -EFBIG;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}

typedef struct PrintCtx {
        const char *name;
        unsigned n;
} PrintCtx;

static int print_report(const ClassifyReport *r, void *userdata)
{
        PrintCtx *p = userdata;

        p->n++;
        if (arg_json) {
                struct json_object *o = classify_report_to_json(r, false);
                if (!o)
                        return -ENOMEM;
                json_object_object_add(o, "file", json_object_new_string(p->name));
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
        } else
                printf("%s:%u-%u: %s: %s\n", p->name, r->first_line, r->last_line,
                       strna(evidence_kind_to_string(r->kind)), r->title);
        return 0;
}

/* Streams the input through the classifier in chunks: logs of any size, bounded memory. */
static int classify_fd(int fd, const char *name, unsigned *ret_reports)
{
        _cleanup_(classifier_freep) Classifier *c = NULL;
        PrintCtx p = { .name = name };
        char buf[65536];
        int r;

        r = classifier_new(arg_flags, print_report, &p, &c);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t l = read(fd, buf, sizeof buf);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (l == 0)
                        break;
                r = classifier_feed(c, buf, (size_t)l);
                if (r < 0)
                        return r;
        }
        r = classifier_feed(c, "\n", 1); /* a last line without newline */
        if (r >= 0)
                r = classifier_flush(c);
        if (r < 0)
                return r;
        *ret_reports += p.n;
        return 0;
}

/* ---- --corpus ---- */

typedef struct Expected {
        char *title; /* NULL: no crash expected */
        char **alts;
        size_t n_alts;
        const char *log;
        size_t log_len;
} Expected;

static void expected_clear(Expected *e)
{
        free(e->title);
        for (size_t i = 0; i < e->n_alts; i++)
                free(e->alts[i]);
        free(e->alts);
        *e = (Expected){};
}

/*
 * The test-data format: "KEY: value" lines up to the first empty line ('#'
 * lines are comments), then the log, then optionally "\nREPORT:\n" and the
 * expected report text, which is not part of the log.
 */
static int parse_expected(char *buf, size_t len, Expected *ret)
{
        Expected e = {};
        char *p = buf, *end = buf + len, *rep;

        while (p < end) {
                char *nl = memchr(p, '\n', (size_t)(end - p));
                char *line_end = nl ? nl : end;
                size_t l = (size_t)(line_end - p);

                if (l > 0 && p[l - 1] == '\r')
                        l--;
                if (l == 0) {
                        p = nl ? nl + 1 : end;
                        break;
                }
                if (p[0] != '#') {
                        char *colon = memchr(p, ':', l);
                        if (colon) {
                                size_t kl = (size_t)(colon - p);
                                char *v = colon + 1;
                                size_t vl = l - kl - 1;
                                while (vl > 0 && *v == ' ')
                                        v++, vl--;
                                while (vl > 0 && v[vl - 1] == ' ')
                                        vl--;
                                if (kl == 5 && strncmp(p, "TITLE", 5) == 0 && vl > 0) {
                                        free(e.title);
                                        e.title = strndup(v, vl);
                                        if (!e.title)
                                                goto oom;
                                } else if (kl == 3 && strncmp(p, "ALT", 3) == 0 && vl > 0) {
                                        char **a = realloc(e.alts, (e.n_alts + 1) * sizeof(char *));
                                        if (!a)
                                                goto oom;
                                        e.alts = a;
                                        if (!(e.alts[e.n_alts] = strndup(v, vl)))
                                                goto oom;
                                        e.n_alts++;
                                }
                        }
                }
                p = nl ? nl + 1 : end;
        }
        rep = memmem(p, (size_t)(end - p), "\nREPORT:\n", 9);
        e.log = p;
        e.log_len = rep ? (size_t)(rep - p) + 1 : (size_t)(end - p);
        *ret = e;
        return 0;
oom:
        expected_clear(&e);
        return -ENOMEM;
}

typedef struct FirstReport {
        ClassifyReport *first;
        unsigned n;
} FirstReport;

/* syzbot names a log after its first report; OOM kills are not crashes to it. */
static int keep_first(const ClassifyReport *r, void *userdata)
{
        FirstReport *f = userdata;

        if (r->kind == EVIDENCE_OOM)
                return 0;
        f->n++;
        if (f->first && f->first->first_line <= r->first_line)
                return 0;
        classify_report_free(f->first);
        f->first = NULL;
        return classify_report_dup(r, &f->first);
}

static int name_cmp(const void *a, const void *b)
{
        const char *x = *(char *const *)a, *y = *(char *const *)b;
        size_t lx = strlen(x), ly = strlen(y);

        /* numeric names in numeric order */
        if (lx != ly && strspn(x, "0123456789") == lx && strspn(y, "0123456789") == ly)
                return lx < ly ? -1 : 1;
        return strcmp(x, y);
}

static bool same_kind(const char *a, const char *b)
{
        size_t la = classify_title_kind_prefix(a), lb = classify_title_kind_prefix(b);
        return la == lb && strncmp(a, b, la) == 0;
}

static int run_corpus(const char *dir)
{
        _cleanup_close_ int dfd = -1;
        DIR *d;
        struct dirent *de;
        char **names = NULL;
        size_t n_names = 0;
        unsigned crash = 0, kind_ok = 0, exact_ok = 0, clean = 0, clean_ok = 0;
        uint64_t bytes = 0, ns = 0, init_ns = 0;
        double kind_pct, exact_pct, mbps;
        int r = 0;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return log_error_errno(errno, "classify: cannot open corpus directory %s: %m", dir), 2;
        d = fdopendir(fcntl(dfd, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return log_error_errno(errno, "classify: cannot read corpus directory %s: %m", dir), 2;
        while ((de = readdir(d))) {
                char **nn;
                if (de->d_name[0] == '.' || streq(de->d_name, "INDEX.tsv") || strstr(de->d_name, ".md"))
                        continue;
                if (n_names >= CORPUS_FILES_MAX) {
                        log_error("classify: %s has more than %u files.", dir, CORPUS_FILES_MAX);
                        r = -E2BIG;
                        break;
                }
                nn = realloc(names, (n_names + 1) * sizeof(char *));
                if (!nn || !(nn[n_names] = strdup(de->d_name))) {
                        free(nn ? nn : names);
                        names = NULL;
                        n_names = 0;
                        r = log_oom();
                        break;
                }
                names = nn;
                n_names++;
        }
        closedir(d);
        if (r < 0)
                goto out;
        if (n_names > 0)
                qsort(names, n_names, sizeof(char *), name_cmp);

        /* Compile the pattern tables now: throughput is the steady state, startup is reported apart. */
        {
                _cleanup_(classifier_freep) Classifier *warm = NULL;
                uint64_t t0 = now_ns(CLOCK_MONOTONIC);

                r = classifier_new(0, NULL, NULL, &warm);
                if (r < 0) {
                        log_error_errno(r, "classify: cannot set up the classifier: %m");
                        goto out;
                }
                init_ns = now_ns(CLOCK_MONOTONIC) - t0;
        }

        for (size_t i = 0; i < n_names; i++) {
                _cleanup_close_ int fd = -1;
                _cleanup_free_ char *buf = NULL;
                _cleanup_(classifier_freep) Classifier *c = NULL;
                Expected e = {};
                FirstReport fr = {};
                size_t len;
                uint64_t t0;
                struct stat st;
                bool k_ok = false, x_ok = false;

                fd = openat(dfd, names[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0 || fstat(fd, &st) < 0) {
                        r = log_error_errno(errno, "classify: %s/%s: %m", dir, names[i]);
                        goto out;
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                r = read_all(fd, &buf, &len);
                if (r < 0) {
                        log_error_errno(r, "classify: %s/%s: %m", dir, names[i]);
                        goto out;
                }
                /* syzkaller's test harness drops carriage returns */
                {
                        size_t o = 0;
                        for (size_t k = 0; k < len; k++)
                                if (buf[k] != '\r')
                                        buf[o++] = buf[k];
                        len = o;
                        buf[len] = 0;
                }
                r = parse_expected(buf, len, &e);
                if (r < 0) {
                        log_oom();
                        goto out;
                }
                r = classifier_new(arg_flags, keep_first, &fr, &c);
                if (r < 0) {
                        expected_clear(&e);
                        log_error_errno(r, "classify: cannot set up the classifier: %m");
                        goto out;
                }
                t0 = now_ns(CLOCK_MONOTONIC);
                r = classifier_feed(c, e.log, e.log_len);
                if (r >= 0)
                        r = classifier_feed(c, "\n", 1);
                if (r >= 0)
                        r = classifier_flush(c);
                ns += now_ns(CLOCK_MONOTONIC) - t0;
                bytes += e.log_len;
                if (r < 0) {
                        classify_report_free(fr.first);
                        expected_clear(&e);
                        log_error_errno(r, "classify: %s/%s: classifier failed: %m", dir, names[i]);
                        goto out;
                }

                if (e.title) {
                        crash++;
                        if (fr.first) {
                                k_ok = same_kind(fr.first->title, e.title);
                                x_ok = streq(fr.first->title, e.title);
                                for (size_t a = 0; a < e.n_alts && !x_ok; a++)
                                        x_ok = streq(fr.first->title, e.alts[a]);
                        }
                        kind_ok += k_ok;
                        exact_ok += x_ok;
                        if (arg_verbose)
                                printf("%-6s %-5s %s\n  expected: %s\n  got:      %s\n", names[i],
                                       x_ok ? "ok" : k_ok ? "KIND" : "MISS", fr.first ? fr.first->title : "(clean)",
                                       e.title, fr.first ? fr.first->title : "(no report)");
                } else {
                        clean++;
                        clean_ok += !fr.first;
                        if (arg_verbose)
                                printf("%-6s %-5s %s\n", names[i], fr.first ? "DIRTY" : "ok",
                                       fr.first ? fr.first->title : "(clean)");
                }
                classify_report_free(fr.first);
                expected_clear(&e);
        }

        kind_pct = crash ? 100.0 * kind_ok / crash : 100.0;
        exact_pct = crash ? 100.0 * exact_ok / crash : 100.0;
        mbps = ns ? (double)bytes / (1024.0 * 1024.0) / ((double)ns / 1e9) : 0.0;
        printf("corpus %s: %u logs with a crash, %u without\n", dir, crash, clean);
        printf("same kind:     %u/%u (%.1f%%, target >= 95%%)\n", kind_ok, crash, kind_pct);
        printf("exact title:   %u/%u (%.1f%%, target >= 85%%)\n", exact_ok, crash, exact_pct);
        printf("clean correct: %u/%u (target: all)\n", clean_ok, clean);
        printf("throughput:    %.1f MB/s (%.2f MB in %.3f s; pattern tables compiled once in %.3f s)\n", mbps,
               (double)bytes / (1024.0 * 1024.0), (double)ns / 1e9, (double)init_ns / 1e9);
        r = kind_pct >= 95.0 && exact_pct >= 85.0 && clean_ok == clean ? 0 : 1;
out:
        for (size_t i = 0; i < n_names; i++)
                free(names[i]);
        free(names);
        return r < 0 ? 2 : r;
}

int verb_classify(int argc, char *argv[])
{
        unsigned reports = 0;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        if (arg_corpus)
                return run_corpus(arg_corpus);

        for (int i = optind; i < argc; i++) {
                _cleanup_close_ int fd = -1;
                const char *name = argv[i];
                int in = STDIN_FILENO;

                if (!streq(name, "-")) {
                        fd = open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                        if (fd < 0)
                                return log_error_errno(errno, "classify: cannot open %s: %m", name), 2;
                        in = fd;
                } else
                        name = "<stdin>";
                r = classify_fd(in, name, &reports);
                if (r < 0)
                        return log_error_errno(r, "classify: %s: %m", name), 2;
        }
        fflush(stdout);
        return reports > 0 ? 1 : 0;
}
