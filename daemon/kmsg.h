/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /dev/kmsg: one record per read(2), "PRIO,SEQ,TS_USEC,FLAGS[,FIELD…];text\n"
 * followed by optional " KEY=VALUE" dictionary lines. The parser turns a
 * record into a KmsgRecord (text unescaped from \xNN); the reader drains the
 * device without blocking, resumes after a remembered sequence number, and
 * reports every hole in the sequence (ring buffer overrun, EPIPE, or records
 * overwritten while we were not reading) as a gap with its size, so a run's
 * evidence is never silently incomplete.
 */
#pragma once

#include <stdint.h>

#include "util.h"

/* The kernel never emits a record longer than this (CONSOLE_EXT_LOG_MAX). */
#define KMSG_RECORD_MAX 8192U

#define KMSG_FACILITY_KERNEL 0U
#define KMSG_FACILITY_USER 1U

typedef struct KmsgRecord {
        unsigned priority; /* syslog level 0 (emerg) .. 7 (debug) */
        unsigned facility; /* 0 kernel, 1 user (what a write to /dev/kmsg gets by default), … */
        uint64_t seq;
        uint64_t ts_usec; /* CLOCK_MONOTONIC-ish time since boot */
        bool continuation; /* FLAGS 'c' (older kernels): a fragment of a line */
        char caller[16];   /* "T123" or "C1" when the kernel has CONFIG_PRINTK_CALLER, else "" */
        char *text;        /* unescaped, NUL-terminated; may contain '\n' (from \x0a) */
        size_t text_len;
        char *subsystem; /* dictionary SUBSYSTEM=, or NULL */
        char *device;    /* dictionary DEVICE=, or NULL */
} KmsgRecord;

/* Frees the strings and zeroes the record; safe on a zeroed record. */
void kmsg_record_clear(KmsgRecord *r);

/*
 * Parses one record as read from /dev/kmsg (len bytes, no NUL needed).
 * Returns 0, -EBADMSG for a malformed record, -E2BIG for one over
 * KMSG_RECORD_MAX, -ENOMEM. On failure ret is left zeroed.
 */
int kmsg_record_parse(const char *buf, size_t len, KmsgRecord *ret);

/* Where a fresh reader starts. */
typedef enum KmsgStart {
        KMSG_START_OLDEST, /* the oldest record still in the ring buffer (SEEK_SET) */
        KMSG_START_DATA,   /* the first record after the last `dmesg --clear` (SEEK_DATA) */
        KMSG_START_END,    /* only records written from now on (SEEK_END) */
} KmsgStart;

typedef struct KmsgCallbacks {
        /* Each record in order. A negative return stops the drain and is passed up. */
        int (*record)(const KmsgRecord *rec, void *userdata);
        /*
         * Records lost before first_lost_seq + n_lost. n_lost is 0 when the
         * size is unknown (overrun reported, then nothing readable after it).
         */
        int (*gap)(uint64_t first_lost_seq, uint64_t n_lost, void *userdata);
} KmsgCallbacks;

typedef struct KmsgReader KmsgReader;

/* Test seam: replaces read(2) on the reader's fd. Returns bytes or -1 with errno, like read(2). */
typedef ssize_t (*KmsgReadFn)(int fd, void *buf, size_t n, void *userdata);

/*
 * Opens path (normally "/dev/kmsg") O_RDONLY|O_NONBLOCK|O_CLOEXEC.
 * after_seq: the last sequence number seen in this boot (records up to and
 * including it are skipped and a hole after it is a gap), or UINT64_MAX for
 * none. start says where to begin; with after_seq set it should be
 * KMSG_START_OLDEST so nothing after after_seq is missed.
 */
int kmsg_reader_open(const char *path, KmsgStart start, uint64_t after_seq, KmsgReader **ret);
/* Takes ownership of fd (record-preserving: /dev/kmsg, a SOCK_SEQPACKET socket, …). */
int kmsg_reader_new_fd(int fd, uint64_t after_seq, KmsgReader **ret);
KmsgReader *kmsg_reader_free(KmsgReader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(KmsgReader *, kmsg_reader_free);

void kmsg_reader_set_read_fn(KmsgReader *r, KmsgReadFn fn, void *userdata);
int kmsg_reader_fd(const KmsgReader *r);

/*
 * Reads records until the device has none (EAGAIN) or max_records were
 * delivered. Returns the number delivered (0 when none were pending; call
 * again when > 0 and == max_records), or negative errno. A malformed record
 * is counted (kmsg_reader_malformed) and skipped, never fatal.
 */
int kmsg_reader_drain(KmsgReader *r, unsigned max_records, const KmsgCallbacks *cb, void *userdata);

/* UINT64_MAX until a record was seen; persist it (with the boot id) to resume without loss or repeats. */
uint64_t kmsg_reader_last_seq(const KmsgReader *r);
uint64_t kmsg_reader_lost(const KmsgReader *r);      /* records lost in gaps (known sizes) */
uint64_t kmsg_reader_gaps(const KmsgReader *r);      /* gap events */
uint64_t kmsg_reader_malformed(const KmsgReader *r); /* records that did not parse */

struct json_object;

/*
 * Evidence of a gap: {"title":"kmsg: records lost","first_lost_seq":N,"lost":N}
 * ("lost" null when unknown). The title is constant so gaps collapse onto one
 * evidence item with a count. NULL on allocation failure.
 */
struct json_object *kmsg_gap_to_json(uint64_t first_lost_seq, uint64_t n_lost);

/* The kernel's boot id (/proc/sys/kernel/random/boot_id), 36 chars + NUL. */
#define BOOT_ID_STRING_MAX 37
int boot_id_read(char ret[static BOOT_ID_STRING_MAX]);
int boot_id_read_from(const char *path, char ret[static BOOT_ID_STRING_MAX]);

/*
 * A resume cursor "BOOT_ID SEQ" (one line) the daemon can store per run:
 * kmsg_cursor_parse() returns the sequence only when the boot id matches,
 * else -ESTALE (a different boot: start from the oldest record instead).
 */
int kmsg_cursor_format(const char *boot_id, uint64_t seq, char *buf, size_t size);
int kmsg_cursor_parse(const char *s, const char *boot_id, uint64_t *ret_seq);
