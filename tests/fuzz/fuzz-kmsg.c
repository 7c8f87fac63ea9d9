/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the /dev/kmsg record parser, and the reader's sequence
 * and gap logic over a stream of fuzzed records (split at 0xff bytes, an
 * empty record standing for an EPIPE overrun), each record then fed to the
 * classifier as a kmsg record.
 */
#include <fcntl.h>
#include <json-c/json.h>

#include "classify.h"
#include "kmsg.h"

typedef struct Stream {
        const uint8_t *data;
        size_t size, pos;
} Stream;

static ssize_t stream_read(int fd, void *buf, size_t n, void *userdata)
{
        Stream *s = userdata;
        const uint8_t *end;
        size_t len;

        if (s->pos >= s->size) {
                errno = EAGAIN;
                return -1;
        }
        end = memchr(s->data + s->pos, 0xff, s->size - s->pos);
        len = end ? (size_t)(end - (s->data + s->pos)) : s->size - s->pos;
        if (len == 0) {
                s->pos++;
                errno = EPIPE;
                return -1;
        }
        if (len > n) {
                s->pos += len + 1;
                errno = EINVAL; /* as /dev/kmsg says when the buffer is too small */
                return -1;
        }
        memcpy(buf, s->data + s->pos, len);
        s->pos += len + 1;
        return (ssize_t)len;
}

static int on_report(const ClassifyReport *r, void *userdata)
{
        struct json_object *o = classify_report_to_json(r, true);
        json_object_put(o);
        return 0;
}

static int on_record(const KmsgRecord *rec, void *userdata)
{
        return classifier_feed_kmsg(userdata, rec);
}

static int on_gap(uint64_t first, uint64_t n, void *userdata)
{
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        KmsgRecord rec;
        KmsgReader *r = NULL;
        Classifier *c = NULL;
        Stream s = { data, size, 0 };
        KmsgCallbacks cb = { .record = on_record, .gap = on_gap };
        int fd;

        if (kmsg_record_parse((const char *)data, size, &rec) == 0)
                kmsg_record_clear(&rec);

        fd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* the reader wants an fd; reads come from the input */
        if (fd < 0 || kmsg_reader_new_fd(fd, size > 0 && data[0] & 1 ? 5 : UINT64_MAX, &r) < 0) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        kmsg_reader_set_read_fn(r, stream_read, &s);
        if (classifier_new(size > 1 && data[1] & 1 ? CLASSIFY_USER_FACILITY : 0, on_report, NULL, &c) == 0) {
                while (kmsg_reader_drain(r, 64, &cb, c) > 0)
                        ;
                (void)classifier_flush(c);
        }
        classifier_free(c);
        kmsg_reader_free(r);
        return 0;
}
