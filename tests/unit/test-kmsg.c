/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /dev/kmsg records and the reader: parsing every field of the format,
 * malformed records, resuming after a sequence number, gaps from skipped
 * sequence numbers and from EPIPE overruns. With the argument "device" (a
 * separate meson test): a real round trip through /dev/kmsg as root.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/socket.h>

#include "classify.h"
#include "kmsg.h"
#include "test-util.h"

static void test_parse(void)
{
        KmsgRecord r;
        static const char rec[] = "6,339,5140900,-;NET: Registered protocol family 10\n";

        ASSERT_OK(kmsg_record_parse(rec, strlen(rec), &r));
        ASSERT_EQ(r.priority, 6);
        ASSERT_EQ(r.facility, KMSG_FACILITY_KERNEL);
        ASSERT_EQ(r.seq, 339);
        ASSERT_EQ(r.ts_usec, 5140900);
        ASSERT_TRUE(!r.continuation);
        ASSERT_STREQ(r.caller, "");
        ASSERT_STREQ(r.text, "NET: Registered protocol family 10");
        ASSERT_EQ(r.text_len, 34);
        ASSERT_TRUE(!r.subsystem && !r.device);
        kmsg_record_clear(&r);

        /* what a write to /dev/kmsg without a prefix becomes: facility user, default level */
        ASSERT_OK(kmsg_record_parse("12,1,2,-;hello", 14, &r));
        ASSERT_EQ(r.facility, KMSG_FACILITY_USER);
        ASSERT_EQ(r.priority, 4);
        kmsg_record_clear(&r);

        /* CONFIG_PRINTK_CALLER, and fields the ABI allows us to ignore */
        ASSERT_OK(kmsg_record_parse("4,100,200,-,caller=T123,foo=bar;x", 33, &r));
        ASSERT_STREQ(r.caller, "T123");
        kmsg_record_clear(&r);

        /* continuation fragments of older kernels */
        ASSERT_OK(kmsg_record_parse("4,100,200,c;x", 13, &r));
        ASSERT_TRUE(r.continuation);
        kmsg_record_clear(&r);

        /* \xNN escapes: control bytes, high bytes and the backslash itself */
        static const char esc[] = "6,1,2,-;a\\x5cb\\x0ac\\xffd\\q\\x4";
        ASSERT_OK(kmsg_record_parse(esc, strlen(esc), &r));
        ASSERT_EQ(r.text_len, 12);
        ASSERT_TRUE(memcmp(r.text, "a\\b\nc\xff" "d\\q\\x4", 12) == 0);
        kmsg_record_clear(&r);

        /* dictionary continuation lines */
        static const char dict[] = "7,160,424069,-;pci_root PNP0A03:00: host bridge window\n"
                                   " SUBSYSTEM=acpi\n"
                                   " DEVICE=+acpi:PNP0A03:00\n";
        ASSERT_OK(kmsg_record_parse(dict, strlen(dict), &r));
        ASSERT_STREQ(r.text, "pci_root PNP0A03:00: host bridge window");
        ASSERT_STREQ(r.subsystem, "acpi");
        ASSERT_STREQ(r.device, "+acpi:PNP0A03:00");
        kmsg_record_clear(&r);

        /* an empty message is a message */
        ASSERT_OK(kmsg_record_parse("6,5,6,-;\n", 9, &r));
        ASSERT_STREQ(r.text, "");
        kmsg_record_clear(&r);
}

static void test_parse_malformed(void)
{
        static const char *const bad[] = {
                "",
                "6,1,2,-",                /* no ';' */
                "6,1,2;x",                /* flags missing */
                "x,1,2,-;m",              /* non-numeric priority */
                "1024,1,2,-;m",           /* priority out of range */
                "6,,2,-;m",               /* empty sequence number */
                "6,1,2,--;m",             /* flags too long */
                "6,1,2,z;m",              /* unknown flag */
                "6,99999999999999999999,2,-;m", /* sequence number overflows */
                "6,1,2,-;m\nNOSPACE=1",   /* dictionary line without its leading space */
                "6,1,2,-;m\n NOEQUALS",   /* dictionary line without '=' */
        };
        KmsgRecord r;
        char big[KMSG_RECORD_MAX + 2];

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int k = kmsg_record_parse(bad[i], strlen(bad[i]), &r);
                if (k != -EBADMSG)
                        TEST_FAIL("\"%s\": %d, expected -EBADMSG", bad[i], k);
                ASSERT_TRUE(!r.text);
        }
        memset(big, 'a', sizeof big);
        memcpy(big, "6,1,2,-;", 8);
        ASSERT_EQ(kmsg_record_parse(big, sizeof big, &r), -E2BIG);
}

