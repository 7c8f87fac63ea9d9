/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The live evidence pipeline: /dev/kmsg → classifier → sink, with taint
 * read after every report and a quiet-time flush so a splat whose end
 * marker never comes is still reported a second later, not at run end.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "classify.h"
#include "evidence-monitor.h"
#include "store.h"
#include "vmcore.h"
#include "log.h"
#include "pstore.h"
#include "taint.h"

#define DRAIN_BATCH 1024
#define QUIET_FLUSH_USEC (1000 * 1000)

struct EvidenceMonitor {
        sd_event *event;
        KmsgReader *reader;
        Classifier *classifier;
        sd_event_source *io, *flush_timer;
        EvidenceSinkFn sink;
        void *userdata;
        uint64_t taint_start, taint_last;
        uint64_t records;
};

static int sink_taint(EvidenceMonitor *m)
{
        uint64_t now;
        json_object *item;
        int r;

        if (taint_read(&now) < 0 || (now & ~m->taint_last) == 0) {
                m->taint_last = now | m->taint_last;
                return 0;
        }
        item = taint_change_to_json(m->taint_last, now);
        m->taint_last = now;
        if (!item)
                return -ENOMEM;
        r = m->sink(EVIDENCE_TAINT, item, true, m->userdata);
        json_object_put(item);
        return r;
}

static int on_report(const ClassifyReport *rep, void *userdata)
{
        EvidenceMonitor *m = userdata;
        json_object *item = classify_report_to_json(rep, true);
        int r;

        if (!item)
                return -ENOMEM;
        json_object_object_add(item, "source", json_object_new_string("kmsg"));
        r = m->sink(rep->kind, item, true, m->userdata);
        json_object_put(item);
        if (r < 0)
                return r;
        /* A splat usually taints (W, D, L, …): name the new bits right away. */
        return sink_taint(m);
}

static int on_record(const KmsgRecord *rec, void *userdata)
{
        EvidenceMonitor *m = userdata;

        m->records++;
        return classifier_feed_kmsg(m->classifier, rec);
}

static int on_gap(uint64_t first_lost_seq, uint64_t n_lost, void *userdata)
{
        EvidenceMonitor *m = userdata;
        json_object *item = kmsg_gap_to_json(first_lost_seq, n_lost);
        int r;

        if (!item)
                return -ENOMEM;
        /* Counted only where the profile says [Evidence] Count=gap: a busy kernel overruns the ring buffer
         * without any bug. The report lists it either way. */
        r = m->sink(EVIDENCE_GAP, item, true, m->userdata);
        json_object_put(item);
        return r;
}

static int drain(EvidenceMonitor *m)
{
        const KmsgCallbacks cb = { .record = on_record, .gap = on_gap };
        int r;

        do
                r = kmsg_reader_drain(m->reader, DRAIN_BATCH, &cb, m);
        while (r == (int)DRAIN_BATCH);
        return r < 0 ? r : 0;
}

static int on_quiet(sd_event_source *s, uint64_t usec, void *userdata)
{
        EvidenceMonitor *m = userdata;

        (void)classifier_flush(m->classifier);
        return 0;
}

static int on_kmsg(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        EvidenceMonitor *m = userdata;
        int r;

        r = drain(m);
        if (r < 0)
                log_warning_errno(r, "Reading /dev/kmsg failed, ignoring: %m");
        /* A report still open after a second of silence is complete enough to report. */
        if (classifier_has_pending(m->classifier)) {
                if (m->flush_timer) {
                        sd_event_source_set_time_relative(m->flush_timer, QUIET_FLUSH_USEC);
                        sd_event_source_set_enabled(m->flush_timer, SD_EVENT_ONESHOT);
                } else
                        (void)sd_event_add_time_relative(m->event, &m->flush_timer, CLOCK_MONOTONIC,
                                                         QUIET_FLUSH_USEC, 0, on_quiet, m);
        }
        return 0;
}

