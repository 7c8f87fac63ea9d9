/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pstore records: names and headers as the kernel writes them
 * (fs/pstore/inode.c "%s-%s-%llu%s", fs/pstore/platform.c "%s#%d Part%u\n"),
 * ramoops' ECC notice, systemd-pstore's directory layout; reassembly of
 * multi-part dumps; and a collector that never loses a record: the source
 * is unlinked only after the copy is on disk and reads back identical.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "pstore.h"

#define COPY_CHUNK 65536
#define DUMP_GAP_USEC (60ULL * USEC_PER_SEC) /* parts of one dump are stored within moments */
#define RENAME_TRIES 100

static const char *const type_names[_PSTORE_TYPE_MAX] = {
        [PSTORE_TYPE_DMESG] = "dmesg",
        [PSTORE_TYPE_MCE] = "mce",
        [PSTORE_TYPE_CONSOLE] = "console",
        [PSTORE_TYPE_FTRACE] = "ftrace",
        [PSTORE_TYPE_RTAS] = "rtas",
        [PSTORE_TYPE_PPC_OF] = "powerpc-ofw",
        [PSTORE_TYPE_PPC_COMMON] = "powerpc-common",
        [PSTORE_TYPE_PMSG] = "pmsg",
        [PSTORE_TYPE_PPC_OPAL] = "powerpc-opal",
        [PSTORE_TYPE_UNKNOWN] = "unknown",
        [PSTORE_TYPE_DMESG_TXT] = "dmesg.txt",
};

const char *pstore_type_to_string(PstoreType t)
{
        return t < _PSTORE_TYPE_MAX ? type_names[t] : NULL;
}

int pstore_parse_name(const char *name, PstoreType *ret_type, char **ret_backend, uint64_t *ret_id,
                      bool *ret_compressed)
{
        size_t len = strlen(name), idlen = 0;
        const char *dash, *rest = NULL;
        bool compressed = false;
        PstoreType type = _PSTORE_TYPE_MAX;
        uint64_t id = 0;
        char *backend;

        if (len > 6 && streq(name + len - 6, ".enc.z")) {
                compressed = true;
                len -= 6;
        }
        /* the id: decimal digits after the last '-' */
        dash = NULL;
        for (size_t i = len; i > 0; i--)
                if (name[i - 1] == '-') {
                        dash = name + i - 1;
                        break;
                }
        if (!dash)
                return -EINVAL;
        idlen = len - (size_t)(dash + 1 - name);
        if (idlen == 0 || idlen > 20)
                return -EINVAL;
        for (size_t i = 0; i < idlen; i++) {
                char c = dash[1 + i];
                if (c < '0' || c > '9' || id > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
                        return -EINVAL;
                id = id * 10 + (uint64_t)(c - '0');
        }
        /* the type: the longest known name followed by '-' (some contain dashes themselves) */
        for (PstoreType t = 0; t < PSTORE_TYPE_DMESG_TXT; t++) {
                size_t tl = strlen(type_names[t]);
                if (strncmp(name, type_names[t], tl) == 0 && name[tl] == '-' && name + tl < dash &&
                    (type == _PSTORE_TYPE_MAX || tl > strlen(type_names[type]))) {
                        type = t;
                        rest = name + tl + 1;
                }
        }
        if (type == _PSTORE_TYPE_MAX || rest >= dash)
                return -EINVAL;
        backend = strndup(rest, (size_t)(dash - rest));
        if (!backend)
                return -ENOMEM;
        for (const char *p = backend; *p; p++)
                if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.')) {
                        free(backend);
                        return -EINVAL;
                }
        if (ret_type)
                *ret_type = type;
        if (ret_id)
                *ret_id = id;
        if (ret_compressed)
                *ret_compressed = compressed;
        if (ret_backend)
                *ret_backend = backend;
        else
                free(backend);
        return 0;
}

