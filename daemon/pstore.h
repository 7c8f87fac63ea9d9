/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pstore: what a crashed kernel left behind. The kernel names records
 * "TYPE-BACKEND-ID[.enc.z]" in /sys/fs/pstore (dmesg-ramoops-0,
 * console-ramoops-0, pmsg-ramoops-0, dmesg-efi-…, dmesg-erst-…); a dmesg
 * dump is split into parts, each starting with a header "Panic#1 Part1"
 * (Part1 is the newest chunk, so the log reads from the highest part down).
 * systemd-pstore may have moved records to /var/lib/systemd/pstore first,
 * with efi/erst dumps in per-record subdirectories next to its dmesg.txt.
 *
 * This module scans such a directory, reassembles dumps, classifies their
 * text with the splat classifier, and collects records into a destination
 * directory crash-safely: copy to a temporary file, fsync it, rename,
 * fsync the directory, read back and compare, and only then unlink the
 * source. A failure anywhere (ENOSPC, EIO) leaves the source in place.
 */
#pragma once

#include <stdint.h>

#include "classify.h"
#include "util.h"

struct json_object;

#define PSTORE_RECORDS_MAX 1024U                  /* records looked at per scan */
#define PSTORE_RECORD_READ_MAX (16U * 1024 * 1024) /* bytes of one record read for parsing */
#define PSTORE_TEXT_MAX (64U * 1024 * 1024)        /* bytes read per scan, all records */
#define PSTORE_REASON_MAX 16

typedef enum PstoreType {
        PSTORE_TYPE_DMESG,
        PSTORE_TYPE_MCE,
        PSTORE_TYPE_CONSOLE,
        PSTORE_TYPE_FTRACE,
        PSTORE_TYPE_RTAS,
        PSTORE_TYPE_PPC_OF,
        PSTORE_TYPE_PPC_COMMON,
        PSTORE_TYPE_PMSG,
        PSTORE_TYPE_PPC_OPAL,
        PSTORE_TYPE_UNKNOWN,
        PSTORE_TYPE_DMESG_TXT, /* systemd-pstore's reassembled dmesg.txt */
        _PSTORE_TYPE_MAX,
} PstoreType;

const char *pstore_type_to_string(PstoreType t); /* the kernel's names: "dmesg", "console", …; "dmesg.txt" */

typedef struct PstoreRecord {
        char *path;     /* relative to the scanned directory: "dmesg-ramoops-0", "1234567/dmesg-efi-123456701001" */
        char *name;     /* the file name */
        PstoreType type;
        char *backend;  /* "ramoops", "efi", "efi_pstore", "erst", …; NULL for dmesg.txt */
        uint64_t id;
        bool compressed; /* ".enc.z": the kernel could not decompress it; kept as it is, not parsed */
        char reason[PSTORE_REASON_MAX]; /* dmesg header "Panic#1 Part2": "Panic" ("" when none) */
        unsigned count, part;           /* … 1 and 2 */
        char *ecc;                      /* ramoops' "ECC: …" notice at the end, or NULL */
        uint64_t size;                  /* bytes in the file */
        uint64_t mtime_usec;            /* when the kernel stored it (pstore sets mtime), CLOCK_REALTIME */
        char *data;                     /* the content, at most PSTORE_RECORD_READ_MAX; NULL if compressed */
        size_t data_len;
        bool data_truncated;
        /* set by pstore_collect() */
        bool collected;
        char *collected_as; /* path in the destination */
        int collect_error;  /* negative errno, 0 */
} PstoreRecord;

typedef struct PstoreDump {
        const char *backend;
        char reason[PSTORE_REASON_MAX];
        unsigned count;
        size_t *parts; /* indices into the set's records, oldest text first (highest part first) */
        size_t n_parts;
        bool complete; /* parts 1..n all there */
        char *text;    /* the parts' text in order, headers and ECC notices removed */
        size_t text_len;
} PstoreDump;

