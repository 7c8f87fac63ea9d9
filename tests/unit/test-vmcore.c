/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmcore: synthetic ELF64 crash dumps (tests/vmcore-synth.h) with a printk
 * ring buffer whose ids wrap past 2^62, whose data ring wraps, with
 * reserved, reusable, stale and overwritten records to skip; the pre-5.10
 * log_buf; translation through p_paddr when p_vaddr is not set; the exact
 * text. Then corrupt input: every truncation, every byte overwritten,
 * missing note, missing keys, addresses outside the segments, absurd sizes:
 * errors with an explanation, never a crash (run it under ASan).
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "test-util.h"
#include "vmcore-synth.h"
#include "vmcore.h"

static int read_buf(const uint8_t *buf, size_t size, VmcoreDmesg *d, char **why)
{
        *why = NULL;
        return vmcore_dmesg_read_buffer(buf, size, d, why);
}

static void check_text(const SynthCore *s, const char *expected, size_t records)
{
        size_t size;
        _cleanup_free_ uint8_t *buf = synth_core_build(s, &size);
        _cleanup_free_ char *why = NULL;
        VmcoreDmesg d = {};
        int r = read_buf(buf, size, &d, &why);

        if (r < 0)
                TEST_FAIL("vmcore_dmesg_read_buffer: %s: %s", strerror(-r), strna(why));
        ASSERT_STREQ(d.text, expected);
        ASSERT_EQ(d.text_len, strlen(expected));
        ASSERT_EQ(d.records, records);
        ASSERT_STREQ(d.osrelease, "6.1.0-test-amd64");
        ASSERT_TRUE(!why);
        vmcore_dmesg_done(&d);
}

static void expect_error(const uint8_t *buf, size_t size, int error, const char *why_part)
{
        _cleanup_free_ char *why = NULL;
        VmcoreDmesg d = {};
        int r = read_buf(buf, size, &d, &why);

        if (r >= 0)
                TEST_FAIL("expected %s (%s), got the text:\n%s", strerror(-error), why_part, d.text);
        if (r != error)
                TEST_FAIL("expected %s, got %s: %s", strerror(-error), strerror(-r), strna(why));
        ASSERT_CONTAINS(why, why_part);
        ASSERT_TRUE(!d.text);
}

static void expect_error_core(const SynthCore *s, int error, const char *why_part)
{
        size_t size;
        _cleanup_free_ uint8_t *buf = synth_core_build(s, &size);
        expect_error(buf, size, error, why_part);
}

static void test_prb(void)
{
        SynthCore s;

        synth_prb_standard(&s);
        check_text(&s, synth_prb_expected, 5);

        /* the same through p_paddr, phys_base and page_offset_base */
        s.physical_only = true;
        check_text(&s, synth_prb_expected, 5);
}

static void test_prb_skips(void)
{
        SynthCore s;
        size_t size;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_free_ char *why = NULL;
        VmcoreDmesg d = {};

        /* 8 ids in the walk, 5 printed: reserved, reusable, overwritten skipped */
        synth_prb_standard(&s);
        buf = synth_core_build(&s, &size);
        ASSERT_OK(read_buf(buf, size, &d, &why));
        ASSERT_EQ(d.skipped, 3);
        ASSERT_EQ(d.lines, 6);
        ASSERT_EQ(d.format, VMCORE_LOG_PRINTK_RINGBUFFER);
        ASSERT_TRUE(!d.truncated);
        vmcore_dmesg_done(&d);

        /* a descriptor whose state_var carries another id (from the previous lap) is not the record */
        synth_put64(s.dmap + SYNTH_DESCS + 5 * SYNTH_DESC_SIZE + SYNTH_DESC_SV, SYNTH_SV(SYNTH_PRB_TAIL - 8, 2));
        check_text(&s, strstr(synth_prb_expected, "[    1.5"), 4);

        /* a failed reservation (FAILED_LPOS) is not printed */
        synth_prb_standard(&s);
        synth_put64(s.dmap + SYNTH_DESCS + 4 * SYNTH_DESC_SIZE + SYNTH_DESC_LPOS, 1);
        synth_put64(s.dmap + SYNTH_DESCS + 4 * SYNTH_DESC_SIZE + SYNTH_DESC_LPOS + 8, 1);
        {
                char exp[sizeof synth_prb_expected];
                strcpy(exp, synth_prb_expected);
                *strstr(exp, "[12345") = 0;
                check_text(&s, exp, 4);
        }

        /* an empty ring: head == tail and that record reusable */
        synth_prb_init(&s, 7, 7, 0);
        synth_prb_record(&s, 7, 3, 7, 0, NULL);
        check_text(&s, "", 0);

        /* head far ahead of tail (a corrupt tail): the newest ring's worth of ids is read */
        synth_prb_standard(&s);
        synth_put64(s.ktext + SYNTH_RB + SYNTH_RB_DESC_RING + SYNTH_DR_TAIL, 12345);
        check_text(&s, synth_prb_expected, 5);

        /* text_len beyond the block: cut to the block's data */
        synth_prb_standard(&s);
        synth_put16(s.dmap + SYNTH_INFOS + 4 * SYNTH_INFO_SIZE + SYNTH_INFO_TEXT_LEN, 60000);
        {
                _cleanup_free_ uint8_t *b = NULL;
                VmcoreDmesg e = {};
                char *w = NULL;

                b = synth_core_build(&s, &size);
                ASSERT_OK(read_buf(b, size, &e, &w));
                ASSERT_CONTAINS(e.text, "[12345.000001] after wrap\\x01\\x00"); /* the block's padding */
                vmcore_dmesg_done(&e);
        }
}