int pstore_parse_header(const char *data, size_t len, char reason[static PSTORE_REASON_MAX], unsigned *ret_count,
                        unsigned *ret_part, size_t *ret_header_len)
{
        size_t i = 0, r0;
        uint64_t count = 0, part = 0;
        size_t digits;

        while (i < len && i < PSTORE_REASON_MAX - 1 && isalpha((unsigned char)data[i]))
                i++;
        if (i == 0 || i >= len || data[i] != '#')
                return -ENOMSG;
        r0 = i;
        i++;
        for (digits = 0; i < len && isdigit((unsigned char)data[i]) && digits < 9; i++, digits++)
                count = count * 10 + (uint64_t)(data[i] - '0');
        if (!digits || len - i < 5 || memcmp(data + i, " Part", 5) != 0)
                return -ENOMSG;
        i += 5;
        for (digits = 0; i < len && isdigit((unsigned char)data[i]) && digits < 9; i++, digits++)
                part = part * 10 + (uint64_t)(data[i] - '0');
        if (!digits)
                return -ENOMSG;
        if (i < len && data[i] == '\r')
                i++;
        if (i < len && data[i] != '\n')
                return -ENOMSG;
        if (i < len)
                i++;
        memcpy(reason, data, r0);
        reason[r0] = 0;
        *ret_count = (unsigned)count;
        *ret_part = (unsigned)part;
        *ret_header_len = i;
        return 0;
}

/* ramoops with ECC appends "\nECC: No errors detected\n" (or the corrected/bad counts): its length, or 0. */
static size_t ecc_notice_len(const char *data, size_t len)
{
        size_t end = len, start;

        if (end > 0 && data[end - 1] == '\n')
                end--;
        start = end;
        while (start > 0 && data[start - 1] != '\n')
                start--;
        if (end - start < 5 || memcmp(data + start, "ECC: ", 5) != 0)
                return 0;
        /* the notice starts with its own newline, after the log's last one */
        if (start > 0)
                start--;
        return len - start;
}

static void record_clear(PstoreRecord *r)
{
        free(r->path);
        free(r->name);
        free(r->backend);
        free(r->ecc);
        free(r->data);
        free(r->collected_as);
        *r = (PstoreRecord){};
}

static void dumps_clear(PstoreSet *s)
{
        for (size_t i = 0; i < s->n_dumps; i++) {
                free(s->dumps[i].parts);
                free(s->dumps[i].text);
        }
        free(s->dumps);
        s->dumps = NULL;
        s->n_dumps = 0;
}

int pstore_set_new(PstoreSet **ret)
{
        *ret = calloc(1, sizeof(PstoreSet));
        return *ret ? 0 : -ENOMEM;
}

PstoreSet *pstore_set_free(PstoreSet *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_records; i++)
                record_clear(&s->records[i]);
        free(s->records);
        dumps_clear(s);
        free(s);
        return NULL;
}

static bool valid_rel_path(const char *path)
{
        /* "NAME" or "SUBDIR/NAME": no absolute paths, no "..", nothing deeper */
        const char *slash = strchr(path, '/');

        if (!path[0] || path[0] == '/' || strstr(path, ".."))
                return false;
        return !slash || (slash > path && slash[1] && !strchr(slash + 1, '/'));
}

/* Parses the name, header and ECC notice of one record (data may be NULL: not read). */
static int record_init(PstoreRecord *rec, const char *path, uint64_t size, uint64_t mtime_usec)
{
        const char *base;
        int r;

        if (!valid_rel_path(path))
                return -EINVAL;
        base = strrchr(path, '/');
        base = base ? base + 1 : path;
        *rec = (PstoreRecord){ .size = size, .mtime_usec = mtime_usec };
        /* systemd-pstore's reassembly: in the record's subdirectory (efi, erst), or at the top
         * beside the raw records for backends it has no ids for (ramoops, systemd 252). */
        if (streq(base, "dmesg.txt"))
                rec->type = PSTORE_TYPE_DMESG_TXT;
        else {
                r = pstore_parse_name(base, &rec->type, &rec->backend, &rec->id, &rec->compressed);
                if (r < 0)
                        return r;
        }
        rec->path = strdup(path);
        rec->name = strdup(base);
        if (!rec->path || !rec->name) {
                record_clear(rec);
                return -ENOMEM;
        }
        return 0;
}

