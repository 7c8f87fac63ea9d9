/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Synthetic ELF64 vmcores for tests/unit/test-vmcore.c and the fuzzer's
 * seeds: a VMCOREINFO note and PT_LOAD segments holding a printk ring
 * buffer (or a pre-5.10 log_buf) laid out per the offsets written into
 * VMCOREINFO, which are deliberately not the kernel's own, so a reader that
 * hard-codes a layout fails.
 *
 * Kernel image segment: vaddr SYNTH_KTEXT, paddr 0x1000000 (phys_base 0).
 * Direct-map segment:   vaddr SYNTH_DMAP, paddr SYNTH_DMAP_PHYS.
 */
#pragma once

#include <elf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNTH_KTEXT UINT64_C(0xffffffff81000000)
#define SYNTH_KTEXT_PHYS UINT64_C(0x1000000)
#define SYNTH_PAGE_OFFSET UINT64_C(0xffff888000000000)
#define SYNTH_DMAP_PHYS UINT64_C(0x200000)
#define SYNTH_DMAP (SYNTH_PAGE_OFFSET + SYNTH_DMAP_PHYS)
#define SYNTH_SEG_SIZE 0x800U

#define SYNTH_ID_MASK ((UINT64_C(1) << 62) - 1)
#define SYNTH_SV(id, state) (((uint64_t)(state) << 62) | ((id) & SYNTH_ID_MASK))

/* Where things are in the two segments */
#define SYNTH_PRB_PTR 0x100U  /* kernel image: the prb pointer variable */
#define SYNTH_RB 0x200U       /* kernel image: the printk_ringbuffer */
#define SYNTH_DESCS 0x000U    /* direct map: 8 descriptors */
#define SYNTH_INFOS 0x100U    /* direct map: 8 printk_info */
#define SYNTH_DATA 0x500U     /* direct map: the 256-byte text data ring */
#define SYNTH_COUNT_BITS 3U
#define SYNTH_SIZE_BITS 8U

/* The layout the synthetic VMCOREINFO describes (not the kernel's own). */
#define SYNTH_RB_DESC_RING 8U
#define SYNTH_RB_TEXT_RING 72U
#define SYNTH_DR_COUNT_BITS 0U
#define SYNTH_DR_DESCS 8U
#define SYNTH_DR_INFOS 16U
#define SYNTH_DR_HEAD 24U
#define SYNTH_DR_TAIL 32U
#define SYNTH_TR_SIZE_BITS 4U
#define SYNTH_TR_DATA 8U
#define SYNTH_DESC_SIZE 32U
#define SYNTH_DESC_SV 8U
#define SYNTH_DESC_LPOS 16U
#define SYNTH_INFO_SIZE 96U
#define SYNTH_INFO_SEQ 0U
#define SYNTH_INFO_TS 8U
#define SYNTH_INFO_TEXT_LEN 16U
#define SYNTH_INFO_CALLER 20U

typedef struct SynthCore {
        char info[4096];
        size_t info_len;
        uint8_t ktext[SYNTH_SEG_SIZE];
        uint8_t dmap[SYNTH_SEG_SIZE];
        uint64_t lpos;       /* the data ring's next logical position */
        uint64_t seq;
        bool no_note;        /* leave the VMCOREINFO note out */
        bool physical_only;  /* PT_LOADs with p_vaddr 0: the reader must go through p_paddr */
} SynthCore;

