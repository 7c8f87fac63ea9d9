/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /dev/kmsg record parser and non-blocking reader. The format is the one in
 * Documentation/ABI/testing/dev-kmsg; every hole in the sequence numbers is
 * reported as a gap with its size (an EPIPE from read(2) means the ring
 * buffer overran our position, and the next record's sequence number tells
 * how many were lost), so evidence can say it is incomplete.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "kmsg.h"

struct KmsgReader {
        int fd;
        uint64_t last_seq; /* UINT64_MAX: no baseline yet */
        bool overrun;      /* EPIPE seen, gap not reported yet */
        uint64_t lost, gaps, malformed;
        KmsgReadFn read_fn;
        void *read_userdata;
        char buf[2 * KMSG_RECORD_MAX];
};

void kmsg_record_clear(KmsgRecord *r)
{
        if (!r)
                return;
        free(r->text);
        free(r->subsystem);
        free(r->device);
        *r = (KmsgRecord){};
}

static int parse_u64(const char *s, size_t len, uint64_t *ret)
{
        uint64_t v = 0;

        if (len == 0 || len > 20)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EBADMSG;
                if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        *ret = v;
        return 0;
}

static int unhex(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Undoes the kernel's "\xNN" escaping (it escapes control bytes, bytes >= 0x7f and '\\'). */
static char *unescape(const char *s, size_t len, size_t *ret_len)
{
        char *out = malloc(len + 1);
        size_t o = 0;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                int hi, lo;

                if (s[i] == '\\' && i + 3 < len && s[i + 1] == 'x' &&
                    (hi = unhex(s[i + 2])) >= 0 && (lo = unhex(s[i + 3])) >= 0) {
                        out[o++] = (char)(hi << 4 | lo);
                        i += 3;
                        continue;
                }
                out[o++] = s[i];
        }
        out[o] = 0;
        if (ret_len)
                *ret_len = o;
        return out;
}

int kmsg_record_parse(const char *buf, size_t len, KmsgRecord *ret)
{
        KmsgRecord r = {};
        const char *semi, *p, *end, *nl;
        uint64_t prio;
        unsigned field = 0;

        *ret = (KmsgRecord){};
        if (len > KMSG_RECORD_MAX)
                return -E2BIG;
        semi = memchr(buf, ';', len);
        if (!semi)
                return -EBADMSG;

        /* The prefix: comma separated, the first four fixed, then optional KEY=VALUE fields. */
        for (p = buf; p <= semi; field++) {
                const char *comma = memchr(p, ',', (size_t)(semi - p));
                const char *fe = comma ? comma : semi;
                size_t fl = (size_t)(fe - p);

                switch (field) {
                case 0:
                        if (parse_u64(p, fl, &prio) < 0 || prio > 1023)
                                return -EBADMSG;
                        r.priority = (unsigned)(prio & 7);
                        r.facility = (unsigned)(prio >> 3);
                        break;
                case 1:
                        if (parse_u64(p, fl, &r.seq) < 0)
                                return -EBADMSG;
                        break;
                case 2:
                        if (parse_u64(p, fl, &r.ts_usec) < 0)
                                return -EBADMSG;
                        break;
                case 3:
                        /* '-' a whole line; 'c' / '+' fragments of a continued line (before 4.9). */
                        if (fl != 1 || !strchr("-c+", p[0]))
                                return -EBADMSG;
                        r.continuation = p[0] != '-';
                        break;
                default:
                        if (fl > 7 && strncmp(p, "caller=", 7) == 0 && fl - 7 < sizeof r.caller) {
                                memcpy(r.caller, p + 7, fl - 7);
                                r.caller[fl - 7] = 0;
                        }
                        /* Other fields are allowed by the ABI and ignored. */
                        break;
                }
                p = fe + 1;
        }
        if (field < 4)
                return -EBADMSG;

        end = buf + len;
        p = semi + 1;
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
                nl = end;
        r.text = unescape(p, (size_t)(nl - p), &r.text_len);
        if (!r.text)
                return -ENOMEM;

        /* Dictionary continuation lines: " KEY=VALUE\n". */
        for (p = nl < end ? nl + 1 : end; p < end;) {
                const char *le = memchr(p, '\n', (size_t)(end - p));
                const char *eq;
                char **dst = NULL;
                size_t klen;

                if (!le)
                        le = end;
                if (*p != ' ')
                        goto malformed;
                eq = memchr(p, '=', (size_t)(le - p));
                if (!eq)
                        goto malformed;
                klen = (size_t)(eq - p - 1);
                if (klen == 9 && strncmp(p + 1, "SUBSYSTEM", 9) == 0)
                        dst = &r.subsystem;
                else if (klen == 6 && strncmp(p + 1, "DEVICE", 6) == 0)
                        dst = &r.device;
                if (dst && !*dst) {
                        *dst = unescape(eq + 1, (size_t)(le - eq - 1), NULL);
                        if (!*dst) {
                                kmsg_record_clear(&r);
                                return -ENOMEM;
                        }
                }
                p = le < end ? le + 1 : end;
        }
        *ret = r;
        return 0;

malformed:
        kmsg_record_clear(&r);
        return -EBADMSG;
}