static int record_set_data(PstoreRecord *rec, char *data, size_t len)
{
        size_t hl, ecc;

        rec->data = data;
        rec->data_len = len;
        if (rec->compressed || rec->type != PSTORE_TYPE_DMESG)
                return 0;
        if (pstore_parse_header(data, len, rec->reason, &rec->count, &rec->part, &hl) < 0)
                rec->reason[0] = 0;
        ecc = ecc_notice_len(data, len);
        if (ecc > 0) {
                const char *s = data + len - ecc;
                size_t n = ecc;
                while (n > 0 && (*s == '\n'))
                        s++, n--;
                while (n > 0 && s[n - 1] == '\n')
                        n--;
                rec->ecc = strndup(s, n);
                if (!rec->ecc)
                        return -ENOMEM;
        }
        return 0;
}

static int set_append(PstoreSet *s, PstoreRecord *rec)
{
        PstoreRecord *v;

        if (s->n_records >= PSTORE_RECORDS_MAX) {
                s->skipped++;
                record_clear(rec);
                return 0;
        }
        v = realloc(s->records, (s->n_records + 1) * sizeof *v);
        if (!v) {
                record_clear(rec);
                return -ENOMEM;
        }
        s->records = v;
        s->records[s->n_records++] = *rec;
        *rec = (PstoreRecord){};
        return 0;
}

int pstore_set_add(PstoreSet *s, const char *path, const char *data, size_t len, uint64_t mtime_usec)
{
        PstoreRecord rec;
        char *copy;
        size_t keep = MIN(len, (size_t)PSTORE_RECORD_READ_MAX);
        int r;

        r = record_init(&rec, path, len, mtime_usec);
        if (r < 0)
                return r;
        if (s->text_total + keep > PSTORE_TEXT_MAX)
                keep = s->text_total < PSTORE_TEXT_MAX ? PSTORE_TEXT_MAX - s->text_total : 0;
        copy = malloc(keep + 1);
        if (!copy) {
                record_clear(&rec);
                return -ENOMEM;
        }
        memcpy(copy, data, keep);
        copy[keep] = 0;
        rec.data_truncated = keep < len;
        s->text_total += keep;
        r = record_set_data(&rec, copy, keep);
        if (r < 0) {
                record_clear(&rec);
                return r;
        }
        return set_append(s, &rec);
}

static size_t dir_len(const char *path)
{
        const char *slash = strrchr(path, '/');
        return slash ? (size_t)(slash - path) : 0;
}

/* dumps group by directory, backend, reason and count; within a group by time, then part */
static int part_cmp(const void *a, const void *b, void *userdata)
{
        const PstoreSet *set = userdata;
        const PstoreRecord *x = &set->records[*(const size_t *)a], *y = &set->records[*(const size_t *)b];
        size_t dx = dir_len(x->path), dy = dir_len(y->path);
        int c;

        if (dx != dy)
                return dx < dy ? -1 : 1;
        c = strncmp(x->path, y->path, dx);
        if (c)
                return c;
        c = strcmp(strempty(x->backend), strempty(y->backend));
        if (c)
                return c;
        c = strcmp(x->reason, y->reason);
        if (c)
                return c;
        if (x->count != y->count)
                return x->count < y->count ? -1 : 1;
        if (x->mtime_usec != y->mtime_usec)
                return x->mtime_usec < y->mtime_usec ? -1 : 1;
        if (x->part != y->part)
                return x->part > y->part ? -1 : 1;
        return strcmp(x->path, y->path);
}

static int index_desc_part(const void *a, const void *b, void *userdata)
{
        const PstoreSet *set = userdata;
        const PstoreRecord *x = &set->records[*(const size_t *)a], *y = &set->records[*(const size_t *)b];
        return x->part == y->part ? 0 : x->part > y->part ? -1 : 1;
}