static inline void synth_info(SynthCore *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void synth_info(SynthCore *s, const char *fmt, ...)
{
        va_list ap;
        int l;

        va_start(ap, fmt);
        l = vsnprintf(s->info + s->info_len, sizeof s->info - s->info_len, fmt, ap);
        va_end(ap);
        if (l > 0 && (size_t)l < sizeof s->info - s->info_len)
                s->info_len += (size_t)l;
}

static inline void synth_put64(uint8_t *p, uint64_t v)
{
        memcpy(p, &v, 8);
}
static inline void synth_put32(uint8_t *p, uint32_t v)
{
        memcpy(p, &v, 4);
}
static inline void synth_put16(uint8_t *p, uint16_t v)
{
        memcpy(p, &v, 2);
}

static inline void synth_common_info(SynthCore *s)
{
        synth_info(s, "OSRELEASE=6.1.0-test-amd64\nBUILD-ID=0123456789abcdef\nPAGESIZE=4096\n");
        synth_info(s, "NUMBER(phys_base)=%llu\nNUMBER(page_offset_base)=%llu\n",
                   (unsigned long long)(SYNTH_KTEXT_PHYS - (SYNTH_KTEXT - UINT64_C(0xffffffff80000000))),
                   (unsigned long long)SYNTH_PAGE_OFFSET);
}

/* A printk ring buffer with no records yet; tail and head ids set by the caller. */
static inline void synth_prb_init(SynthCore *s, uint64_t tail_id, uint64_t head_id, uint64_t first_lpos)
{
        uint8_t *rb = s->ktext + SYNTH_RB;

        memset(s, 0, sizeof *s);
        synth_common_info(s);
        synth_info(s, "SYMBOL(prb)=%llx\nSYMBOL(printk_rb_static)=%llx\n",
                   (unsigned long long)(SYNTH_KTEXT + SYNTH_PRB_PTR), (unsigned long long)(SYNTH_KTEXT + SYNTH_RB));
        synth_info(s, "SIZE(printk_ringbuffer)=%u\nOFFSET(printk_ringbuffer.desc_ring)=%u\n"
                      "OFFSET(printk_ringbuffer.text_data_ring)=%u\n",
                   120U, SYNTH_RB_DESC_RING, SYNTH_RB_TEXT_RING);
        synth_info(s, "OFFSET(prb_desc_ring.count_bits)=%u\nOFFSET(prb_desc_ring.descs)=%u\n"
                      "OFFSET(prb_desc_ring.infos)=%u\nOFFSET(prb_desc_ring.head_id)=%u\n"
                      "OFFSET(prb_desc_ring.tail_id)=%u\n",
                   SYNTH_DR_COUNT_BITS, SYNTH_DR_DESCS, SYNTH_DR_INFOS, SYNTH_DR_HEAD, SYNTH_DR_TAIL);
        synth_info(s, "SIZE(prb_desc)=%u\nOFFSET(prb_desc.state_var)=%u\nOFFSET(prb_desc.text_blk_lpos)=%u\n"
                      "OFFSET(prb_data_blk_lpos.begin)=0\nOFFSET(prb_data_blk_lpos.next)=8\n",
                   SYNTH_DESC_SIZE, SYNTH_DESC_SV, SYNTH_DESC_LPOS);
        synth_info(s, "SIZE(printk_info)=%u\nOFFSET(printk_info.seq)=%u\nOFFSET(printk_info.ts_nsec)=%u\n"
                      "OFFSET(printk_info.text_len)=%u\nOFFSET(printk_info.caller_id)=%u\n"
                      "OFFSET(printk_info.dev_info)=32\n",
                   SYNTH_INFO_SIZE, SYNTH_INFO_SEQ, SYNTH_INFO_TS, SYNTH_INFO_TEXT_LEN, SYNTH_INFO_CALLER);
        synth_info(s, "SIZE(prb_data_ring)=32\nOFFSET(prb_data_ring.size_bits)=%u\nOFFSET(prb_data_ring.data)=%u\n"
                      "SIZE(atomic_long_t)=8\nOFFSET(atomic_long_t.counter)=0\n",
                   SYNTH_TR_SIZE_BITS, SYNTH_TR_DATA);

        synth_put64(s->ktext + SYNTH_PRB_PTR, SYNTH_KTEXT + SYNTH_RB);
        synth_put32(rb + SYNTH_RB_DESC_RING + SYNTH_DR_COUNT_BITS, SYNTH_COUNT_BITS);
        synth_put64(rb + SYNTH_RB_DESC_RING + SYNTH_DR_DESCS, SYNTH_DMAP + SYNTH_DESCS);
        synth_put64(rb + SYNTH_RB_DESC_RING + SYNTH_DR_INFOS, SYNTH_DMAP + SYNTH_INFOS);
        synth_put64(rb + SYNTH_RB_DESC_RING + SYNTH_DR_HEAD, head_id);
        synth_put64(rb + SYNTH_RB_DESC_RING + SYNTH_DR_TAIL, tail_id);
        synth_put32(rb + SYNTH_RB_TEXT_RING + SYNTH_TR_SIZE_BITS, SYNTH_SIZE_BITS);
        synth_put64(rb + SYNTH_RB_TEXT_RING + SYNTH_TR_DATA, SYNTH_DMAP + SYNTH_DATA);
        s->lpos = first_lpos;
}

/*
 * Adds record `id` in `state` the way the kernel lays it out: a data block
 * "id, text" at the next logical position, stored at the ring's start when
 * it would reach the ring's end (its id also left at the old position).
 * text NULL: a record without data (NO_LPOS); block_id: the id written in
 * the data block (normally id: a different one means overwritten data).
 */
static inline void synth_prb_record(SynthCore *s, uint64_t sv_id, unsigned state, uint64_t block_id,
                                    uint64_t ts_nsec, const char *text)
{
        const uint64_t size = UINT64_C(1) << SYNTH_SIZE_BITS, mask = size - 1;
        uint64_t idx = sv_id & ((1U << SYNTH_COUNT_BITS) - 1), begin = 3, next = 3;
        uint8_t *desc = s->dmap + SYNTH_DESCS + idx * SYNTH_DESC_SIZE;
        uint8_t *info = s->dmap + SYNTH_INFOS + idx * SYNTH_INFO_SIZE;
        uint8_t *ring = s->dmap + SYNTH_DATA;
        size_t len = text ? strlen(text) : 0;

        if (text) {
                uint64_t bsize = (8 + len + 7) & ~UINT64_C(7), at;

                begin = s->lpos;
                next = begin + bsize;
                if ((begin >> SYNTH_SIZE_BITS) != (next >> SYNTH_SIZE_BITS)) {
                        if ((begin & mask) + 8 <= size)
                                synth_put64(ring + (begin & mask), block_id);
                        next = ((next >> SYNTH_SIZE_BITS) << SYNTH_SIZE_BITS) + bsize;
                        at = 0;
                } else
                        at = begin & mask;
                synth_put64(ring + at, block_id);
                memcpy(ring + at + 8, text, len);
                s->lpos = next;
        }
        memset(desc, 0, SYNTH_DESC_SIZE);
        synth_put64(desc + SYNTH_DESC_SV, SYNTH_SV(sv_id, state));
        synth_put64(desc + SYNTH_DESC_LPOS, begin);
        synth_put64(desc + SYNTH_DESC_LPOS + 8, next);
        memset(info, 0, SYNTH_INFO_SIZE);
        synth_put64(info + SYNTH_INFO_SEQ, s->seq++);
        synth_put64(info + SYNTH_INFO_TS, ts_nsec);
        synth_put16(info + SYNTH_INFO_TEXT_LEN, (uint16_t)len);
        synth_put32(info + SYNTH_INFO_CALLER, 0x80000001U);
}

/*
 * The standard ring buffer of the tests: ids wrap past 2^62, the data ring
 * wraps, one record is reserved (being written), one reusable, one has a
 * data block overwritten by a later record.
 */
#define SYNTH_PRB_TAIL (SYNTH_ID_MASK - 2)
static const char synth_prb_expected[] = "[    0.000000] Linux version 6.1.0-test\n"
                                         "[    1.500000] line one\n"
                                         "               line two\n"
                                         "[   77.101050] Kernel panic - not syncing: sysrq triggered crash\n"
                                         "[   77.200000] \n"
                                         "[12345.000001] after wrap\\x01\n";

static inline void synth_prb_standard(SynthCore *s)
{
        uint64_t t = SYNTH_PRB_TAIL;

        synth_prb_init(s, t, 4, 2 * 256 + 128); /* tail ..2^62-1, 0, .. head 4: 8 ids, all slots */
        synth_prb_record(s, t, 2, t, 0, "Linux version 6.1.0-test");
        synth_prb_record(s, t + 1, 0, t + 1, 1000000000, "partial");             /* reserved */
        synth_prb_record(s, t + 2, 1, t + 2, 1500000000, "line one\nline two\n"); /* committed */
        synth_prb_record(s, 0, 3, 0, 2000000000, NULL);                           /* reusable */
        synth_prb_record(s, 1, 2, 1, 77101050000, "Kernel panic - not syncing: sysrq triggered crash");
        synth_prb_record(s, 2, 2, 2, 77200000000, NULL);                        /* empty line */
        synth_prb_record(s, 3, 2, 99, 77300000000, "overwritten");              /* data block of id 99 */
        synth_prb_record(s, 4, 2, 4, 12345000001000, "after wrap\x01");
}

/* A pre-5.10 log_buf of struct printk_log (header 16: ts_nsec 0, len 8, text_len 10), wrapped. */
#define SYNTH_LOG_BUF_PTR 0x100U
#define SYNTH_LOG_BUF_LEN 0x108U
#define SYNTH_LOG_FIRST 0x10cU
#define SYNTH_LOG_NEXT 0x110U
#define SYNTH_LOG_BUF 0x200U /* in the direct map, 128 bytes */
static const char synth_log_buf_expected[] = "[    2.000000] old record\n"
                                             "[    3.000000] second one here!!\n"
                                             "[    4.000000] third\n";

static inline void synth_log_rec(uint8_t *at, uint64_t ts, uint16_t len, const char *text)
{
        synth_put64(at, ts);
        synth_put16(at + 8, len);
        synth_put16(at + 10, text ? (uint16_t)strlen(text) : 0);
        if (text)
                memcpy(at + 16, text, strlen(text));
}

static inline void synth_log_buf_standard(SynthCore *s)
{
        uint8_t *buf = s->dmap + SYNTH_LOG_BUF;

        memset(s, 0, sizeof *s);
        synth_common_info(s);
        synth_info(s, "SYMBOL(log_buf)=%llx\nSYMBOL(log_buf_len)=%llx\nSYMBOL(log_first_idx)=%llx\n"
                      "SYMBOL(log_next_idx)=%llx\n",
                   (unsigned long long)(SYNTH_KTEXT + SYNTH_LOG_BUF_PTR),
                   (unsigned long long)(SYNTH_KTEXT + SYNTH_LOG_BUF_LEN),
                   (unsigned long long)(SYNTH_KTEXT + SYNTH_LOG_FIRST),
                   (unsigned long long)(SYNTH_KTEXT + SYNTH_LOG_NEXT));
        synth_info(s, "SIZE(printk_log)=16\nOFFSET(printk_log.ts_nsec)=0\nOFFSET(printk_log.len)=8\n"
                      "OFFSET(printk_log.text_len)=10\n");
        synth_put64(s->ktext + SYNTH_LOG_BUF_PTR, SYNTH_DMAP + SYNTH_LOG_BUF);
        synth_put32(s->ktext + SYNTH_LOG_BUF_LEN, 128);
        synth_put32(s->ktext + SYNTH_LOG_FIRST, 72);
        synth_put32(s->ktext + SYNTH_LOG_NEXT, 64);
        synth_log_rec(buf + 72, 2000000000, 32, "old record");
        synth_log_rec(buf + 104, 0, 0, NULL); /* wrap marker */
        synth_log_rec(buf + 0, 3000000000, 40, "second one here!!");
        synth_log_rec(buf + 40, 4000000000, 24, "third");
}

/* The ELF64 core: header, PT_NOTE (a CORE note, then VMCOREINFO), two PT_LOADs. malloc'd. */
static inline uint8_t *synth_core_build(const SynthCore *s, size_t *ret_size)
{
        static const char core_name[] = "CORE";
        const size_t n_ph = 3, note_desc = 336 /* like an NT_PRSTATUS */;
        size_t notes_size, off_notes, off_k, off_d, size;
        Elf64_Ehdr eh = {};
        Elf64_Phdr ph[3] = {};
        Elf64_Nhdr nh;
        uint8_t *buf, *p;

        notes_size = sizeof nh + 8 + note_desc;
        if (!s->no_note)
                notes_size += sizeof nh + 12 + ((s->info_len + 3) & ~(size_t)3);
        off_notes = sizeof eh + n_ph * sizeof(Elf64_Phdr);
        off_k = (off_notes + notes_size + 15) & ~(size_t)15;
        off_d = off_k + SYNTH_SEG_SIZE;
        size = off_d + SYNTH_SEG_SIZE;
        buf = calloc(1, size);
        if (!buf)
                abort();

        memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS64;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_ident[EI_VERSION] = EV_CURRENT;
        eh.e_type = ET_CORE;
        eh.e_machine = EM_X86_64;
        eh.e_version = EV_CURRENT;
        eh.e_phoff = sizeof eh;
        eh.e_ehsize = sizeof eh;
        eh.e_phentsize = sizeof(Elf64_Phdr);
        eh.e_phnum = (Elf64_Half)n_ph;
        memcpy(buf, &eh, sizeof eh);

        ph[0] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = off_notes, .p_filesz = notes_size, .p_memsz = notes_size };
        ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W | PF_X, .p_offset = off_k,
                              .p_vaddr = s->physical_only ? 0 : SYNTH_KTEXT, .p_paddr = SYNTH_KTEXT_PHYS,
                              .p_filesz = SYNTH_SEG_SIZE, .p_memsz = SYNTH_SEG_SIZE };
        ph[2] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W | PF_X, .p_offset = off_d,
                              .p_vaddr = s->physical_only ? 0 : SYNTH_DMAP, .p_paddr = SYNTH_DMAP_PHYS,
                              .p_filesz = SYNTH_SEG_SIZE, .p_memsz = SYNTH_SEG_SIZE };
        memcpy(buf + sizeof eh, ph, sizeof ph);

        p = buf + off_notes;
        nh = (Elf64_Nhdr){ .n_namesz = sizeof core_name, .n_descsz = (Elf64_Word)note_desc, .n_type = NT_PRSTATUS };
        memcpy(p, &nh, sizeof nh);
        memcpy(p + sizeof nh, core_name, sizeof core_name);
        p += sizeof nh + 8 + note_desc;
        if (!s->no_note) {
                nh = (Elf64_Nhdr){ .n_namesz = 11, .n_descsz = (Elf64_Word)s->info_len, .n_type = 0 };
                memcpy(p, &nh, sizeof nh);
                memcpy(p + sizeof nh, "VMCOREINFO", 11);
                memcpy(p + sizeof nh + 12, s->info, s->info_len);
        }
        memcpy(buf + off_k, s->ktext, SYNTH_SEG_SIZE);
        memcpy(buf + off_d, s->dmap, SYNTH_SEG_SIZE);
        *ret_size = size;
        return buf;
}