typedef struct Seen {
        uint64_t seqs[64];
        size_t n;
        uint64_t gap_first[8], gap_n[8];
        size_t gaps;
        int fail_at; /* return an error from the n-th record */
} Seen;

static int on_record(const KmsgRecord *rec, void *userdata)
{
        Seen *s = userdata;
        ASSERT_TRUE(s->n < ELEMENTSOF(s->seqs));
        s->seqs[s->n++] = rec->seq;
        if (s->fail_at && (int)s->n == s->fail_at)
                return -ECANCELED;
        return 0;
}

static int on_gap(uint64_t first, uint64_t n, void *userdata)
{
        Seen *s = userdata;
        ASSERT_TRUE(s->gaps < ELEMENTSOF(s->gap_first));
        s->gap_first[s->gaps] = first;
        s->gap_n[s->gaps++] = n;
        return 0;
}

static const KmsgCallbacks cbs = { .record = on_record, .gap = on_gap };

static void send_rec(int fd, uint64_t seq)
{
        char buf[128];
        int l = snprintf(buf, sizeof buf, "6,%" PRIu64 ",%" PRIu64 ",-;message %" PRIu64 "\n", seq, seq * 10, seq);
        ASSERT_EQ(send(fd, buf, (size_t)l, 0), l);
}

/* A SOCK_SEQPACKET pair keeps record boundaries like /dev/kmsg does, and says EAGAIN when drained. */
static KmsgReader *reader_pair(uint64_t after, int *ret_writer)
{
        int sv[2];
        KmsgReader *r;

        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
        ASSERT_OK(fcntl(sv[0], F_SETFL, O_NONBLOCK));
        ASSERT_OK(kmsg_reader_new_fd(sv[0], after, &r));
        *ret_writer = sv[1];
        return r;
}

static void test_reader_sequence(void)
{
        _cleanup_(kmsg_reader_freep) KmsgReader *r = NULL;
        _cleanup_close_ int w = -1;
        Seen s = {};

        r = reader_pair(UINT64_MAX, &w);
        ASSERT_EQ(kmsg_reader_last_seq(r), UINT64_MAX);
        ASSERT_EQ(kmsg_reader_drain(r, 100, &cbs, &s), 0);
        send_rec(w, 10);
        send_rec(w, 11);
        send_rec(w, 12);
        ASSERT_EQ(kmsg_reader_drain(r, 100, &cbs, &s), 3);
        ASSERT_EQ(s.n, 3);
        ASSERT_EQ(s.seqs[2], 12);
        ASSERT_EQ(kmsg_reader_last_seq(r), 12);
        /* the first record sets the baseline: no gap before it, however high its number */
        ASSERT_EQ(s.gaps, 0);

        /* 13 and 14 were lost: one gap of two records, reported before 15 */
        send_rec(w, 15);
        ASSERT_EQ(kmsg_reader_drain(r, 100, &cbs, &s), 1);
        ASSERT_EQ(s.gaps, 1);
        ASSERT_EQ(s.gap_first[0], 13);
        ASSERT_EQ(s.gap_n[0], 2);
        ASSERT_EQ(kmsg_reader_lost(r), 2);
        ASSERT_EQ(kmsg_reader_gaps(r), 1);

        /* a malformed record is counted and skipped */
        ASSERT_EQ(send(w, "garbage", 7, 0), 7);
        send_rec(w, 16);
        ASSERT_EQ(kmsg_reader_drain(r, 100, &cbs, &s), 1);
        ASSERT_EQ(kmsg_reader_malformed(r), 1);
        ASSERT_EQ(s.gaps, 1);

        /* the budget is honoured; the rest comes with the next call */
        send_rec(w, 17);
        send_rec(w, 18);
        send_rec(w, 19);
        ASSERT_EQ(kmsg_reader_drain(r, 2, &cbs, &s), 2);
        ASSERT_EQ(kmsg_reader_drain(r, 2, &cbs, &s), 1);
        ASSERT_EQ(kmsg_reader_last_seq(r), 19);

        /* a callback error stops the drain and comes back */
        s.fail_at = (int)s.n + 1;
        send_rec(w, 20);
        ASSERT_EQ(kmsg_reader_drain(r, 10, &cbs, &s), -ECANCELED);

        /* EOF (writer gone) is not an error */
        w = safe_close(w);
        ASSERT_EQ(kmsg_reader_drain(r, 10, &cbs, &s), 0);
}