static ssize_t default_read(int fd, void *buf, size_t n, void *userdata)
{
        return read(fd, buf, n);
}

int kmsg_reader_new_fd(int fd, uint64_t after_seq, KmsgReader **ret)
{
        KmsgReader *r;

        if (fd < 0)
                return -EBADF;
        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->fd = fd;
        r->last_seq = after_seq;
        r->read_fn = default_read;
        *ret = r;
        return 0;
}

int kmsg_reader_open(const char *path, KmsgStart start, uint64_t after_seq, KmsgReader **ret)
{
        _cleanup_close_ int fd = -1;
        int whence, r;

        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        whence = start == KMSG_START_END ? SEEK_END : start == KMSG_START_DATA ? SEEK_DATA : SEEK_SET;
        if (lseek(fd, 0, whence) < 0)
                return negative_errno();
        r = kmsg_reader_new_fd(fd, after_seq, ret);
        if (r < 0)
                return r;
        TAKE_FD(fd);
        return 0;
}

KmsgReader *kmsg_reader_free(KmsgReader *r)
{
        if (!r)
                return NULL;
        safe_close(r->fd);
        free(r);
        return NULL;
}

void kmsg_reader_set_read_fn(KmsgReader *r, KmsgReadFn fn, void *userdata)
{
        r->read_fn = fn ? fn : default_read;
        r->read_userdata = userdata;
}

int kmsg_reader_fd(const KmsgReader *r)
{
        return r->fd;
}

uint64_t kmsg_reader_last_seq(const KmsgReader *r)
{
        return r->last_seq;
}

uint64_t kmsg_reader_lost(const KmsgReader *r)
{
        return r->lost;
}

uint64_t kmsg_reader_gaps(const KmsgReader *r)
{
        return r->gaps;
}

uint64_t kmsg_reader_malformed(const KmsgReader *r)
{
        return r->malformed;
}

static int report_gap(KmsgReader *r, uint64_t first, uint64_t n, const KmsgCallbacks *cb, void *userdata)
{
        r->gaps++;
        r->lost += n;
        r->overrun = false;
        return cb && cb->gap ? cb->gap(first, n, userdata) : 0;
}