static void test_log_buf(void)
{
        SynthCore s;
        size_t size;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_free_ char *why = NULL;
        VmcoreDmesg d = {};

        synth_log_buf_standard(&s);
        check_text(&s, synth_log_buf_expected, 3);
        buf = synth_core_build(&s, &size);
        ASSERT_OK(read_buf(buf, size, &d, &why));
        ASSERT_EQ(d.format, VMCORE_LOG_LOG_BUF);
        vmcore_dmesg_done(&d);

        /* a record length that runs past the buffer */
        synth_put16(s.dmap + SYNTH_LOG_BUF + 40 + 8, 200);
        expect_error_core(&s, -EBADMSG, "log_buf record at index 40");

        /* records that never reach log_next_idx */
        synth_log_buf_standard(&s);
        synth_put32(s.ktext + SYNTH_LOG_NEXT, 60);
        expect_error_core(&s, -EBADMSG, "log_buf");
}

static void test_fd(void)
{
        SynthCore s;
        size_t size, len = 0;
        _cleanup_free_ uint8_t *buf = NULL;
        _cleanup_free_ char *text = NULL, *why = NULL;
        _cleanup_close_ int fd = memfd_create("vmcore", MFD_CLOEXEC);

        ASSERT_TRUE(fd >= 0);
        synth_prb_standard(&s);
        buf = synth_core_build(&s, &size);
        ASSERT_EQ(write(fd, buf, size), (ssize_t)size);
        ASSERT_OK(vmcore_read_dmesg(fd, &text, &len, &why));
        ASSERT_STREQ(text, synth_prb_expected);
        ASSERT_EQ(len, strlen(synth_prb_expected));

        /* truncated: the data ring's segment cut short */
        ASSERT_OK(ftruncate(fd, (off_t)(size - SYNTH_SEG_SIZE + SYNTH_DATA + 16)));
        free(text);
        text = NULL;
        ASSERT_EQ(vmcore_read_dmesg(fd, &text, &len, &why), -EBADMSG);
        ASSERT_CONTAINS(why, "truncated");
        ASSERT_CONTAINS(why, "prb->text_data_ring.data");
        ASSERT_TRUE(!text);
}

