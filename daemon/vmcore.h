/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmcore: the kernel log of a crashed kernel, read from its ELF64 core
 * (/proc/vmcore in a kdump crash kernel, or a copy of it), the way
 * vmcore-dmesg and makedumpfile --dump-dmesg do.
 *
 * The core's PT_NOTE segments carry the VMCOREINFO note: "KEY=VALUE" lines
 * the crashed kernel wrote about itself (SYMBOL(prb)=ffffffff..., OFFSET(
 * printk_ringbuffer.desc_ring)=0, SIZE(printk_info)=88, NUMBER(phys_base)=…).
 * Its PT_LOAD segments map kernel virtual addresses (p_vaddr: the kernel
 * image and the direct map) to file offsets. With those, the log is found
 * without vmlinux or debug information:
 *
 *   Linux 5.10+: the lockless printk ring buffer. prb points to a
 *   printk_ringbuffer; its desc_ring holds 2^count_bits descriptors (state
 *   in the top two bits of state_var, the id in the rest) and as many
 *   printk_info (seq, ts_nsec, text_len, caller_id); its text_data_ring is
 *   2^size_bits bytes of blocks, each "unsigned long id; char text[]",
 *   addressed by logical positions that keep counting across wraps.
 *   Descriptors tail_id..head_id in the committed or finalized state are
 *   the log.
 *
 *   Before 5.10: log_buf, a char array of variable-length printk_log
 *   records from log_first_idx to log_next_idx (a record of length 0 means
 *   "continue at the start").
 *
 * Output: one line "[%5llu.%06llu] text" per record, the way dmesg prints
 * it; a record's embedded newlines start continuation lines indented under
 * its text; bytes that are not printable ASCII are written as \xNN.
 *
 * Nothing in a core is trusted: every address, offset, size and length is
 * bounds-checked, and the sizes read are capped (VMCORE_*_MAX).
 */
#pragma once

#include <stdint.h>

#include "util.h"

#define VMCORE_PHDRS_MAX 65535U                  /* program headers read */
#define VMCORE_NOTES_MAX (16U * 1024 * 1024)     /* bytes of PT_NOTE segments read */
#define VMCORE_INFO_MAX (1U * 1024 * 1024)       /* bytes of the VMCOREINFO note (the kernel's is one page) */
#define VMCORE_RING_MAX (32U * 1024 * 1024)      /* bytes of log ring (text data ring or log_buf) read */
#define VMCORE_DESC_BITS_MAX 22U                 /* 2^22 descriptors at most */
#define VMCORE_DESCS_MAX (256U * 1024 * 1024)    /* bytes of descriptors and printk_info together */
#define VMCORE_TEXT_MAX (48U * 1024 * 1024)      /* bytes of formatted output (a full 32 MiB ring prints ~1.5 times its size) */

typedef enum VmcoreLogFormat {
        VMCORE_LOG_PRINTK_RINGBUFFER, /* Linux 5.10+ */
        VMCORE_LOG_LOG_BUF,           /* Linux 3.5 .. 5.9 */
        _VMCORE_LOG_FORMAT_MAX,
} VmcoreLogFormat;

const char *vmcore_log_format_to_string(VmcoreLogFormat f); /* "printk_ringbuffer", "log_buf" */

typedef struct VmcoreDmesg {
        char *text; /* NUL-terminated; text_len bytes without the NUL */
        size_t text_len;
        size_t records; /* records printed */
        size_t lines;   /* lines printed (continuation lines included) */
        size_t skipped; /* descriptors in the walk that were not printed: reserved, reusable, stale, bad data */
        VmcoreLogFormat format;
        char *osrelease; /* VMCOREINFO's OSRELEASE=, or NULL */
        bool truncated;  /* output stopped at VMCORE_TEXT_MAX */
} VmcoreDmesg;

void vmcore_dmesg_done(VmcoreDmesg *d);

/*
 * Reads the log from the ELF64 core open on fd (read with pread: the file
 * position is not used). On failure returns a negative errno and, if
 * ret_why is not NULL, a sentence saying what was missing or wrong
 * ("no VMCOREINFO note", "address 0xffff888003a00000 (prb->desc_ring.descs)
 * not in any PT_LOAD", …), which the caller frees:
 *   -EBADMSG    not an ELF64 core, or corrupt (truncated, out-of-bounds values)
 *   -ENOMSG     no VMCOREINFO note
 *   -EOPNOTSUPP VMCOREINFO describes no log format known here, or a big-endian core
 *   -ENXIO      an address the log needs is in no PT_LOAD segment
 *   -EFBIG      a size beyond the caps above
 *   -ENOMEM, or the errno of a failed read
 */
int vmcore_dmesg_read(int fd, VmcoreDmesg *ret, char **ret_why);
/* The same on a core in memory (tests, fuzzing). */
int vmcore_dmesg_read_buffer(const void *data, size_t size, VmcoreDmesg *ret, char **ret_why);

/* The text only: *ret_text (NUL-terminated) and its length. */
int vmcore_read_dmesg(int fd, char **ret_text, size_t *ret_len, char **ret_why);
