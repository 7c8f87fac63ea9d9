/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pstore: fake /sys/fs/pstore and /var/lib/systemd/pstore directories in the
 * exact on-disk format (names "TYPE-BACKEND-ID[.enc.z]", "Panic#1 Part1"
 * headers, ramoops' ECC notice, systemd-pstore's subdirectories), multi-part
 * reassembly, classification of the text, and collection that loses nothing
 * when the destination fails: injected write/fsync/corruption failures and a
 * real ENOSPC from a tiny tmpfs.
 */
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "pstore.h"
#include "test-util.h"

/* Part2 is the older chunk of the log, Part1 the newer one that ends with the panic. */
static const char part2[] = "Panic#1 Part2\n"
                            "<6>[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org)\n"
                            "<6>[    2.310000] ramoops: using 0x100000@0x10000000, ecc: 16\n"
                            "<6>[   70.000000] kvm_amd: TSC scaling supported\n"
                            "<6>[   77.101010] sysrq: Trigger a crash\n"
                            "\nECC: No errors detected\n";
static const char part1[] = "Panic#1 Part1\n"
                            "<0>[   77.101050] Kernel panic - not syncing: sysrq triggered crash\n"
                            "<4>[   77.101300] CPU: 1 PID: 411 Comm: sh Not tainted 6.1.0-56-amd64 #1  Debian 6.1.153-1\n"
                            "<4>[   77.101500] Call Trace:\n"
                            "<4>[   77.101520]  <TASK>\n"
                            "<4>[   77.101540]  dump_stack_lvl+0x44/0x5c\n"
                            "<4>[   77.101600]  panic+0x118/0x2ed\n"
                            "<4>[   77.101660]  sysrq_handle_crash+0x16/0x20\n"
                            "<4>[   77.101700]  __handle_sysrq.cold+0x43/0x11b\n"
                            "<4>[   77.101760]  write_sysrq_trigger+0x24/0x40\n"
                            "<4>[   77.101800]  </TASK>\n"
                            "<0>[   77.102000] Kernel Offset: 0x1000000 from 0xffffffff81000000\n"
                            "\nECC: No errors detected\n";
static const char console[] = "[   77.101010] sysrq: Trigger a crash\n"
                              "[   77.101050] Kernel panic - not syncing: sysrq triggered crash\n"
                              "[   77.101300] CPU: 1 PID: 411 Comm: sh Not tainted 6.1.0-56-amd64 #1\n"
                              "[   77.102100] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---\n";
static const char pmsg[] = "hvtorture: intent kexec run=20261122-1 step=41\n";
static const char compressed[] = "\x78\x9c\x0b\xc9\xc8\x2c\x56\x00\xa2\x44\x85\x92\xd4\xe2\x12\x00";

static int mkdtemp_fd(char *tmpl)
{
        int fd;
        ASSERT_TRUE(mkdtemp(tmpl));
        fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        return fd;
}

static void put_file(int dirfd, const char *path, const char *data, size_t len, time_t mtime)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
        struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };

        ASSERT_TRUE(fd >= 0);
        ASSERT_EQ(write(fd, data, len), (ssize_t)len);
        ASSERT_OK(futimens(fd, ts));
}

static char *get_file(int dirfd, const char *path, size_t *ret_len)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
        char *buf = malloc(1 << 20);
        ssize_t l;

        if (fd < 0) {
                free(buf);
                return NULL;
        }
        ASSERT_TRUE(buf);
        l = read(fd, buf, (1 << 20) - 1);
        ASSERT_TRUE(l >= 0);
        buf[l] = 0;
        *ret_len = (size_t)l;
        return buf;
}

static bool file_is(int dirfd, const char *path, const char *data, size_t len)
{
        size_t l;
        _cleanup_free_ char *got = get_file(dirfd, path, &l);
        return got && l == len && memcmp(got, data, len) == 0;
}