static void test_errors(void)
{
        SynthCore s;
        size_t size;
        _cleanup_free_ uint8_t *buf = NULL;

        expect_error((const uint8_t *)"", 0, -EBADMSG, "truncated");
        expect_error((const uint8_t *)"#!/bin/sh\necho hello\n", 21, -EBADMSG, "not an ELF file");

        synth_prb_standard(&s);
        buf = synth_core_build(&s, &size);
        buf[EI_CLASS] = ELFCLASS32;
        expect_error(buf, size, -EBADMSG, "not an ELF64 core");
        buf[EI_CLASS] = ELFCLASS64;
        buf[EI_DATA] = ELFDATA2MSB;
        expect_error(buf, size, -EOPNOTSUPP, "big-endian");
        buf[EI_DATA] = ELFDATA2LSB;
        buf[offsetof(Elf64_Ehdr, e_type)] = ET_EXEC;
        expect_error(buf, size, -EBADMSG, "not a core");
        buf[offsetof(Elf64_Ehdr, e_type)] = ET_CORE;
        buf[offsetof(Elf64_Ehdr, e_phoff) + 3] = 0x10; /* program headers past the end */
        expect_error(buf, size, -EBADMSG, "program headers");

        /* no VMCOREINFO */
        synth_prb_standard(&s);
        s.no_note = true;
        expect_error_core(&s, -ENOMSG, "no VMCOREINFO note");

        /* VMCOREINFO without any log */
        memset(&s, 0, sizeof s);
        synth_common_info(&s);
        expect_error_core(&s, -EOPNOTSUPP, "neither SYMBOL(prb)");

        /* a key missing: named */
        synth_prb_standard(&s);
        {
                char *k = strstr(s.info, "OFFSET(prb_desc_ring.infos)");
                ASSERT_TRUE(k);
                k[0] = 'X';
        }
        expect_error_core(&s, -EOPNOTSUPP, "OFFSET(prb_desc_ring.infos) missing in VMCOREINFO");

        /* a key that is no number */
        synth_prb_standard(&s);
        {
                char *k = strstr(s.info, "SIZE(prb_desc)=");
                ASSERT_TRUE(k);
                k[strlen("SIZE(prb_desc)=")] = 'z';
        }
        expect_error_core(&s, -EBADMSG, "SIZE(prb_desc) in VMCOREINFO is not a number");

        /* offsets beyond the structure's size */
        synth_prb_standard(&s);
        {
                char *k = strstr(s.info, "SIZE(printk_info)=96\n");
                ASSERT_TRUE(k);
                k[strlen("SIZE(printk_info)=")] = '1'; /* 16: text_len at 16 is outside */
        }
        expect_error_core(&s, -EBADMSG, "printk_info fields beyond SIZE(printk_info)");

        /* prb pointing nowhere */
        synth_prb_standard(&s);
        synth_put64(s.ktext + SYNTH_PRB_PTR, UINT64_C(0xffffc90000000000));
        expect_error_core(&s, -ENXIO, "address 0xffffc90000000008 (prb->desc_ring.count_bits) not in any PT_LOAD");

        /* descs pointing nowhere */
        synth_prb_standard(&s);
        synth_put64(s.ktext + SYNTH_RB + SYNTH_RB_DESC_RING + SYNTH_DR_DESCS, UINT64_C(0xffff888100000000));
        expect_error_core(&s, -ENXIO, "not in any PT_LOAD");

        /* a data ring reaching past its segment */
        synth_prb_standard(&s);
        synth_put32(s.ktext + SYNTH_RB + SYNTH_RB_TEXT_RING + SYNTH_TR_SIZE_BITS, 12);
        expect_error_core(&s, -ENXIO, "prb->text_data_ring.data");

        /* absurd sizes */
        synth_prb_standard(&s);
        synth_put32(s.ktext + SYNTH_RB + SYNTH_RB_DESC_RING + SYNTH_DR_COUNT_BITS, 40);
        expect_error_core(&s, -EFBIG, "count_bits=40");
        synth_prb_standard(&s);
        synth_put32(s.ktext + SYNTH_RB + SYNTH_RB_DESC_RING + SYNTH_DR_COUNT_BITS, 9);
        expect_error_core(&s, -EBADMSG, "count_bits=9 exceeds prb->text_data_ring.size_bits=8");
        synth_prb_standard(&s);
        synth_put32(s.ktext + SYNTH_RB + SYNTH_RB_TEXT_RING + SYNTH_TR_SIZE_BITS, 31);
        expect_error_core(&s, -EFBIG, "size_bits=31");
        synth_prb_standard(&s);
        synth_put32(s.ktext + SYNTH_RB + SYNTH_RB_TEXT_RING + SYNTH_TR_SIZE_BITS, 2);
        expect_error_core(&s, -EBADMSG, "size_bits=2");
}

/* Every prefix of a core: an error saying why, or (when only unused bytes are cut) the full text. */
static void test_truncations(const SynthCore *s, const char *expected)
{
        size_t size;
        _cleanup_free_ uint8_t *buf = synth_core_build(s, &size);
        unsigned errors = 0;

        for (size_t n = 0; n < size; n++) {
                _cleanup_free_ char *why = NULL;
                _cleanup_free_ uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
                VmcoreDmesg d = {};
                int r;

                ASSERT_TRUE(copy);
                memcpy(copy, buf, n);
                r = read_buf(copy, n, &d, &why);
                if (r < 0) {
                        ASSERT_TRUE(why && why[0]);
                        errors++;
                } else
                        ASSERT_STREQ(d.text, expected);
                vmcore_dmesg_done(&d);
        }
        ASSERT_TRUE(errors > size / 2);
}

/* Every byte overwritten with a few values: never a crash; a failure always explained. */
static void test_corruption(const SynthCore *s)
{
        static const uint8_t values[] = { 0x00, 0xff, 0x80, 0x07 };
        size_t size;
        _cleanup_free_ uint8_t *buf = synth_core_build(s, &size);

        for (size_t i = 0; i < size; i++)
                for (size_t v = 0; v < ELEMENTSOF(values); v++) {
                        _cleanup_free_ char *why = NULL;
                        VmcoreDmesg d = {};
                        uint8_t saved = buf[i];
                        int r;

                        buf[i] = values[v];
                        r = read_buf(buf, size, &d, &why);
                        buf[i] = saved;
                        if (r < 0)
                                ASSERT_TRUE(why && why[0]);
                        else
                                ASSERT_TRUE(d.text && strlen(d.text) == d.text_len);
                        vmcore_dmesg_done(&d);
                }
}

int main(void)
{
        SynthCore s;

        test_prb();
        test_prb_skips();
        test_log_buf();
        test_fd();
        test_errors();

        synth_prb_standard(&s);
        test_truncations(&s, synth_prb_expected);
        test_corruption(&s);
        synth_log_buf_standard(&s);
        test_truncations(&s, synth_log_buf_expected);
        test_corruption(&s);
        return 0;
}