static bool same_dump(const PstoreSet *s, const PstoreDump *d, size_t idx)
{
        const PstoreRecord *first = &s->records[d->parts[0]], *r = &s->records[idx];

        if (dir_len(first->path) != dir_len(r->path) || strncmp(first->path, r->path, dir_len(r->path)) != 0 ||
            !streq_ptr(first->backend, r->backend) || !streq(first->reason, r->reason) || first->count != r->count)
                return false;
        if (r->mtime_usec > first->mtime_usec + DUMP_GAP_USEC)
                return false;
        for (size_t i = 0; i < d->n_parts; i++)
                if (s->records[d->parts[i]].part == r->part)
                        return false; /* a part twice: another dump with the same header */
        return true;
}

static int dump_build_text(PstoreSet *s, PstoreDump *d)
{
        size_t total = 0, o = 0;
        unsigned expect;

        qsort_r(d->parts, d->n_parts, sizeof(size_t), index_desc_part, s);
        expect = d->n_parts;
        d->complete = true;
        for (size_t i = 0; i < d->n_parts; i++) {
                const PstoreRecord *r = &s->records[d->parts[i]];
                if (r->reason[0] && r->part != expect--)
                        d->complete = false;
                if (r->data_truncated)
                        d->complete = false;
                total += r->data_len;
        }
        d->text = malloc(total + d->n_parts + 1); /* room for a newline between parts */
        if (!d->text)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_parts; i++) {
                const PstoreRecord *r = &s->records[d->parts[i]];
                char reason[PSTORE_REASON_MAX];
                unsigned count, part;
                size_t hl = 0, len = r->data_len;

                if (!r->data)
                        continue;
                if (pstore_parse_header(r->data, len, reason, &count, &part, &hl) < 0)
                        hl = 0;
                len -= ecc_notice_len(r->data, len);
                if (len < hl)
                        len = hl;
                memcpy(d->text + o, r->data + hl, len - hl);
                o += len - hl;
                if (o > 0 && d->text[o - 1] != '\n' && i + 1 < d->n_parts)
                        d->text[o++] = '\n';
        }
        d->text[o] = 0;
        d->text_len = o;
        return 0;
}