static unsigned count_entries(int dirfd, const char *sub)
{
        _cleanup_close_ int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        unsigned n = 0;

        if (fd < 0)
                return 0;
        d = fdopendir(TAKE_FD(fd));
        ASSERT_TRUE(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

/* The layout ramoops leaves in /sys/fs/pstore after a sysrq-c panic (see LAB.md). */
static int make_sysfs_pstore(char *tmpl)
{
        int fd = mkdtemp_fd(tmpl);

        put_file(fd, "dmesg-ramoops-0", part1, strlen(part1), 1763778000);
        put_file(fd, "dmesg-ramoops-1", part2, strlen(part2), 1763778000);
        put_file(fd, "console-ramoops-0", console, strlen(console), 1763778001);
        put_file(fd, "pmsg-ramoops-0", pmsg, strlen(pmsg), 1763778001);
        put_file(fd, "dmesg-ramoops-2.enc.z", compressed, sizeof compressed - 1, 1763777000);
        return fd;
}

static void rm_rf(const char *path)
{
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
        ASSERT_EQ(system(cmd), 0);
}

static void test_parse_name(void)
{
        static const struct {
                const char *name;
                PstoreType type;
                const char *backend;
                uint64_t id;
                bool compressed;
        } good[] = {
                { "dmesg-ramoops-0", PSTORE_TYPE_DMESG, "ramoops", 0, false },
                { "console-ramoops-0", PSTORE_TYPE_CONSOLE, "ramoops", 0, false },
                { "pmsg-ramoops-0", PSTORE_TYPE_PMSG, "ramoops", 0, false },
                { "ftrace-ramoops-3", PSTORE_TYPE_FTRACE, "ramoops", 3, false },
                { "dmesg-efi-171234567801002", PSTORE_TYPE_DMESG, "efi", 171234567801002ULL, false },
                { "dmesg-efi_pstore-1711999999001", PSTORE_TYPE_DMESG, "efi_pstore", 1711999999001ULL, false },
                { "dmesg-erst-6542347934", PSTORE_TYPE_DMESG, "erst", 6542347934ULL, false },
                { "dmesg-ramoops-2.enc.z", PSTORE_TYPE_DMESG, "ramoops", 2, true },
                { "powerpc-ofw-nvram-1", PSTORE_TYPE_PPC_OF, "nvram", 1, false },
                { "mce-erst-12", PSTORE_TYPE_MCE, "erst", 12, false },
        };
        static const char *const bad[] = {
                "dmesg.txt", "foo", "dmesg-ramoops-", "dmesg--1", "ramoops-0", "dmesg-ramoops-x1",
                "dmesg-ramoops-1.enc", "dmesg-ram/oops-1", "dmesg-ramoops-99999999999999999999999",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                PstoreType t;
                _cleanup_free_ char *b = NULL;
                uint64_t id;
                bool c;

                ASSERT_OK(pstore_parse_name(good[i].name, &t, &b, &id, &c));
                if (t != good[i].type || !streq(b, good[i].backend) || id != good[i].id || c != good[i].compressed)
                        TEST_FAIL("%s parsed as %s/%s/%" PRIu64 "/%d", good[i].name, pstore_type_to_string(t), b,
                                  id, c);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (pstore_parse_name(bad[i], NULL, NULL, NULL, NULL) != -EINVAL)
                        TEST_FAIL("%s was accepted as a pstore name", bad[i]);
}

static void test_parse_header(void)
{
        char reason[PSTORE_REASON_MAX];
        unsigned count, part;
        size_t hl;

        ASSERT_OK(pstore_parse_header("Panic#1 Part1\nx", 15, reason, &count, &part, &hl));
        ASSERT_STREQ(reason, "Panic");
        ASSERT_EQ(count, 1);
        ASSERT_EQ(part, 1);
        ASSERT_EQ(hl, 14);
        ASSERT_OK(pstore_parse_header("Oops#12 Part3\n", 14, reason, &count, &part, &hl));
        ASSERT_STREQ(reason, "Oops");
        ASSERT_EQ(count, 12);
        ASSERT_EQ(part, 3);
        ASSERT_OK(pstore_parse_header("Emergency#2 Part10", 18, reason, &count, &part, &hl));
        ASSERT_EQ(part, 10);
        ASSERT_EQ(hl, 18);
        ASSERT_EQ(pstore_parse_header("<6>[ 0.0] x\n", 12, reason, &count, &part, &hl), -ENOMSG);
        ASSERT_EQ(pstore_parse_header("Panic#1 Part\n", 13, reason, &count, &part, &hl), -ENOMSG);
        ASSERT_EQ(pstore_parse_header("Panic#x Part1\n", 14, reason, &count, &part, &hl), -ENOMSG);
        ASSERT_EQ(pstore_parse_header("Panic#1 Part1 trailing\n", 23, reason, &count, &part, &hl), -ENOMSG);
        ASSERT_EQ(pstore_parse_header("VeryLongReasonWord#1 Part1\n", 27, reason, &count, &part, &hl), -ENOMSG);
        ASSERT_EQ(pstore_parse_header("", 0, reason, &count, &part, &hl), -ENOMSG);
}

typedef struct Reports {
        char titles[16][CLASSIFY_TITLE_MAX + 1];
        bool from_dump[16];
        size_t n;
} Reports;

static int on_report(const PstoreSource *src, const ClassifyReport *r, void *userdata)
{
        Reports *rep = userdata;
        ASSERT_TRUE(rep->n < ELEMENTSOF(rep->titles));
        strcpy(rep->titles[rep->n], r->title);
        rep->from_dump[rep->n++] = src->dump != NULL;
        return 0;
}

static void test_scan_sysfs_layout(void)
{
        char tmpl[] = "/tmp/test-pstore-src-XXXXXX";
        _cleanup_close_ int fd = make_sysfs_pstore(tmpl);
        _cleanup_(pstore_set_freep) PstoreSet *s = NULL;
        const PstoreDump *d;
        Reports rep = {};
        struct json_object *j;

        ASSERT_OK(pstore_scan(fd, &s));
        ASSERT_EQ(s->n_records, 5);
        ASSERT_EQ(s->skipped, 0);
        ASSERT_EQ(s->n_dumps, 1);
        d = &s->dumps[0];
        ASSERT_EQ(d->n_parts, 2);
        ASSERT_STREQ(s->records[d->parts[0]].name, "dmesg-ramoops-1"); /* Part2: the older text first */
        ASSERT_STREQ(s->records[d->parts[1]].name, "dmesg-ramoops-0");
        ASSERT_TRUE(d->complete);
        ASSERT_STREQ(d->reason, "Panic");
        ASSERT_EQ(d->count, 1);
        ASSERT_TRUE(startswith(d->text, "<6>[    0.000000] Linux version"));
        ASSERT_TRUE(!strstr(d->text, "Part1") && !strstr(d->text, "ECC:"));
        ASSERT_TRUE(strstr(d->text, "sysrq: Trigger a crash") < strstr(d->text, "Kernel panic"));
        for (size_t i = 0; i < s->n_records; i++) {
                const PstoreRecord *r = &s->records[i];
                if (streq(r->name, "dmesg-ramoops-0")) {
                        ASSERT_STREQ(r->ecc, "ECC: No errors detected");
                        ASSERT_EQ(r->part, 1);
                        ASSERT_EQ(r->mtime_usec, 1763778000ULL * 1000000);
                } else if (streq(r->name, "dmesg-ramoops-2.enc.z")) {
                        ASSERT_TRUE(r->compressed);
                        ASSERT_TRUE(!r->data);
                        ASSERT_EQ(r->size, sizeof compressed - 1);
                } else if (streq(r->name, "pmsg-ramoops-0"))
                        ASSERT_EQ(r->type, PSTORE_TYPE_PMSG);
        }

        /* the sysrq panic, from the reassembled dump and from the console record; not from pmsg */
        ASSERT_OK(pstore_set_classify(s, 0, on_report, &rep));
        ASSERT_EQ(rep.n, 2);
        ASSERT_STREQ(rep.titles[0], "kernel panic: sysrq triggered crash");
        ASSERT_TRUE(rep.from_dump[0]);
        ASSERT_STREQ(rep.titles[1], "kernel panic: sysrq triggered crash");
        ASSERT_TRUE(!rep.from_dump[1]);

        j = pstore_dump_to_json(s, d);
        ASSERT_TRUE(j);
        ASSERT_EQ(json_object_array_length(json_object_object_get(j, "parts")), 2);
        ASSERT_TRUE(json_object_get_boolean(json_object_object_get(j, "complete")));
        ASSERT_STREQ(json_object_get_string(json_object_object_get(j, "title")), "pstore: Panic dump from ramoops");
        json_object_put(j);
        j = pstore_record_to_json(&s->records[0]);
        ASSERT_TRUE(j && json_object_object_get(j, "path") && json_object_object_get(j, "size"));
        json_object_put(j);
        rm_rf(tmpl);
}

/* An Oops split so that its header is in Part2 and its stack in Part1: only the right order names it. */
static void test_reassembly_order(void)
{
        _cleanup_(pstore_set_freep) PstoreSet *s = NULL;
        static const char p3[] = "Oops#1 Part3\n<6>[   10.000000] kvm: loaded\n";
        static const char p2[] = "Oops#1 Part2\n<4>[   20.000000] general protection fault, probably for non-canonical "
                                 "address 0xdead000000000100: 0000 [#1] SMP\n<4>[   20.000001] RIP: 0010:kvm_mmu_unlink+0x1/0x2\n";
        static const char p1[] = "Oops#1 Part1\n<4>[   20.000002] Call Trace:\n<4>[   20.000003]  kvm_vm_release+0x1/0x2\n"
                                 "<4>[   20.000004] ---[ end trace 0000000000000000 ]---\n";
        Reports rep = {};

        ASSERT_OK(pstore_set_new(&s));
        /* added in the "wrong" order on purpose */
        ASSERT_OK(pstore_set_add(s, "dmesg-erst-100001", p1, strlen(p1), 5000000));
        ASSERT_OK(pstore_set_add(s, "dmesg-erst-100003", p3, strlen(p3), 5000000));
        ASSERT_OK(pstore_set_add(s, "dmesg-erst-100002", p2, strlen(p2), 5000001));
        ASSERT_OK(pstore_set_reassemble(s));
        ASSERT_EQ(s->n_dumps, 1);
        ASSERT_EQ(s->dumps[0].n_parts, 3);
        ASSERT_TRUE(s->dumps[0].complete);
        ASSERT_EQ(s->records[s->dumps[0].parts[0]].part, 3);
        ASSERT_OK(pstore_set_classify(s, 0, on_report, &rep));
        ASSERT_EQ(rep.n, 1);
        ASSERT_STREQ(rep.titles[0], "general protection fault in kvm_mmu_unlink");
        ASSERT_EQ(pstore_set_add(s, "../etc/passwd", "x", 1, 0), -EINVAL);
        ASSERT_EQ(pstore_set_add(s, "not-pstore", "x", 1, 0), -EINVAL);
}

/* Dumps with the same header from different crashes stay apart; a missing part is said. */
static void test_reassembly_grouping(void)
{
        _cleanup_(pstore_set_freep) PstoreSet *s = NULL;

        ASSERT_OK(pstore_set_new(&s));
        ASSERT_OK(pstore_set_add(s, "dmesg-efi-1", "Panic#1 Part1\na\n", 16, 1000ULL * 1000000));
        ASSERT_OK(pstore_set_add(s, "dmesg-efi-2", "Panic#1 Part2\nb\n", 16, 1000ULL * 1000000));
        /* a day later, another boot's first panic */
        ASSERT_OK(pstore_set_add(s, "dmesg-efi-3", "Panic#1 Part1\nc\n", 16, 87400ULL * 1000000));
        /* same time, same header, but Part1 twice: two dumps */
        ASSERT_OK(pstore_set_add(s, "dmesg-erst-4", "Oops#2 Part1\nd\n", 15, 5000ULL * 1000000));
        ASSERT_OK(pstore_set_add(s, "dmesg-erst-5", "Oops#2 Part1\ne\n", 15, 5000ULL * 1000000));
        /* Part3 without Part2 */
        ASSERT_OK(pstore_set_add(s, "dmesg-ramoops-6", "Oops#5 Part1\nf\n", 15, 9000ULL * 1000000));
        ASSERT_OK(pstore_set_add(s, "dmesg-ramoops-7", "Oops#5 Part3\ng\n", 15, 9000ULL * 1000000));
        /* no header at all */
        ASSERT_OK(pstore_set_add(s, "dmesg-ramoops-8", "just text\n", 10, 9000ULL * 1000000));
        ASSERT_OK(pstore_set_reassemble(s));
        ASSERT_EQ(s->n_dumps, 6);
        for (size_t i = 0; i < s->n_dumps; i++) {
                const PstoreDump *d = &s->dumps[i];
                if (streq(d->text, "b\na\n"))
                        ASSERT_TRUE(d->complete);
                else if (streq(d->text, "g\nf\n"))
                        ASSERT_TRUE(!d->complete);
                else if (!streq(d->text, "c\n") && !streq(d->text, "d\n") && !streq(d->text, "e\n") &&
                         !streq(d->text, "just text\n"))
                        TEST_FAIL("unexpected dump text \"%s\"", d->text);
        }
}

/* systemd-pstore moved efi records into a per-record subdirectory with its dmesg.txt. */
static void test_systemd_layout_and_collect(void)
{
        char src_t[] = "/tmp/test-pstore-sd-XXXXXX", dst_t[] = "/tmp/test-pstore-dst-XXXXXX";
        _cleanup_close_ int src = mkdtemp_fd(src_t), dst = mkdtemp_fd(dst_t);
        _cleanup_(pstore_set_freep) PstoreSet *s = NULL;
        static const char e2[] = "Panic#1 Part2\n<6>[   70.000000] kvm: exiting hardware virtualization\n";
        static const char e1[] = "Panic#1 Part1\n<0>[   77.101050] Kernel panic - not syncing: sysrq triggered crash\n";
        _cleanup_free_ char *txt = NULL;
        Reports rep = {};

        ASSERT_OK(mkdirat(src, "1712345678", 0755));
        put_file(src, "1712345678/dmesg-efi-171234567802001", e2, strlen(e2), 1712345678);
        put_file(src, "1712345678/dmesg-efi-171234567801001", e1, strlen(e1), 1712345678);
        ASSERT_TRUE(asprintf(&txt, "dmesg-efi-171234567802001:\n%sdmesg-efi-171234567801001:\n%s", e2, e1) > 0);
        put_file(src, "1712345678/dmesg.txt", txt, strlen(txt), 1712345700);
        put_file(src, "console-ramoops-0", console, strlen(console), 1712345679);
        put_file(src, "README", "not a record\n", 13, 1712345679);

        ASSERT_OK(pstore_scan(src, &s));
        ASSERT_EQ(s->n_records, 4);
        ASSERT_EQ(s->skipped, 1); /* README: not ours */
        ASSERT_EQ(s->n_dumps, 1);
        ASSERT_EQ(s->dumps[0].n_parts, 2);
        ASSERT_TRUE(startswith(s->dumps[0].text, "<6>[   70.000000] kvm: exiting"));
        ASSERT_OK(pstore_set_classify(s, 0, on_report, &rep));
        ASSERT_EQ(rep.n, 2); /* the dump and the console record; dmesg.txt duplicates the parts */

        ASSERT_OK(pstore_collect_all(src, s, dst, 0, NULL));
        for (size_t i = 0; i < s->n_records; i++) {
                ASSERT_TRUE(s->records[i].collected);
                ASSERT_STREQ(s->records[i].collected_as, s->records[i].path);
        }
        ASSERT_TRUE(file_is(dst, "1712345678/dmesg-efi-171234567801001", e1, strlen(e1)));
        ASSERT_TRUE(file_is(dst, "1712345678/dmesg.txt", txt, strlen(txt)));
        ASSERT_TRUE(file_is(dst, "console-ramoops-0", console, strlen(console)));
        ASSERT_EQ(count_entries(src, "."), 1); /* only README is left; the emptied subdirectory is gone */
        ASSERT_EQ(count_entries(dst, "1712345678"), 3);
        rm_rf(src_t);
        rm_rf(dst_t);
}

/*
 * systemd-pstore (252) with ramoops: the raw record moved as it is, and its
 * reassembly in a dmesg.txt beside it at the top (ramoops records carry no
 * id it groups by). Both are one crash: one report, both collected, nothing
 * left behind for the next daemon start to trip over.
 */
static void test_systemd_flat_ramoops(void)
{
        char src_t[] = "/tmp/test-pstore-sd-XXXXXX", dst_t[] = "/tmp/test-pstore-dst-XXXXXX";
        _cleanup_close_ int src = mkdtemp_fd(src_t), dst = mkdtemp_fd(dst_t);
        _cleanup_(pstore_set_freep) PstoreSet *s = NULL;
        static const char raw[] = "Panic#1 Part1\n<0>[   50.054850] Kernel panic - not syncing: sysrq triggered crash\n";
        _cleanup_free_ char *txt = NULL;
        Reports rep = {};

        put_file(src, "dmesg-ramoops-0", raw, strlen(raw), 1712345678);
        ASSERT_TRUE(asprintf(&txt, "dmesg-ramoops-0:\n%s", raw) > 0);
        put_file(src, "dmesg.txt", txt, strlen(txt), 1712345700);

        ASSERT_OK(pstore_scan(src, &s));
        ASSERT_EQ(s->n_records, 2);
        ASSERT_EQ(s->skipped, 0);
        ASSERT_EQ(s->n_dumps, 1);
        ASSERT_OK(pstore_set_classify(s, 0, on_report, &rep));
        ASSERT_EQ(rep.n, 1); /* the dump; dmesg.txt duplicates it */
        ASSERT_OK(pstore_collect_all(src, s, dst, 0, NULL));
        ASSERT_TRUE(file_is(dst, "dmesg-ramoops-0", raw, strlen(raw)));
        ASSERT_TRUE(file_is(dst, "dmesg.txt", txt, strlen(txt)));
        ASSERT_EQ(count_entries(src, "."), 0);
        pstore_set_free(TAKE_PTR(s));

        /* Alone (its raw record gone): the reassembly is the crash's only text, and is read. */
        put_file(src, "dmesg.txt", txt, strlen(txt), 1712345700);
        rep = (Reports){};
        ASSERT_OK(pstore_scan(src, &s));
        ASSERT_EQ(s->n_records, 1);
        ASSERT_OK(pstore_set_classify(s, 0, on_report, &rep));
        ASSERT_EQ(rep.n, 1);
        rm_rf(src_t);
        rm_rf(dst_t);
}

static void test_collect_keep_clash_and_resume(void)
{
        char src_t[] = "/tmp/test-pstore-src-XXXXXX", dst_t[] = "/tmp/test-pstore-dst-XXXXXX";
        _cleanup_close_ int src = make_sysfs_pstore(src_t), dst = mkdtemp_fd(dst_t);
        _cleanup_(pstore_set_freep) PstoreSet *s = NULL;

        /* an older, different record of the same name already collected */
        put_file(dst, "console-ramoops-0", "older boot\n", 11, 1);

        ASSERT_OK(pstore_scan(src, &s));
        ASSERT_OK(pstore_collect_all(src, s, dst, PSTORE_COLLECT_KEEP, NULL));
        ASSERT_EQ(count_entries(src, "."), 5); /* KEEP */
        ASSERT_TRUE(file_is(dst, "console-ramoops-0", "older boot\n", 11));
        ASSERT_TRUE(file_is(dst, "console-ramoops-0.1", console, strlen(console)));
        ASSERT_TRUE(file_is(dst, "dmesg-ramoops-2.enc.z", compressed, sizeof compressed - 1)); /* as it is */

        /* as if the daemon died after copying, before unlinking: the next run finds identical copies */
        s = pstore_set_free(s);
        ASSERT_OK(pstore_scan(src, &s));
        ASSERT_OK(pstore_collect_all(src, s, dst, 0, NULL));
        ASSERT_EQ(count_entries(src, "."), 0);
        ASSERT_EQ(count_entries(dst, "."), 6); /* 5 records + the older console record, no duplicates */
        for (size_t i = 0; i < s->n_records; i++)
                if (streq(s->records[i].name, "console-ramoops-0"))
                        ASSERT_STREQ(s->records[i].collected_as, "console-ramoops-0.1");
        rm_rf(src_t);
        rm_rf(dst_t);
}

typedef struct Faults {
        size_t write_budget; /* bytes before writes fail with ENOSPC */
        bool fail_fsync;
        bool corrupt;
} Faults;

static ssize_t faulty_write(int fd, const void *buf, size_t n, void *userdata)
{
        Faults *f = userdata;
        char copy[65536];

        if (f->corrupt) {
                /* the disk lies: says it wrote what it did not */
                size_t k = MIN(n, sizeof copy);
                memcpy(copy, buf, k);
                copy[0] ^= 0x20;
                return write(fd, copy, k);
        }
        if (f->write_budget == 0) {
                errno = ENOSPC;
                return -1;
        }
        n = MIN(n, f->write_budget);
        f->write_budget -= n;
        return write(fd, buf, n);
}

static int faulty_fsync(int fd, void *userdata)
{
        Faults *f = userdata;
        if (f->fail_fsync)
                return -EIO;
        return fsync(fd) < 0 ? -errno : 0;
}

/* Whatever fails, the source is untouched and the destination holds no partial copy. */
static void test_collect_failures(void)
{
        static const struct {
                Faults f;
                int expect;
        } t[] = {
                { { .write_budget = 100 }, -ENOSPC },
                { { .write_budget = 0 }, -ENOSPC },
                { { .write_budget = SIZE_MAX, .fail_fsync = true }, -EIO },
                { { .corrupt = true }, -EIO },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char src_t[] = "/tmp/test-pstore-src-XXXXXX", dst_t[] = "/tmp/test-pstore-dst-XXXXXX";
                _cleanup_close_ int src = make_sysfs_pstore(src_t), dst = mkdtemp_fd(dst_t);
                _cleanup_(pstore_set_freep) PstoreSet *s = NULL;
                Faults f = t[i].f;
                PstoreIO io = { .write = faulty_write, .fsync = faulty_fsync, .userdata = &f };

                ASSERT_OK(pstore_scan(src, &s));
                ASSERT_EQ(pstore_collect_all(src, s, dst, 0, &io), t[i].expect);
                ASSERT_TRUE(file_is(src, "dmesg-ramoops-0", part1, strlen(part1)));
                ASSERT_TRUE(file_is(src, "dmesg-ramoops-1", part2, strlen(part2)));
                ASSERT_TRUE(file_is(src, "console-ramoops-0", console, strlen(console)));
                for (size_t k = 0; k < s->n_records; k++) {
                        ASSERT_TRUE(!s->records[k].collected || t[i].f.write_budget == 100);
                        if (!s->records[k].collected)
                                ASSERT_EQ(s->records[k].collect_error, t[i].expect);
                }
                /* with a budget of 100 bytes, the small records fit and were collected: those, and
                 * nothing else (no temporary files), are in the destination */
                {
                        unsigned collected = 0;
                        for (size_t k = 0; k < s->n_records; k++)
                                collected += s->records[k].collected;
                        ASSERT_EQ(count_entries(dst, "."), collected);
                        ASSERT_EQ(count_entries(src, "."), 5 - collected);
                }
                rm_rf(src_t);
                rm_rf(dst_t);
        }
}

/* A real full disk: a 16 KiB tmpfs as the destination of a 64 KiB record. */
static void test_collect_enospc_tmpfs(void)
{
        char src_t[] = "/tmp/test-pstore-src-XXXXXX", dst_t[] = "/tmp/test-pstore-full-XXXXXX";
        _cleanup_close_ int src = mkdtemp_fd(src_t), dst = -1;
        _cleanup_(pstore_set_freep) PstoreSet *s = NULL;
        _cleanup_free_ char *big = malloc(65536);

        ASSERT_TRUE(big);
        ASSERT_TRUE(mkdtemp(dst_t));
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", dst_t, "tmpfs", MS_NOSUID | MS_NODEV, "size=16k,mode=0700") < 0) {
                printf("note: no tiny tmpfs here (%s): the injected ENOSPC above covers this\n", strerror(errno));
                rmdir(dst_t);
                rm_rf(src_t);
                return;
        }
        dst = open(dst_t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(dst >= 0);
        for (size_t i = 0; i < 65536; i++)
                big[i] = (char)('a' + i % 26);
        memcpy(big, "Panic#1 Part1\n", 14);
        put_file(src, "dmesg-ramoops-0", big, 65536, 1763778000);

        ASSERT_OK(pstore_scan(src, &s));
        ASSERT_EQ(pstore_collect_all(src, s, dst, 0, NULL), -ENOSPC);
        ASSERT_TRUE(file_is(src, "dmesg-ramoops-0", big, 65536));
        ASSERT_EQ(count_entries(dst, "."), 0);
        dst = safe_close(dst);
        ASSERT_OK(umount(dst_t));
        rmdir(dst_t);
        rm_rf(src_t);
}

static void test_scan_missing(void)
{
        PstoreSet *s = NULL;
        ASSERT_EQ(pstore_scan_path("/nonexistent/pstore", &s), -ENOENT);
        ASSERT_TRUE(!s);
        /* this host's real one: mounted, no backend, empty; or absent */
        if (pstore_scan_path("/sys/fs/pstore", &s) >= 0) {
                ASSERT_EQ(s->n_dumps, 0);
                s = pstore_set_free(s);
        }
}

int main(void)
{
        test_parse_name();
        test_parse_header();
        test_scan_sysfs_layout();
        test_reassembly_order();
        test_reassembly_grouping();
        test_systemd_layout_and_collect();
        test_systemd_flat_ramoops();
        test_collect_keep_clash_and_resume();
        test_collect_failures();
        test_scan_missing();
        test_collect_enospc_tmpfs(); /* last: it moves the test into its own mount namespace */
        return 0;
}