int kmsg_reader_drain(KmsgReader *r, unsigned max_records, const KmsgCallbacks *cb, void *userdata)
{
        unsigned n = 0;
        int k;

        while (n < max_records) {
                KmsgRecord rec = {};
                ssize_t l;

                l = r->read_fn(r->fd, r->buf, sizeof r->buf, r->read_userdata);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EPIPE) {
                                /* Our position was overwritten; the kernel moved us to the oldest record. */
                                r->overrun = true;
                                continue;
                        }
                        if (errno == EAGAIN)
                                break;
                        return negative_errno();
                }
                if (l == 0)
                        break;

                k = kmsg_record_parse(r->buf, (size_t)l, &rec);
                if (k == -ENOMEM)
                        return k;
                if (k < 0) {
                        r->malformed++;
                        continue;
                }
                if (r->last_seq != UINT64_MAX && rec.seq <= r->last_seq) {
                        /* Already seen (resuming after a remembered sequence number). */
                        kmsg_record_clear(&rec);
                        continue;
                }
                if (r->last_seq != UINT64_MAX && rec.seq > r->last_seq + 1)
                        k = report_gap(r, r->last_seq + 1, rec.seq - r->last_seq - 1, cb, userdata);
                else if (r->overrun)
                        /* Overrun with no baseline (or the counter went backwards): size unknown. */
                        k = report_gap(r, r->last_seq == UINT64_MAX ? 0 : r->last_seq + 1, 0, cb, userdata);
                else
                        k = 0;
                if (k < 0) {
                        kmsg_record_clear(&rec);
                        return k;
                }
                r->last_seq = rec.seq;
                n++;
                k = cb && cb->record ? cb->record(&rec, userdata) : 0;
                kmsg_record_clear(&rec);
                if (k < 0)
                        return k;
        }
        if (r->overrun && n < max_records) {
                /* EPIPE and then nothing readable: still say that something was lost. */
                k = report_gap(r, r->last_seq == UINT64_MAX ? 0 : r->last_seq + 1, 0, cb, userdata);
                if (k < 0)
                        return k;
        }
        return (int)n;
}

int boot_id_read_from(const char *path, char ret[static BOOT_ID_STRING_MAX])
{
        _cleanup_close_ int fd = -1;
        char buf[64];
        ssize_t l;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        l = read(fd, buf, sizeof buf - 1);
        if (l < 0)
                return negative_errno();
        while (l > 0 && (buf[l - 1] == '\n' || buf[l - 1] == ' '))
                l--;
        if (l != BOOT_ID_STRING_MAX - 1)
                return -EBADMSG;
        for (ssize_t i = 0; i < l; i++)
                if (!strchr("0123456789abcdef-", buf[i]))
                        return -EBADMSG;
        memcpy(ret, buf, (size_t)l);
        ret[l] = 0;
        return 0;
}

int boot_id_read(char ret[static BOOT_ID_STRING_MAX])
{
        return boot_id_read_from("/proc/sys/kernel/random/boot_id", ret);
}

int kmsg_cursor_format(const char *boot_id, uint64_t seq, char *buf, size_t size)
{
        int l = snprintf(buf, size, "%s %" PRIu64 "\n", boot_id, seq);

        if (l < 0 || (size_t)l >= size)
                return -ENOBUFS;
        return 0;
}

int kmsg_cursor_parse(const char *s, const char *boot_id, uint64_t *ret_seq)
{
        const char *sp = strchr(s, ' ');
        size_t l;
        uint64_t seq;

        if (!sp)
                return -EBADMSG;
        l = strcspn(sp + 1, "\n");
        if (parse_u64(sp + 1, l, &seq) < 0)
                return -EBADMSG;
        if ((size_t)(sp - s) != strlen(boot_id) || strncmp(s, boot_id, (size_t)(sp - s)) != 0)
                return -ESTALE;
        *ret_seq = seq;
        return 0;
}

struct json_object *kmsg_gap_to_json(uint64_t first_lost_seq, uint64_t n_lost)
{
        struct json_object *o = json_object_new_object(), *t, *f, *l = NULL;

        if (!o)
                return NULL;
        t = json_object_new_string("kmsg: records lost");
        f = json_object_new_uint64(first_lost_seq);
        if (n_lost > 0 && !(l = json_object_new_uint64(n_lost))) {
                json_object_put(t);
                json_object_put(f);
                json_object_put(o);
                return NULL;
        }
        if (!t || !f || json_object_object_add(o, "title", t) < 0) {
                json_object_put(t);
                json_object_put(f);
                json_object_put(l);
                json_object_put(o);
                return NULL;
        }
        json_object_object_add(o, "first_lost_seq", f);
        json_object_object_add(o, "lost", l); /* null: the overrun's size is unknown */
        return o;
}