int pstore_set_reassemble(PstoreSet *s)
{
        _cleanup_free_ size_t *idx = NULL;
        size_t n = 0;
        int r;

        dumps_clear(s);
        idx = calloc(s->n_records + 1, sizeof(size_t));
        if (!idx)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_records; i++)
                if (s->records[i].type == PSTORE_TYPE_DMESG && !s->records[i].compressed && s->records[i].data)
                        idx[n++] = i;
        qsort_r(idx, n, sizeof(size_t), part_cmp, s);

        s->dumps = calloc(n + 1, sizeof(PstoreDump));
        if (!s->dumps)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const PstoreRecord *rec = &s->records[idx[i]];
                PstoreDump *d = s->n_dumps > 0 ? &s->dumps[s->n_dumps - 1] : NULL;

                /* records without a header are dumps of their own */
                if (!d || !rec->reason[0] || !s->records[d->parts[0]].reason[0] || !same_dump(s, d, idx[i])) {
                        d = &s->dumps[s->n_dumps++];
                        d->parts = calloc(n, sizeof(size_t));
                        if (!d->parts)
                                return -ENOMEM;
                        d->backend = rec->backend;
                        strcpy(d->reason, rec->reason);
                        d->count = rec->count;
                }
                d->parts[d->n_parts++] = idx[i];
        }
        for (size_t i = 0; i < s->n_dumps; i++) {
                r = dump_build_text(s, &s->dumps[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int read_bounded(int fd, size_t max, char **ret, size_t *ret_len, bool *ret_truncated)
{
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, cap = 0;

        for (;;) {
                ssize_t l;

                if (n == max)
                        break;
                if (n + 1 >= cap) {
                        char *p;
                        cap = MIN(MAX(cap * 2, (size_t)8192), max + 1);
                        p = realloc(buf, cap);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                }
                l = read(fd, buf + n, MIN(cap - n - 1, max - n));
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (l == 0)
                        break;
                n += (size_t)l;
        }
        if (!buf && !(buf = malloc(1)))
                return -ENOMEM;
        buf[n] = 0;
        if (ret_truncated) {
                char c;
                *ret_truncated = n == max && read(fd, &c, 1) > 0;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = n;
        return 0;
}

static int scan_dir(PstoreSet *s, int dir_fd, const char *prefix)
{
        _cleanup_close_ int fd = -1;
        DIR *d;
        struct dirent *de;
        int r = 0;

        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        TAKE_FD(fd);

        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *path = NULL;
                _cleanup_close_ int rfd = -1;
                PstoreRecord rec;
                struct stat st;
                char *data = NULL;
                size_t len = 0, max;
                bool trunc = false;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        s->skipped++;
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = -1;
                        if (prefix) { /* one level only */
                                s->skipped++;
                                continue;
                        }
                        sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                        if (sub < 0) {
                                s->skipped++;
                                continue;
                        }
                        r = scan_dir(s, sub, de->d_name);
                        if (r < 0)
                                break;
                        continue;
                }
                if (!S_ISREG(st.st_mode)) {
                        s->skipped++;
                        continue;
                }
                if (prefix) {
                        if (asprintf(&path, "%s/%s", prefix, de->d_name) < 0) {
                                path = NULL;
                                r = -ENOMEM;
                                break;
                        }
                } else if (!(path = strdup(de->d_name))) {
                        r = -ENOMEM;
                        break;
                }
                if (record_init(&rec, path, (uint64_t)st.st_size,
                                (uint64_t)st.st_mtim.tv_sec * USEC_PER_SEC + (uint64_t)st.st_mtim.tv_nsec / 1000) < 0) {
                        s->skipped++; /* not a pstore record: not ours to touch */
                        continue;
                }
                if (rec.compressed) {
                        r = set_append(s, &rec);
                        if (r < 0)
                                break;
                        continue;
                }
                rfd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
                max = MIN((size_t)PSTORE_RECORD_READ_MAX,
                          s->text_total < PSTORE_TEXT_MAX ? PSTORE_TEXT_MAX - s->text_total : 0);
                if (rfd < 0 || read_bounded(rfd, max, &data, &len, &trunc) < 0) {
                        /* listed (it can still be collected), but nothing to parse */
                        data = NULL;
                        len = 0;
                        trunc = true;
                }
                s->text_total += len;
                rec.data_truncated = trunc;
                if (data) {
                        r = record_set_data(&rec, data, len);
                        if (r < 0) {
                                record_clear(&rec);
                                break;
                        }
                }
                r = set_append(s, &rec);
                if (r < 0)
                        break;
        }
        if (r == 0 && errno != 0)
                r = negative_errno();
        closedir(d);
        return r;
}

int pstore_scan(int dir_fd, PstoreSet **ret)
{
        _cleanup_(pstore_set_freep) PstoreSet *s = NULL;
        int r;

        r = pstore_set_new(&s);
        if (r < 0)
                return r;
        r = scan_dir(s, dir_fd, NULL);
        if (r < 0)
                return r;
        r = pstore_set_reassemble(s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int pstore_scan_path(const char *path, PstoreSet **ret)
{
        _cleanup_close_ int fd = -1;

        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return pstore_scan(fd, ret);
}

/* ---- classification ---- */

typedef struct ClassifyCtx {
        PstoreSource src;
        PstoreReportFn fn;
        void *userdata;
} ClassifyCtx;

static int forward_report(const ClassifyReport *r, void *userdata)
{
        ClassifyCtx *c = userdata;
        return c->fn(&c->src, r, c->userdata);
}

static int classify_text(ClassifyCtx *ctx, unsigned flags, const char *text, size_t len)
{
        _cleanup_(classifier_freep) Classifier *c = NULL;
        int r;

        r = classifier_new(flags, forward_report, ctx, &c);
        if (r < 0)
                return r;
        r = classifier_feed(c, text, len);
        if (r >= 0)
                r = classifier_feed(c, "\n", 1);
        if (r >= 0)
                r = classifier_flush(c);
        return r;
}

static bool dir_has_parts(const PstoreSet *s, const PstoreRecord *txt)
{
        size_t dl = dir_len(txt->path);

        for (size_t i = 0; i < s->n_records; i++) {
                const PstoreRecord *r = &s->records[i];
                if (r->type == PSTORE_TYPE_DMESG && dir_len(r->path) == dl && strncmp(r->path, txt->path, dl) == 0)
                        return true;
        }
        return false;
}

int pstore_set_classify(const PstoreSet *s, unsigned classify_flags, PstoreReportFn fn, void *userdata)
{
        int r;

        for (size_t i = 0; i < s->n_dumps; i++) {
                ClassifyCtx ctx = { .src.dump = &s->dumps[i], .fn = fn, .userdata = userdata };
                r = classify_text(&ctx, classify_flags, s->dumps[i].text, s->dumps[i].text_len);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < s->n_records; i++) {
                const PstoreRecord *rec = &s->records[i];
                ClassifyCtx ctx = { .src.record = rec, .fn = fn, .userdata = userdata };

                if (!rec->data || rec->compressed)
                        continue;
                if (rec->type != PSTORE_TYPE_CONSOLE &&
                    !(rec->type == PSTORE_TYPE_DMESG_TXT && !dir_has_parts(s, rec)))
                        continue;
                r = classify_text(&ctx, classify_flags, rec->data, rec->data_len);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- collection ---- */

static ssize_t io_write(const PstoreIO *io, int fd, const void *buf, size_t n)
{
        return io && io->write ? io->write(fd, buf, n, io->userdata) : write(fd, buf, n);
}

static int io_fsync(const PstoreIO *io, int fd)
{
        if (io && io->fsync)
                return io->fsync(fd, io->userdata);
        return fsync(fd) < 0 ? negative_errno() : 0;
}

static int write_all(const PstoreIO *io, int fd, const char *buf, size_t n)
{
        while (n > 0) {
                ssize_t l = io_write(io, fd, buf, n);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (l == 0)
                        return -EIO;
                buf += l;
                n -= (size_t)l;
        }
        return 0;
}

static ssize_t read_full(int fd, char *buf, size_t n)
{
        size_t got = 0;

        while (got < n) {
                ssize_t l = read(fd, buf + got, n - got);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (l == 0)
                        break;
                got += (size_t)l;
        }
        return (ssize_t)got;
}

/* 1 when both files (from their start) have the same bytes, 0 when not, < 0 on error. */
static int files_equal(int a, int b)
{
        _cleanup_free_ char *x = malloc(COPY_CHUNK), *y = malloc(COPY_CHUNK);

        if (!x || !y)
                return -ENOMEM;
        if (lseek(a, 0, SEEK_SET) < 0 || lseek(b, 0, SEEK_SET) < 0)
                return negative_errno();
        for (;;) {
                ssize_t la = read_full(a, x, COPY_CHUNK), lb = read_full(b, y, COPY_CHUNK);
                if (la < 0)
                        return (int)la;
                if (lb < 0)
                        return (int)lb;
                if (la != lb || memcmp(x, y, (size_t)la) != 0)
                        return 0;
                if (la == 0)
                        return 1;
        }
}

static int copy_to(const PstoreIO *io, int src, int dst)
{
        _cleanup_free_ char *buf = malloc(COPY_CHUNK);

        if (!buf)
                return -ENOMEM;
        if (lseek(src, 0, SEEK_SET) < 0)
                return negative_errno();
        for (;;) {
                ssize_t l = read_full(src, buf, COPY_CHUNK);
                int r;

                if (l < 0)
                        return (int)l;
                if (l == 0)
                        return 0;
                r = write_all(io, dst, buf, (size_t)l);
                if (r < 0)
                        return r;
        }
}

static int set_error(PstoreRecord *rec, int r)
{
        rec->collect_error = r;
        return r;
}

int pstore_collect(int src_dirfd, PstoreRecord *rec, int dst_dirfd, unsigned flags, const PstoreIO *io)
{
        _cleanup_close_ int src = -1, tdir = -1, tmp = -1, back = -1;
        _cleanup_free_ char *tmpname = NULL, *final = NULL, *dirpart = NULL;
        const char *base = rec->name;
        bool already = false;
        int r;

        rec->collect_error = 0;
        if (!valid_rel_path(rec->path))
                return set_error(rec, -EINVAL);
        src = openat(src_dirfd, rec->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (src < 0)
                return set_error(rec, negative_errno());

        /* systemd-pstore's subdirectories are kept as subdirectories */
        if (dir_len(rec->path) > 0) {
                dirpart = strndup(rec->path, dir_len(rec->path));
                if (!dirpart)
                        return set_error(rec, -ENOMEM);
                if (mkdirat(dst_dirfd, dirpart, 0700) < 0 && errno != EEXIST)
                        return set_error(rec, negative_errno());
                tdir = openat(dst_dirfd, dirpart, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        } else
                tdir = fcntl(dst_dirfd, F_DUPFD_CLOEXEC, 3);
        if (tdir < 0)
                return set_error(rec, negative_errno());

        /* An identical copy means an earlier collection stopped before the unlink. */
        for (unsigned n = 0; n < RENAME_TRIES && !final; n++) {
                _cleanup_free_ char *candidate = NULL;
                _cleanup_close_ int existing = -1;

                if ((n == 0 ? asprintf(&candidate, "%s", base) : asprintf(&candidate, "%s.%u", base, n)) < 0)
                        return set_error(rec, -ENOMEM);
                existing = openat(tdir, candidate, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
                if (existing < 0) {
                        if (errno != ENOENT)
                                return set_error(rec, negative_errno());
                        final = TAKE_PTR(candidate);
                        break;
                }
                r = files_equal(src, existing);
                if (r < 0)
                        return set_error(rec, r);
                if (r > 0) {
                        final = TAKE_PTR(candidate);
                        already = true;
                }
        }
        if (!final)
                return set_error(rec, -EEXIST);

        if (!already) {
                uint64_t rnd = now_ns(CLOCK_MONOTONIC) ^ ((uint64_t)getpid() << 32);

                if (asprintf(&tmpname, ".#%s.%016" PRIx64, base, rnd) < 0) {
                        tmpname = NULL;
                        return set_error(rec, -ENOMEM);
                }
                tmp = openat(tdir, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
                if (tmp < 0)
                        return set_error(rec, negative_errno());
                r = copy_to(io, src, tmp);
                if (r >= 0)
                        r = io_fsync(io, tmp);
                if (r >= 0 && renameat2(tdir, tmpname, tdir, final, RENAME_NOREPLACE) < 0) {
                        r = negative_errno();
                        /* file systems without RENAME_NOREPLACE: we checked the name is free */
                        if (r == -EINVAL && renameat(tdir, tmpname, tdir, final) >= 0)
                                r = 0;
                }
                if (r < 0) {
                        (void)unlinkat(tdir, tmpname, 0);
                        return set_error(rec, r);
                }
                tmp = safe_close(tmp);
                /* the rename (and a new subdirectory) must be on disk before the source goes */
                r = io_fsync(io, tdir);
                if (r >= 0 && dirpart)
                        r = io_fsync(io, dst_dirfd);
                if (r < 0) {
                        (void)unlinkat(tdir, final, 0);
                        return set_error(rec, r);
                }

                /* read back what the destination now holds */
                back = openat(tdir, final, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
                if (back < 0)
                        r = negative_errno();
                else {
                        r = files_equal(src, back);
                        if (r == 0)
                                r = -EIO;
                }
                if (r < 0) {
                        (void)unlinkat(tdir, final, 0);
                        return set_error(rec, r);
                }
        }

        free(rec->collected_as);
        if (dirpart ? asprintf(&rec->collected_as, "%s/%s", dirpart, final) < 0
                    : !(rec->collected_as = strdup(final))) {
                rec->collected_as = NULL;
                return set_error(rec, -ENOMEM);
        }
        rec->collected = true;

        if (!(flags & PSTORE_COLLECT_KEEP) && unlinkat(src_dirfd, rec->path, 0) < 0)
                /* copied and verified, but still there: the next collection finds the identical copy */
                return set_error(rec, negative_errno());
        return 0;
}

int pstore_collect_all(int src_dirfd, PstoreSet *s, int dst_dirfd, unsigned flags, const PstoreIO *io)
{
        int ret = 0;

        for (size_t i = 0; i < s->n_records; i++) {
                int r = pstore_collect(src_dirfd, &s->records[i], dst_dirfd, flags, io);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        if (!(flags & PSTORE_COLLECT_KEEP))
                for (size_t i = 0; i < s->n_records; i++) {
                        _cleanup_free_ char *d = NULL;
                        size_t dl = dir_len(s->records[i].path);
                        if (dl == 0 || !s->records[i].collected)
                                continue;
                        d = strndup(s->records[i].path, dl);
                        if (d)
                                (void)unlinkat(src_dirfd, d, AT_REMOVEDIR); /* only succeeds once empty */
                }
        return ret;
}

/* ---- JSON ---- */

static int add(struct json_object *o, const char *k, struct json_object *v)
{
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, k, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

struct json_object *pstore_record_to_json(const PstoreRecord *rec)
{
        struct json_object *o = json_object_new_object();
        int k = 0;

        if (!o)
                return NULL;
        k |= add(o, "path", json_object_new_string(rec->path));
        k |= add(o, "type", json_object_new_string(pstore_type_to_string(rec->type)));
        if (rec->backend)
                k |= add(o, "backend", json_object_new_string(rec->backend));
        k |= add(o, "id", json_object_new_uint64(rec->id));
        k |= add(o, "compressed", json_object_new_boolean(rec->compressed));
        if (rec->reason[0]) {
                k |= add(o, "reason", json_object_new_string(rec->reason));
                k |= add(o, "count", json_object_new_int64(rec->count));
                k |= add(o, "part", json_object_new_int64(rec->part));
        }
        if (rec->ecc)
                k |= add(o, "ecc", json_object_new_string(rec->ecc));
        k |= add(o, "size", json_object_new_uint64(rec->size));
        k |= add(o, "mtime_usec", json_object_new_uint64(rec->mtime_usec));
        if (rec->collected_as)
                k |= add(o, "collected_as", json_object_new_string(rec->collected_as));
        if (rec->collect_error)
                k |= add(o, "collect_error", json_object_new_string(strerror(-rec->collect_error)));
        if (k) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

struct json_object *pstore_dump_to_json(const PstoreSet *s, const PstoreDump *d)
{
        struct json_object *o = json_object_new_object(), *parts = json_object_new_array();
        int k = 0;

        if (!o || !parts) {
                json_object_put(o);
                json_object_put(parts);
                return NULL;
        }
        for (size_t i = 0; i < d->n_parts; i++) {
                struct json_object *p = json_object_new_string(s->records[d->parts[i]].path);
                if (!p || json_object_array_add(parts, p) < 0) {
                        json_object_put(p);
                        k = -ENOMEM;
                }
        }
        k |= add(o, "parts", parts);
        {
                char title[128];
                snprintf(title, sizeof title, "pstore: %s dump from %s", d->reason[0] ? d->reason : "kmsg",
                         strna(d->backend));
                k |= add(o, "title", json_object_new_string(title));
        }
        if (d->backend)
                k |= add(o, "backend", json_object_new_string(d->backend));
        k |= add(o, "reason", json_object_new_string(d->reason));
        k |= add(o, "count", json_object_new_int64(d->count));
        k |= add(o, "complete", json_object_new_boolean(d->complete));
        k |= add(o, "text_size", json_object_new_uint64(d->text_len));
        if (k) {
                json_object_put(o);
                return NULL;
        }
        return o;
}