typedef struct PstoreSet {
        PstoreRecord *records;
        size_t n_records;
        PstoreDump *dumps;
        size_t n_dumps;
        size_t skipped; /* entries not read: over the limits, unreadable, or not regular files */
        size_t text_total;
} PstoreSet;

/* "dmesg-ramoops-3", "dmesg-efi_pstore-1711999999001.enc.z": 0 or -EINVAL (not a pstore name). */
int pstore_parse_name(const char *name, PstoreType *ret_type, char **ret_backend, uint64_t *ret_id,
                      bool *ret_compressed);
/* "Panic#1 Part2\n…": 0 and the header's length (with its newline), or -ENOMSG when there is none. */
int pstore_parse_header(const char *data, size_t len, char reason[static PSTORE_REASON_MAX], unsigned *ret_count,
                        unsigned *ret_part, size_t *ret_header_len);

int pstore_set_new(PstoreSet **ret);
PstoreSet *pstore_set_free(PstoreSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(PstoreSet *, pstore_set_free);
/* Adds a record from memory (tests, fuzzing): path as in a pstore directory. -EINVAL for other names. */
int pstore_set_add(PstoreSet *s, const char *path, const char *data, size_t len, uint64_t mtime_usec);
/* Groups dmesg parts into dumps and builds their text. Called by pstore_scan(). */
int pstore_set_reassemble(PstoreSet *s);

/* Reads every record in dirfd and in its subdirectories one level down (systemd-pstore's layout). */
int pstore_scan(int dirfd, PstoreSet **ret);
/* Same, by path; -ENOENT when the directory does not exist (no pstore, or systemd-pstore never ran). */
int pstore_scan_path(const char *path, PstoreSet **ret);

typedef struct PstoreSource {
        const PstoreDump *dump;     /* a reassembled dmesg dump, or */
        const PstoreRecord *record; /* a console record (or a dmesg.txt without its parts) */
} PstoreSource;

typedef int (*PstoreReportFn)(const PstoreSource *src, const ClassifyReport *r, void *userdata);

/*
 * Classifies every dump and every console-type record with the splat
 * classifier (pmsg is userspace's and ftrace is not a log: they are kept,
 * not classified). A sysrq crash gives "kernel panic: sysrq triggered crash".
 */
int pstore_set_classify(const PstoreSet *s, unsigned classify_flags, PstoreReportFn fn, void *userdata);

/* I/O seam for the collector, so tests can make writes or fsync fail. NULL members: the real calls. */
typedef struct PstoreIO {
        ssize_t (*write)(int fd, const void *buf, size_t n, void *userdata);
        int (*fsync)(int fd, void *userdata);
        void *userdata;
} PstoreIO;

typedef enum PstoreCollectFlags {
        PSTORE_COLLECT_KEEP = 1U << 0, /* copy and verify, leave the source */
} PstoreCollectFlags;

/*
 * Copies one record (src_dirfd + rec->path) to dst_dirfd under the same
 * relative path (".N" appended if a different file has that name; an
 * identical one counts as already collected), with the fsyncs and the
 * read-back described above, then unlinks the source unless KEEP. On any
 * failure the source stays, a partial copy is removed, and the error is
 * returned (and kept in rec->collect_error).
 */
int pstore_collect(int src_dirfd, PstoreRecord *rec, int dst_dirfd, unsigned flags, const PstoreIO *io);
/* All records of the set; goes on after a failure and returns the first error. Removes emptied subdirectories. */
int pstore_collect_all(int src_dirfd, PstoreSet *s, int dst_dirfd, unsigned flags, const PstoreIO *io);

/* {"path","type","backend","id","compressed","reason","count","part","ecc","size","mtime_usec","collected_as"} */
struct json_object *pstore_record_to_json(const PstoreRecord *rec);
/*
 * {"title":"pstore: Panic dump from ramoops","backend","reason","count","complete",
 *  "parts":["dmesg-ramoops-1","dmesg-ramoops-0"],"text_size"}
 */
struct json_object *pstore_dump_to_json(const PstoreSet *s, const PstoreDump *d);