/* Resuming after a remembered sequence number: no repeats, and a hole after it is a gap. */
static void test_reader_resume(void)
{
        _cleanup_(kmsg_reader_freep) KmsgReader *r = NULL;
        _cleanup_close_ int w = -1;
        Seen s = {};

        r = reader_pair(11, &w);
        ASSERT_EQ(kmsg_reader_last_seq(r), 11);
        for (uint64_t q = 9; q <= 13; q++)
                send_rec(w, q);
        ASSERT_EQ(kmsg_reader_drain(r, 100, &cbs, &s), 2);
        ASSERT_EQ(s.seqs[0], 12);
        ASSERT_EQ(s.seqs[1], 13);
        ASSERT_EQ(s.gaps, 0);
        r = kmsg_reader_free(r);
        w = safe_close(w);

        /* records 12..14 were overwritten while the daemon was down */
        s = (Seen){};
        r = reader_pair(11, &w);
        send_rec(w, 15);
        ASSERT_EQ(kmsg_reader_drain(r, 100, &cbs, &s), 1);
        ASSERT_EQ(s.gaps, 1);
        ASSERT_EQ(s.gap_first[0], 12);
        ASSERT_EQ(s.gap_n[0], 3);
}

/* read(2) as /dev/kmsg does it on overrun: EPIPE once, then the oldest record still there. */
typedef struct FakeKmsg {
        const char *const *script; /* NULL entries mean EPIPE */
        size_t n, next;
} FakeKmsg;

static ssize_t fake_read(int fd, void *buf, size_t n, void *userdata)
{
        FakeKmsg *f = userdata;
        const char *rec;

        if (f->next >= f->n) {
                errno = EAGAIN;
                return -1;
        }
        rec = f->script[f->next++];
        if (!rec) {
                errno = EPIPE;
                return -1;
        }
        ASSERT_TRUE(strlen(rec) <= n);
        memcpy(buf, rec, strlen(rec));
        return (ssize_t)strlen(rec);
}

static void test_reader_overrun(void)
{
        static const char *const script[] = { "6,5,1,-;a\n", "6,6,1,-;b\n", NULL, "6,40,1,-;c\n", "6,41,1,-;d\n" };
        static const char *const script2[] = { NULL, NULL };
        _cleanup_(kmsg_reader_freep) KmsgReader *r = NULL;
        FakeKmsg f = { script, ELEMENTSOF(script), 0 };
        int pipefd[2];
        Seen s = {};

        ASSERT_OK(pipe2(pipefd, O_CLOEXEC));
        close(pipefd[1]);
        ASSERT_OK(kmsg_reader_new_fd(pipefd[0], UINT64_MAX, &r));
        kmsg_reader_set_read_fn(r, fake_read, &f);
        ASSERT_EQ(kmsg_reader_drain(r, 100, &cbs, &s), 4);
        ASSERT_EQ(s.gaps, 1);
        ASSERT_EQ(s.gap_first[0], 7);
        ASSERT_EQ(s.gap_n[0], 33);
        ASSERT_EQ(kmsg_reader_lost(r), 33);

        /* overrun and then nothing readable: still a gap, of unknown size */
        f = (FakeKmsg){ script2, ELEMENTSOF(script2), 0 };
        ASSERT_EQ(kmsg_reader_drain(r, 100, &cbs, &s), 0);
        ASSERT_EQ(s.gaps, 2);
        ASSERT_EQ(s.gap_first[1], 42);
        ASSERT_EQ(s.gap_n[1], 0);
        ASSERT_EQ(kmsg_reader_gaps(r), 2);
}

static void test_gap_json(void)
{
        struct json_object *o = kmsg_gap_to_json(13, 2);

        ASSERT_TRUE(o);
        ASSERT_STREQ(json_object_get_string(json_object_object_get(o, "title")), "kmsg: records lost");
        ASSERT_EQ(json_object_get_int64(json_object_object_get(o, "first_lost_seq")), 13);
        ASSERT_EQ(json_object_get_int64(json_object_object_get(o, "lost")), 2);
        json_object_put(o);
        o = kmsg_gap_to_json(0, 0);
        ASSERT_TRUE(o);
        ASSERT_TRUE(json_object_object_get_ex(o, "lost", NULL) && !json_object_object_get(o, "lost"));
        json_object_put(o);
}