int evidence_monitor_new(sd_event *event, const EvidenceMonitorOptions *opts, EvidenceSinkFn sink, void *userdata,
                         EvidenceMonitor **ret)
{
        _cleanup_(evidence_monitor_freep) EvidenceMonitor *m = NULL;
        int r;

        m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(event);
        m->sink = sink;
        m->userdata = userdata;
        if (taint_read(&m->taint_start) < 0)
                m->taint_start = 0;
        m->taint_last = m->taint_start;

        r = classifier_new(opts->user_facility ? CLASSIFY_USER_FACILITY : 0, on_report, m, &m->classifier);
        if (r < 0)
                return r;
        r = kmsg_reader_open(opts->kmsg_path ? opts->kmsg_path : "/dev/kmsg", opts->start, opts->after_seq,
                             &m->reader);
        if (r < 0)
                return r;
        r = sd_event_add_io(event, &m->io, kmsg_reader_fd(m->reader), EPOLLIN, on_kmsg, m);
        if (r < 0)
                return r;
        /* Evidence first: a splat is read before the next worker message is handled. */
        (void)sd_event_source_set_priority(m->io, SD_EVENT_PRIORITY_NORMAL - 10);
        *ret = TAKE_PTR(m);
        return 0;
}

EvidenceMonitor *evidence_monitor_free(EvidenceMonitor *m)
{
        if (!m)
                return NULL;
        sd_event_source_disable_unref(m->io);
        sd_event_source_disable_unref(m->flush_timer);
        kmsg_reader_free(m->reader);
        classifier_free(m->classifier);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

int evidence_monitor_finish(EvidenceMonitor *m)
{
        int r = drain(m);

        (void)classifier_flush(m->classifier);
        (void)sink_taint(m);
        return r;
}

uint64_t evidence_monitor_last_seq(const EvidenceMonitor *m)
{
        return kmsg_reader_last_seq(m->reader);
}

uint64_t evidence_monitor_taint_start(const EvidenceMonitor *m)
{
        return m->taint_start;
}

json_object *evidence_monitor_stats_json(const EvidenceMonitor *m)
{
        json_object *o = json_object_new_object();
        char letters[TAINT_LETTERS_MAX];

        json_object_object_add(o, "last_seq", json_object_new_int64((int64_t)kmsg_reader_last_seq(m->reader)));
        json_object_object_add(o, "records", json_object_new_int64((int64_t)m->records));
        json_object_object_add(o, "gaps", json_object_new_int64((int64_t)kmsg_reader_gaps(m->reader)));
        json_object_object_add(o, "lost", json_object_new_int64((int64_t)kmsg_reader_lost(m->reader)));
        json_object_object_add(o, "malformed", json_object_new_int64((int64_t)kmsg_reader_malformed(m->reader)));
        taint_to_letters(m->taint_start, letters);
        json_object_object_add(o, "taint_start", json_object_new_string(letters));
        taint_to_letters(m->taint_last, letters);
        json_object_object_add(o, "taint_end", json_object_new_string(letters));
        return o;
}

/* ---- pstore ---- */

typedef struct PstoreCtx {
        EvidenceSinkFn sink;
        void *userdata;
        bool counted;
        const char *dir;
} PstoreCtx;

static int on_pstore_report(const PstoreSource *src, const ClassifyReport *rep, void *userdata)
{
        PstoreCtx *c = userdata;
        json_object *item = classify_report_to_json(rep, true);
        int r;

        if (!item)
                return -ENOMEM;
        json_object_object_add(item, "source", json_object_new_string("pstore"));
        json_object_object_add(item, "pstore_dir", json_object_new_string(c->dir));
        if (src->record)
                json_object_object_add(item, "pstore_record", json_object_new_string(src->record->path));
        r = c->sink(rep->kind, item, c->counted, c->userdata);
        json_object_put(item);
        return r;
}

int evidence_collect_pstore(const char *const *dirs, int dest_dirfd, bool keep, bool counted, EvidenceSinkFn sink,
                            void *userdata)
{
        int total = 0;

        for (size_t i = 0; dirs && dirs[i]; i++) {
                _cleanup_(pstore_set_freep) PstoreSet *set = NULL;
                _cleanup_close_ int src = -1, dst = -1;
                PstoreCtx ctx = { .sink = sink, .userdata = userdata, .counted = counted, .dir = dirs[i] };
                char sub[64];
                int r;

                src = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (src < 0)
                        continue; /* no such directory: nothing to collect there */
                r = pstore_scan(src, &set);
                if (r < 0) {
                        log_warning_errno(r, "Cannot scan %s, ignoring: %m", dirs[i]);
                        continue;
                }
                if (set->n_records == 0)
                        continue;

                /* One subdirectory per source, so equal names from two places never collide. */
                snprintf(sub, sizeof sub, "pstore-%zu", i);
                if (mkdirat(dest_dirfd, sub, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "Cannot create %s for pstore records: %m", sub);
                dst = openat(dest_dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dst < 0)
                        return log_error_errno(errno, "Cannot open %s: %m", sub);

                /* Copy first: classification and sinks may fail, the records must not be lost. */
                r = pstore_collect_all(src, set, dst, keep ? PSTORE_COLLECT_KEEP : 0, NULL);
                if (r < 0)
                        log_warning_errno(r, "Some pstore records in %s could not be collected; they stay in place: %m",
                                          dirs[i]);
                for (size_t k = 0; k < set->n_records; k++)
                        total += set->records[k].collected;

                for (size_t k = 0; k < set->n_dumps; k++) {
                        json_object *item = pstore_dump_to_json(set, &set->dumps[k]);
                        if (!item)
                                return -ENOMEM;
                        json_object_object_add(item, "pstore_dir", json_object_new_string(dirs[i]));
                        (void)sink(EVIDENCE_PSTORE, item, counted, userdata);
                        json_object_put(item);
                }
                (void)pstore_set_classify(set, 0, on_pstore_report, &ctx);
                log_info("Collected %d pstore record(s) from %s", total, dirs[i]);
        }
        return total;
}

int evidence_collect_vmcore(const char *path, int dest_dirfd, const char *name, bool counted, EvidenceSinkFn sink,
                            void *userdata)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *why = NULL;
        ClassifyReport **reps = NULL;
        VmcoreDmesg d = {};
        json_object *item;
        size_t n = 0;
        int r;

        if (fd < 0)
                return log_error_errno(errno, "Cannot open %s: %m", path);
        r = vmcore_dmesg_read(fd, &d, &why);
        if (r < 0) {
                log_error_errno(r, "Cannot read the crashed kernel's log from %s: %s", path, why ? why : strerror(-r));
                item = json_object_new_object();
                json_object_object_add(item, "title", json_object_new_string("vmcore: the crashed kernel's log "
                                                                             "could not be read"));
                json_object_object_add(item, "source", json_object_new_string("vmcore"));
                json_object_object_add(item, "raw", json_object_new_string(why ? why : strerror(-r)));
                (void)sink(EVIDENCE_PSTORE, item, counted, userdata);
                json_object_put(item);
                return r;
        }
        /* The text first, synced: classification and sinks may fail, the log must not be lost. */
        r = write_file_atomic_at(dest_dirfd, name, d.text, d.text_len);
        if (r < 0)
                log_error_errno(r, "Cannot save the crashed kernel's log as %s: %m", name);

        item = json_object_new_object();
        json_object_object_add(item, "title", json_object_new_string("vmcore: crash dump log"));
        json_object_object_add(item, "source", json_object_new_string("vmcore"));
        json_object_object_add(item, "file", json_object_new_string(name));
        json_object_object_add(item, "lines", json_object_new_int64((int64_t)d.lines));
        json_object_object_add(item, "format", json_object_new_string(vmcore_log_format_to_string(d.format)));
        if (d.osrelease)
                json_object_object_add(item, "kernel", json_object_new_string(d.osrelease));
        /* The container is a record, not a finding: what it holds is classified below. */
        (void)sink(EVIDENCE_PSTORE, item, false, userdata);
        json_object_put(item);

        r = classify_buffer(d.text, d.text_len, 0, &reps, &n);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                json_object *it = classify_report_to_json(reps[i], true);
                if (!it)
                        break;
                json_object_object_add(it, "source", json_object_new_string("vmcore"));
                json_object_object_add(it, "file", json_object_new_string(name));
                (void)sink(reps[i]->kind, it, counted, userdata);
                json_object_put(it);
        }
        classify_reports_free(reps, n);
        log_info("Saved the crashed kernel's log from %s (%zu lines, %zu reports) as %s", path, d.lines, n, name);
        vmcore_dmesg_done(&d);
        return (int)n;
}