static void test_boot_id_and_cursor(void)
{
        char id[BOOT_ID_STRING_MAX], buf[128], path[] = "/tmp/test-kmsg-XXXXXX";
        uint64_t seq;
        int fd;

        ASSERT_OK(boot_id_read(id));
        ASSERT_EQ(strlen(id), 36);
        ASSERT_OK(kmsg_cursor_format(id, 4242, buf, sizeof buf));
        ASSERT_OK(kmsg_cursor_parse(buf, id, &seq));
        ASSERT_EQ(seq, 4242);
        ASSERT_EQ(kmsg_cursor_parse(buf, "00000000-0000-0000-0000-000000000000", &seq), -ESTALE);
        ASSERT_EQ(kmsg_cursor_parse("nonsense", id, &seq), -EBADMSG);
        ASSERT_EQ(kmsg_cursor_format(id, 1, buf, 10), -ENOBUFS);

        fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, "not-a-boot-id\n", 14), 14);
        close(fd);
        ASSERT_EQ(boot_id_read_from(path, id), -EBADMSG);
        unlink(path);
}

/* ---- the real device ---- */

typedef struct DeviceSeen {
        const char *marker;
        Classifier *classifier;
        unsigned found, facility, priority;
} DeviceSeen;

static int device_record(const KmsgRecord *rec, void *userdata)
{
        DeviceSeen *d = userdata;

        if (!strstr(rec->text, d->marker))
                return 0; /* someone else's message */
        d->found++;
        d->facility = rec->facility;
        d->priority = rec->priority;
        return d->classifier ? classifier_feed_kmsg(d->classifier, rec) : 0;
}

static int device_report(const ClassifyReport *r, void *userdata)
{
        unsigned *n = userdata;
        ASSERT_STREQ(r->title, "WARNING in hvt_selftest_warn");
        (*n)++;
        return 0;
}

static void kmsg_write(int fd, const char *s)
{
        ASSERT_EQ(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static int test_device(void)
{
        _cleanup_(kmsg_reader_freep) KmsgReader *r = NULL;
        _cleanup_close_ int w = -1;
        char marker[64], line[256];
        KmsgCallbacks dcb = { .record = device_record };
        DeviceSeen d = { .marker = marker };
        unsigned reports = 0;

        if (geteuid() != 0)
                TEST_SKIP("writing to /dev/kmsg needs root");
        w = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
        if (w < 0)
                TEST_SKIP("cannot open /dev/kmsg for writing: %s", strerror(errno));
        if (kmsg_reader_open("/dev/kmsg", KMSG_START_END, UINT64_MAX, &r) < 0)
                TEST_SKIP("cannot open /dev/kmsg for reading: %s", strerror(errno));

        snprintf(marker, sizeof marker, "hvt-selftest-%d-%" PRIu64, getpid(), now_ns(CLOCK_MONOTONIC));
        snprintf(line, sizeof line, "<14>hvtorture test: %s\n", marker);
        kmsg_write(w, line);
        ASSERT_TRUE(kmsg_reader_drain(r, 1000, &dcb, &d) >= 1);
        ASSERT_EQ(d.found, 1);
        ASSERT_EQ(d.facility, KMSG_FACILITY_USER);
        ASSERT_EQ(d.priority, 6);
        ASSERT_TRUE(kmsg_reader_last_seq(r) != UINT64_MAX);

        /* a kernel-style splat written by userspace: not evidence, unless the test opts in */
        for (int opt_in = 0; opt_in <= 1; opt_in++) {
                _cleanup_(classifier_freep) Classifier *c = NULL;
                static const char *const splat[] = {
                        "<4>WARNING: CPU: 0 PID: 1 at drivers/hvt/selftest.c:1 hvt_selftest_warn+0x1/0x2",
                        "<4>RIP: 0010:hvt_selftest_warn+0x1/0x2",
                        "<4>Call Trace:",
                        "<4>---[ end trace 0000000000000000 ]---",
                };

                ASSERT_OK(classifier_new(opt_in ? CLASSIFY_USER_FACILITY : 0, device_report, &reports, &c));
                d.classifier = c;
                d.found = 0;
                for (size_t i = 0; i < ELEMENTSOF(splat); i++) {
                        snprintf(line, sizeof line, "%s %s\n", splat[i], marker);
                        kmsg_write(w, line);
                }
                ASSERT_TRUE(kmsg_reader_drain(r, 1000, &dcb, &d) >= 4);
                ASSERT_EQ(d.found, 4);
                /* "<4>" sets the level; the kernel keeps userspace out of facility 0 */
                ASSERT_EQ(d.facility, KMSG_FACILITY_USER);
                ASSERT_EQ(d.priority, 4);
                ASSERT_OK(classifier_flush(c));
                ASSERT_EQ(reports, (unsigned)opt_in);
                d.classifier = NULL;
        }
        return 0;
}

int main(int argc, char *argv[])
{
        if (argc > 1 && streq(argv[1], "device"))
                return test_device();
        test_parse();
        test_parse_malformed();
        test_reader_sequence();
        test_reader_resume();
        test_reader_overrun();
        test_gap_json();
        test_boot_id_and_cursor();
        return 0;
}
