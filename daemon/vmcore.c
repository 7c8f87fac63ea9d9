/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vmcore: the kernel log from an ELF64 core, guided by the VMCOREINFO note
 * (Documentation/admin-guide/kdump/vmcoreinfo.rst) and the layouts of
 * kernel/printk/printk_ringbuffer.h (5.10+) and struct printk_log (before).
 * Written from the kernel's descriptions of those formats.
 */
#include <elf.h>
#include <stdarg.h>

#include "vmcore.h"

/* The lockless ring buffer's descriptor state: the top two bits of state_var. */
#define SV_STATE_SHIFT 62
#define SV_ID_MASK ((UINT64_C(1) << SV_STATE_SHIFT) - 1)
enum {
        DESC_RESERVED = 0,
        DESC_COMMITTED = 1,
        DESC_FINALIZED = 2,
        DESC_REUSABLE = 3,
};
/* A data-less block: begin and next both odd. NO_LPOS: a record without text; FAILED_LPOS: lost. */
#define LPOS_NO_DATA UINT64_C(0x3)
#define BLK_ID_SIZE 8U /* the unsigned long id at the start of each data block */

/* x86_64: the kernel image is mapped at __START_KERNEL_map + (physical - phys_base). */
#define X86_64_START_KERNEL_MAP UINT64_C(0xffffffff80000000)

#define TS_PREFIX_MAX 48
#define DESC_CHUNK_BYTES (256U * 1024) /* descriptors (and infos) read at a time */

static const char *const format_names[_VMCORE_LOG_FORMAT_MAX] = {
        [VMCORE_LOG_PRINTK_RINGBUFFER] = "printk_ringbuffer",
        [VMCORE_LOG_LOG_BUF] = "log_buf",
};

const char *vmcore_log_format_to_string(VmcoreLogFormat f)
{
        return f < _VMCORE_LOG_FORMAT_MAX ? format_names[f] : NULL;
}

typedef struct Load {
        uint64_t vaddr, paddr, offset, filesz, memsz;
} Load;

typedef struct Core {
        int fd;
        const uint8_t *mem; /* or a buffer */
        size_t mem_size;
        Load *loads;
        size_t n_loads;
        char *info; /* the VMCOREINFO note's text, NUL-terminated */
        size_t info_len;
        char *why;
} Core;

static void core_done(Core *c)
{
        free(c->loads);
        free(c->info);
        free(c->why);
}

/* Keeps the first explanation: the innermost failure says the most. */
_printf_(3, 4) static int fail(Core *c, int error, const char *fmt, ...)
{
        va_list ap;

        if (!c->why) {
                va_start(ap, fmt);
                if (vasprintf(&c->why, fmt, ap) < 0)
                        c->why = NULL;
                va_end(ap);
        }
        return error;
}

/* Reads exactly n bytes at file offset off. */
static int core_pread(Core *c, uint64_t off, void *buf, size_t n, const char *what)
{
        size_t got = 0;

        if (n == 0)
                return 0;
        if (c->mem) {
                if (off > c->mem_size || n > c->mem_size - off)
                        return fail(c, -EBADMSG, "core truncated: %s at file offset %" PRIu64 " (%zu bytes) past its end",
                                    what, off, n);
                memcpy(buf, c->mem + off, n);
                return 0;
        }
        if (off > (uint64_t)INT64_MAX - n)
                return fail(c, -EBADMSG, "%s: file offset %" PRIu64 " out of range", what, off);
        while (got < n) {
                ssize_t l = pread(c->fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return fail(c, negative_errno(), "reading %s at file offset %" PRIu64 ": %s", what, off + got,
                                    strerror(errno));
                }
                if (l == 0)
                        return fail(c, -EBADMSG, "core truncated: %s at file offset %" PRIu64 " (%zu bytes) past its end",
                                    what, off, n);
                got += (size_t)l;
        }
        return 0;
}

static uint64_t le64(const uint8_t *p)
{
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return v;
}

static uint32_t le32(const uint8_t *p)
{
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
}

static uint16_t le16(const uint8_t *p)
{
        uint16_t v;
        memcpy(&v, p, sizeof v);
        return v;
}

/* ---- ELF ---- */

static bool note_is_vmcoreinfo(const uint8_t *name, uint32_t namesz)
{
        /* "VMCOREINFO" with its NUL (namesz 11); tolerate a missing NUL */
        return (namesz == 11 && memcmp(name, "VMCOREINFO", 11) == 0) ||
               (namesz == 10 && memcmp(name, "VMCOREINFO", 10) == 0);
}

/* Walks one PT_NOTE segment's notes; takes the first VMCOREINFO. A malformed note ends the walk. */
static int scan_notes(Core *c, const uint8_t *p, size_t n)
{
        size_t i = 0;

        while (n - i >= 12) {
                uint32_t namesz = le32(p + i), descsz = le32(p + i + 4);
                size_t name_off = i + 12, name_len = ((size_t)namesz + 3) & ~(size_t)3, desc_off, desc_len;

                if (name_len > n - name_off)
                        break;
                desc_off = name_off + name_len;
                desc_len = ((size_t)descsz + 3) & ~(size_t)3;
                if (descsz > n - desc_off)
                        break;
                if (namesz == 0 && descsz == 0 && le32(p + i + 8) == 0)
                        break; /* zero padding after the last note */
                if (!c->info && note_is_vmcoreinfo(p + name_off, namesz)) {
                        if (descsz > VMCORE_INFO_MAX)
                                return fail(c, -EFBIG, "VMCOREINFO note of %" PRIu32 " bytes (more than %u)", descsz,
                                            VMCORE_INFO_MAX);
                        c->info = malloc((size_t)descsz + 1);
                        if (!c->info)
                                return -ENOMEM;
                        memcpy(c->info, p + desc_off, descsz);
                        c->info[descsz] = 0;
                        c->info_len = descsz;
                        /* an embedded NUL ends the text */
                        c->info_len = strlen(c->info);
                        return 0;
                }
                if (desc_len > n - desc_off)
                        break;
                i = desc_off + desc_len;
        }
        return 0;
}

static int read_elf(Core *c)
{
        uint8_t eh[sizeof(Elf64_Ehdr)];
        _cleanup_free_ uint8_t *ph = NULL;
        uint64_t phoff, notes_total = 0;
        uint16_t phentsize, phnum;
        int r;

        r = core_pread(c, 0, eh, EI_NIDENT, "the ELF identification");
        if (r < 0)
                return r;
        if (memcmp(eh, ELFMAG, SELFMAG) != 0)
                return fail(c, -EBADMSG, "not an ELF file (no \\177ELF magic)");
        if (eh[EI_CLASS] != ELFCLASS64)
                return fail(c, -EBADMSG, "not an ELF64 core (EI_CLASS %u)", eh[EI_CLASS]);
        if (eh[EI_DATA] != ELFDATA2LSB)
                return fail(c, -EOPNOTSUPP, "big-endian or unknown byte order (EI_DATA %u): only little-endian cores are read",
                            eh[EI_DATA]);
        r = core_pread(c, 0, eh, sizeof eh, "the ELF header");
        if (r < 0)
                return r;
        if (le16(eh + offsetof(Elf64_Ehdr, e_type)) != ET_CORE)
                return fail(c, -EBADMSG, "ELF file is not a core (e_type %u)", le16(eh + offsetof(Elf64_Ehdr, e_type)));
        phoff = le64(eh + offsetof(Elf64_Ehdr, e_phoff));
        phentsize = le16(eh + offsetof(Elf64_Ehdr, e_phentsize));
        phnum = le16(eh + offsetof(Elf64_Ehdr, e_phnum));
        if (phnum == 0)
                return fail(c, -EBADMSG, "ELF core without program headers");
        if (phnum == PN_XNUM)
                return fail(c, -EOPNOTSUPP, "ELF core with extended program header numbering (e_phnum PN_XNUM)");
        if (phentsize != sizeof(Elf64_Phdr))
                return fail(c, -EBADMSG, "e_phentsize %u, expected %zu", phentsize, sizeof(Elf64_Phdr));

        ph = malloc((size_t)phnum * sizeof(Elf64_Phdr));
        if (!ph)
                return -ENOMEM;
        r = core_pread(c, phoff, ph, (size_t)phnum * sizeof(Elf64_Phdr), "the program headers");
        if (r < 0)
                return r;
        c->loads = calloc(phnum, sizeof(Load));
        if (!c->loads)
                return -ENOMEM;

        for (size_t i = 0; i < phnum; i++) {
                const uint8_t *p = ph + i * sizeof(Elf64_Phdr);
                uint32_t type = le32(p + offsetof(Elf64_Phdr, p_type));
                uint64_t off = le64(p + offsetof(Elf64_Phdr, p_offset)),
                         filesz = le64(p + offsetof(Elf64_Phdr, p_filesz));

                if (type == PT_LOAD) {
                        Load *l = &c->loads[c->n_loads];
                        *l = (Load){
                                .vaddr = le64(p + offsetof(Elf64_Phdr, p_vaddr)),
                                .paddr = le64(p + offsetof(Elf64_Phdr, p_paddr)),
                                .offset = off,
                                .filesz = filesz,
                                .memsz = le64(p + offsetof(Elf64_Phdr, p_memsz)),
                        };
                        /* segments that wrap around the address space or the file are corrupt: ignored */
                        if (l->memsz < l->filesz)
                                l->memsz = l->filesz;
                        if (l->vaddr + l->memsz < l->vaddr || l->paddr + l->memsz < l->paddr ||
                            l->offset + l->filesz < l->offset)
                                continue;
                        c->n_loads++;
                } else if (type == PT_NOTE && !c->info) {
                        _cleanup_free_ uint8_t *notes = NULL;

                        if (filesz > VMCORE_NOTES_MAX - notes_total)
                                return fail(c, -EFBIG, "PT_NOTE segments larger than %u bytes", VMCORE_NOTES_MAX);
                        notes_total += filesz;
                        if (filesz == 0)
                                continue;
                        notes = malloc(filesz);
                        if (!notes)
                                return -ENOMEM;
                        r = core_pread(c, off, notes, filesz, "a PT_NOTE segment");
                        if (r < 0)
                                return r;
                        r = scan_notes(c, notes, filesz);
                        if (r < 0)
                                return r;
                }
        }
        if (!c->info)
                return fail(c, -ENOMSG, "no VMCOREINFO note in the core's PT_NOTE segments");
        return 0;
}

/* ---- VMCOREINFO ---- */

/* The value of "KEY=value" at the start of a line, NUL- or newline-terminated; NULL if absent. */
static const char *info_get(const Core *c, const char *key)
{
        size_t kl = strlen(key);

        for (const char *p = c->info; p && *p;) {
                const char *nl = strchr(p, '\n');
                if (strncmp(p, key, kl) == 0 && p[kl] == '=')
                        return p + kl + 1;
                p = nl ? nl + 1 : NULL;
        }
        return NULL;
}

static int parse_u64(const char *v, unsigned base, uint64_t *ret)
{
        uint64_t x = 0;
        size_t digits = 0;

        if (base == 16 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
                v += 2;
        for (; *v && *v != '\n'; v++, digits++) {
                unsigned d;
                if (*v >= '0' && *v <= '9')
                        d = (unsigned)(*v - '0');
                else if (base == 16 && *v >= 'a' && *v <= 'f')
                        d = (unsigned)(*v - 'a' + 10);
                else if (base == 16 && *v >= 'A' && *v <= 'F')
                        d = (unsigned)(*v - 'A' + 10);
                else
                        return -EINVAL;
                if (x > (UINT64_MAX - d) / base)
                        return -ERANGE;
                x = x * base + d;
        }
        if (digits == 0)
                return -EINVAL;
        *ret = x;
        return 0;
}

/* KEY is looked up as written ("SYMBOL(prb)"); SYMBOL values are hex, the rest decimal. */
static int info_u64(Core *c, const char *key, uint64_t *ret)
{
        const char *v = info_get(c, key);

        if (!v)
                return fail(c, -EOPNOTSUPP, "%s missing in VMCOREINFO", key);
        if (parse_u64(v, startswith(key, "SYMBOL(") ? 16 : 10, ret) < 0)
                return fail(c, -EBADMSG, "%s in VMCOREINFO is not a number", key);
        return 0;
}

static bool info_u64_opt(Core *c, const char *key, uint64_t *ret)
{
        const char *v = info_get(c, key);
        return v && parse_u64(v, startswith(key, "SYMBOL(") ? 16 : 10, ret) >= 0;
}

/* OFFSET(a.b) or SIZE(a), which must lie within a structure of at most 64 KiB */
static int info_small(Core *c, const char *key, uint64_t *ret)
{
        int r = info_u64(c, key, ret);
        if (r < 0)
                return r;
        if (*ret > 65536)
                return fail(c, -EBADMSG, "%s=%" PRIu64 " in VMCOREINFO is implausibly large", key, *ret);
        return 0;
}

/* ---- kernel virtual addresses ---- */

static const Load *find_vaddr(const Core *c, uint64_t a)
{
        for (size_t i = 0; i < c->n_loads; i++)
                if (a >= c->loads[i].vaddr && a - c->loads[i].vaddr < c->loads[i].memsz)
                        return &c->loads[i];
        return NULL;
}

static const Load *find_paddr(const Core *c, uint64_t a)
{
        for (size_t i = 0; i < c->n_loads; i++)
                if (a >= c->loads[i].paddr && a - c->loads[i].paddr < c->loads[i].memsz)
                        return &c->loads[i];
        return NULL;
}

/*
 * The segment and the position in it of kernel virtual address a: through
 * p_vaddr; failing that (a core whose segments carry physical addresses
 * only), the kernel image through phys_base and the direct map through
 * page_offset_base, then p_paddr.
 */
static const Load *translate(Core *c, uint64_t a, uint64_t *ret_pos)
{
        const Load *l = find_vaddr(c, a);
        uint64_t phys, base;

        if (l) {
                *ret_pos = a - l->vaddr;
                return l;
        }
        if (a >= X86_64_START_KERNEL_MAP && info_u64_opt(c, "NUMBER(phys_base)", &base))
                phys = a - X86_64_START_KERNEL_MAP + base;
        else if (info_u64_opt(c, "NUMBER(page_offset_base)", &base) && a >= base)
                phys = a - base;
        else
                return NULL;
        l = find_paddr(c, phys);
        if (l)
                *ret_pos = phys - l->paddr;
        return l;
}

static int read_kva(Core *c, uint64_t a, void *buf, size_t n, const char *what)
{
        uint8_t *p = buf;

        while (n > 0) {
                uint64_t pos, chunk;
                const Load *l = translate(c, a, &pos);
                int r;

                if (!l)
                        return fail(c, -ENXIO, "address 0x%" PRIx64 " (%s) not in any PT_LOAD", a, what);
                chunk = MIN((uint64_t)n, l->memsz - pos);
                if (pos < l->filesz) {
                        chunk = MIN(chunk, l->filesz - pos);
                        r = core_pread(c, l->offset + pos, p, (size_t)chunk, what);
                        if (r < 0)
                                return r;
                } else
                        memset(p, 0, (size_t)chunk); /* p_memsz beyond p_filesz reads as zeros */
                p += chunk;
                n -= (size_t)chunk;
                if (n > 0 && a + chunk < a)
                        return fail(c, -ENXIO, "%s wraps around the address space", what);
                a += chunk;
        }
        return 0;
}

static int read_kva_u64(Core *c, uint64_t a, uint64_t *ret, const char *what)
{
        uint8_t b[8];
        int r = read_kva(c, a, b, sizeof b, what);
        if (r >= 0)
                *ret = le64(b);
        return r;
}

static int read_kva_u32(Core *c, uint64_t a, uint32_t *ret, const char *what)
{
        uint8_t b[4];
        int r = read_kva(c, a, b, sizeof b, what);
        if (r >= 0)
                *ret = le32(b);
        return r;
}

/* ---- output ---- */

typedef struct Out {
        char *buf;
        size_t len, cap;
        size_t records, lines, skipped;
        bool truncated;
} Out;

static int out_reserve(Out *o, size_t n)
{
        char *p;
        size_t cap;

        if (n <= o->cap - o->len && o->buf)
                return 0;
        if (n > VMCORE_TEXT_MAX + 4096 - o->len)
                return -EFBIG;
        cap = MAX(o->cap * 2, o->len + n + 1);
        cap = MAX(cap, (size_t)4096);
        cap = MIN(cap, (size_t)VMCORE_TEXT_MAX + 4096 + 1);
        p = realloc(o->buf, cap);
        if (!p)
                return -ENOMEM;
        o->buf = p;
        o->cap = cap;
        return 0;
}

/*
 * One record: "[    5.123456] text", continuation lines (after the text's
 * own newlines) indented under the text, non-printable bytes as \xNN.
 */
static int out_record(Out *o, uint64_t ts_nsec, const uint8_t *text, size_t len)
{
        char prefix[TS_PREFIX_MAX];
        int pl;
        int r;

        if (o->truncated)
                return 0;
        if (o->len >= VMCORE_TEXT_MAX) {
                o->truncated = true;
                return 0;
        }
        /* a newline ending the text is the end of the line, not an empty continuation */
        if (len > 0 && text[len - 1] == '\n')
                len--;
        pl = snprintf(prefix, sizeof prefix, "[%5" PRIu64 ".%06" PRIu64 "] ", ts_nsec / (uint64_t)NSEC_PER_SEC,
                      (ts_nsec % (uint64_t)NSEC_PER_SEC) / (uint64_t)NSEC_PER_USEC);
        /* worst case: every byte escaped as \xNN, every byte a newline with an indent */
        r = out_reserve(o, (size_t)pl + len * ((size_t)pl + 4) + 2);
        if (r == -EFBIG) {
                o->truncated = true;
                return 0;
        }
        if (r < 0)
                return r;
        memcpy(o->buf + o->len, prefix, (size_t)pl);
        o->len += (size_t)pl;
        for (size_t i = 0; i < len; i++) {
                uint8_t ch = text[i];

                if (ch == '\n') {
                        o->buf[o->len++] = '\n';
                        o->lines++;
                        memset(o->buf + o->len, ' ', (size_t)pl);
                        o->len += (size_t)pl;
                } else if (ch == '\t' || (ch >= 0x20 && ch < 0x7f))
                        o->buf[o->len++] = (char)ch;
                else
                        o->len += (size_t)sprintf(o->buf + o->len, "\\x%02x", ch);
        }
        o->buf[o->len++] = '\n';
        o->buf[o->len] = 0;
        o->lines++;
        o->records++;
        return 0;
}

/* ---- Linux 5.10+: the lockless printk ring buffer ---- */

typedef struct PrbLayout {
        uint64_t rb_desc_ring, rb_text_data_ring;
        uint64_t dr_count_bits, dr_descs, dr_infos, dr_head_id, dr_tail_id;
        uint64_t desc_size, desc_state_var, desc_text_blk_lpos;
        uint64_t lpos_begin, lpos_next;
        uint64_t info_size, info_seq, info_ts_nsec, info_text_len, info_caller_id;
        uint64_t data_size_bits, data_data;
        uint64_t counter; /* OFFSET(atomic_long_t.counter), 0 when not given */
} PrbLayout;

static int prb_layout(Core *c, PrbLayout *L)
{
        static const struct {
                const char *key;
                size_t off;
        } keys[] = {
#define K(k, f) { k, offsetof(PrbLayout, f) }
                K("OFFSET(printk_ringbuffer.desc_ring)", rb_desc_ring),
                K("OFFSET(printk_ringbuffer.text_data_ring)", rb_text_data_ring),
                K("OFFSET(prb_desc_ring.count_bits)", dr_count_bits),
                K("OFFSET(prb_desc_ring.descs)", dr_descs),
                K("OFFSET(prb_desc_ring.infos)", dr_infos),
                K("OFFSET(prb_desc_ring.head_id)", dr_head_id),
                K("OFFSET(prb_desc_ring.tail_id)", dr_tail_id),
                K("SIZE(prb_desc)", desc_size),
                K("OFFSET(prb_desc.state_var)", desc_state_var),
                K("OFFSET(prb_desc.text_blk_lpos)", desc_text_blk_lpos),
                K("OFFSET(prb_data_blk_lpos.begin)", lpos_begin),
                K("OFFSET(prb_data_blk_lpos.next)", lpos_next),
                K("SIZE(printk_info)", info_size),
                K("OFFSET(printk_info.seq)", info_seq),
                K("OFFSET(printk_info.ts_nsec)", info_ts_nsec),
                K("OFFSET(printk_info.text_len)", info_text_len),
                K("OFFSET(printk_info.caller_id)", info_caller_id),
                K("OFFSET(prb_data_ring.size_bits)", data_size_bits),
                K("OFFSET(prb_data_ring.data)", data_data),
#undef K
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                int r = info_small(c, keys[i].key, (uint64_t *)((uint8_t *)L + keys[i].off));
                if (r < 0)
                        return r;
        }
        if (!info_u64_opt(c, "OFFSET(atomic_long_t.counter)", &L->counter) || L->counter > 64)
                L->counter = 0;
        /* the fields read must lie inside the entries */
        if (L->desc_state_var + L->counter + 8 > L->desc_size ||
            L->desc_text_blk_lpos + MAX(L->lpos_begin, L->lpos_next) + 8 > L->desc_size)
                return fail(c, -EBADMSG, "VMCOREINFO: prb_desc fields beyond SIZE(prb_desc)=%" PRIu64, L->desc_size);
        if (L->info_seq + 8 > L->info_size || L->info_ts_nsec + 8 > L->info_size ||
            L->info_text_len + 2 > L->info_size || L->info_caller_id + 4 > L->info_size)
                return fail(c, -EBADMSG, "VMCOREINFO: printk_info fields beyond SIZE(printk_info)=%" PRIu64,
                            L->info_size);
        return 0;
}

/* The text of a block per its logical positions, or NULL (FAILED_LPOS, inconsistent positions). */
static const uint8_t *prb_block(const uint8_t *ring, unsigned size_bits, uint64_t begin, uint64_t next,
                                uint64_t id, size_t *ret_size, bool *ret_id_ok)
{
        uint64_t size = UINT64_C(1) << size_bits, mask = size - 1, idx, n;

        *ret_id_ok = true;
        if ((begin & 1) && (next & 1)) {
                if (begin == LPOS_NO_DATA && next == LPOS_NO_DATA) {
                        *ret_size = 0;
                        return (const uint8_t *)"";
                }
                return NULL;
        }
        if ((begin >> size_bits) == (next >> size_bits) && begin < next) {
                idx = begin & mask; /* in one wrap */
                n = next - begin;
        } else if (((begin + size) >> size_bits) == (next >> size_bits)) {
                idx = 0; /* wrapped: the block was written again at the ring's start */
                n = next & mask;
        } else
                return NULL;
        if ((begin % BLK_ID_SIZE) || (next % BLK_ID_SIZE) || n < BLK_ID_SIZE || n > size - idx)
                return NULL;
        *ret_id_ok = (le64(ring + idx) & SV_ID_MASK) == id;
        *ret_size = (size_t)(n - BLK_ID_SIZE);
        return ring + idx + BLK_ID_SIZE;
}

static int read_prb(Core *c, Out *o)
{
        PrbLayout L = {};
        uint64_t prb_sym, prb, dr, tr, descs, infos, head, tail, data, count, n_ids, per_chunk;
        uint32_t count_bits, size_bits;
        _cleanup_free_ uint8_t *ring = NULL, *desc = NULL, *info = NULL;
        int r;

        r = info_u64(c, "SYMBOL(prb)", &prb_sym);
        if (r < 0)
                return r;
        r = prb_layout(c, &L);
        if (r < 0)
                return r;
        /* prb is a pointer to the ring buffer (printk_rb_static, or the dynamic one after log_buf_len=) */
        r = read_kva_u64(c, prb_sym, &prb, "prb");
        if (r < 0)
                return r;
        dr = prb + L.rb_desc_ring;
        tr = prb + L.rb_text_data_ring;
        if ((r = read_kva_u32(c, dr + L.dr_count_bits, &count_bits, "prb->desc_ring.count_bits")) < 0 ||
            (r = read_kva_u64(c, dr + L.dr_descs, &descs, "prb->desc_ring.descs")) < 0 ||
            (r = read_kva_u64(c, dr + L.dr_infos, &infos, "prb->desc_ring.infos")) < 0 ||
            (r = read_kva_u64(c, dr + L.dr_head_id + L.counter, &head, "prb->desc_ring.head_id")) < 0 ||
            (r = read_kva_u64(c, dr + L.dr_tail_id + L.counter, &tail, "prb->desc_ring.tail_id")) < 0 ||
            (r = read_kva_u32(c, tr + L.data_size_bits, &size_bits, "prb->text_data_ring.size_bits")) < 0 ||
            (r = read_kva_u64(c, tr + L.data_data, &data, "prb->text_data_ring.data")) < 0)
                return r;
        if (count_bits > VMCORE_DESC_BITS_MAX)
                return fail(c, -EFBIG, "prb->desc_ring.count_bits=%" PRIu32 " (more than %u)", count_bits,
                            VMCORE_DESC_BITS_MAX);
        if (size_bits < 4 || size_bits > 63 || (UINT64_C(1) << size_bits) > VMCORE_RING_MAX)
                return fail(c, size_bits < 4 ? -EBADMSG : -EFBIG,
                            "prb->text_data_ring.size_bits=%" PRIu32 " (a ring of 16 bytes to %u MiB expected)",
                            size_bits, VMCORE_RING_MAX >> 20);
        if (count_bits > size_bits)
                return fail(c, -EBADMSG,
                            "prb->desc_ring.count_bits=%" PRIu32 " exceeds prb->text_data_ring.size_bits=%" PRIu32,
                            count_bits, size_bits);
        count = UINT64_C(1) << count_bits;
        if (count * (L.desc_size + L.info_size) > VMCORE_DESCS_MAX)
                return fail(c, -EFBIG, "2^%" PRIu32 " descriptors of %" PRIu64 "+%" PRIu64 " bytes (more than %u MiB)",
                            count_bits, L.desc_size, L.info_size, VMCORE_DESCS_MAX >> 20);
        head &= SV_ID_MASK;
        tail &= SV_ID_MASK;

        ring = malloc((size_t)1 << size_bits);
        if (!ring)
                return -ENOMEM;
        r = read_kva(c, data, ring, (size_t)1 << size_bits, "prb->text_data_ring.data");
        if (r < 0)
                return r;

        /* tail_id..head_id, at most one ring of descriptors (the newest ones, if the ids disagree) */
        n_ids = ((head - tail) & SV_ID_MASK) + 1;
        if (n_ids > count) {
                o->skipped += n_ids - count;
                tail = (head - count + 1) & SV_ID_MASK;
                n_ids = count;
        }
        /* consecutive ids are consecutive slots: read them a chunk at a time */
        per_chunk = MAX((uint64_t)1, DESC_CHUNK_BYTES / MAX(L.desc_size, L.info_size));
        desc = malloc((size_t)(MIN(per_chunk, count) * L.desc_size));
        info = malloc((size_t)(MIN(per_chunk, count) * L.info_size));
        if (!desc || !info)
                return -ENOMEM;
        for (uint64_t k = 0, id = tail; k < n_ids;) {
                uint64_t idx0 = id & (count - 1), m = MIN(MIN(per_chunk, n_ids - k), count - idx0);

                r = read_kva(c, descs + idx0 * L.desc_size, desc, (size_t)(m * L.desc_size),
                             "prb->desc_ring.descs[]");
                if (r < 0)
                        return r;
                r = read_kva(c, infos + idx0 * L.info_size, info, (size_t)(m * L.info_size),
                             "prb->desc_ring.infos[]");
                if (r < 0)
                        return r;
                for (uint64_t j = 0; j < m; j++, k++, id = (id + 1) & SV_ID_MASK) {
                        const uint8_t *d = desc + j * L.desc_size, *in = info + j * L.info_size, *text;
                        uint64_t sv = le64(d + L.desc_state_var + L.counter), begin, next;
                        unsigned state = (unsigned)(sv >> SV_STATE_SHIFT);
                        size_t data_size;
                        bool id_ok;

                        if ((sv & SV_ID_MASK) != id || (state != DESC_COMMITTED && state != DESC_FINALIZED)) {
                                o->skipped++; /* another id's (stale or reused), being written, or already free */
                                continue;
                        }
                        begin = le64(d + L.desc_text_blk_lpos + L.lpos_begin);
                        next = le64(d + L.desc_text_blk_lpos + L.lpos_next);
                        text = prb_block(ring, size_bits, begin, next, id, &data_size, &id_ok);
                        if (!text || !id_ok) {
                                o->skipped++; /* lost (FAILED_LPOS), inconsistent, or the data was overwritten */
                                continue;
                        }
                        r = out_record(o, le64(in + L.info_ts_nsec), text,
                                       MIN((size_t)le16(in + L.info_text_len), data_size));
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- before 5.10: log_buf of struct printk_log records ---- */

static int read_log_buf(Core *c, Out *o)
{
        const char *st = "printk_log";
        char key[64];
        uint64_t sym_buf, sym_len, sym_first, sym_next, hdr, off_ts, off_len, off_text_len, buf;
        uint32_t buf_len, first, next;
        _cleanup_free_ uint8_t *ring = NULL;
        int r;

        if ((r = info_u64(c, "SYMBOL(log_buf)", &sym_buf)) < 0 ||
            (r = info_u64(c, "SYMBOL(log_buf_len)", &sym_len)) < 0 ||
            (r = info_u64(c, "SYMBOL(log_first_idx)", &sym_first)) < 0 ||
            (r = info_u64(c, "SYMBOL(log_next_idx)", &sym_next)) < 0)
                return r;
        /* 3.5 .. 3.10 called the record "struct log" */
        if (!info_get(c, "SIZE(printk_log)") && info_get(c, "SIZE(log)"))
                st = "log";
        snprintf(key, sizeof key, "SIZE(%s)", st);
        if ((r = info_small(c, key, &hdr)) < 0)
                return r;
        snprintf(key, sizeof key, "OFFSET(%s.ts_nsec)", st);
        if ((r = info_small(c, key, &off_ts)) < 0)
                return r;
        snprintf(key, sizeof key, "OFFSET(%s.len)", st);
        if ((r = info_small(c, key, &off_len)) < 0)
                return r;
        snprintf(key, sizeof key, "OFFSET(%s.text_len)", st);
        if ((r = info_small(c, key, &off_text_len)) < 0)
                return r;
        if (off_ts + 8 > hdr || off_len + 2 > hdr || off_text_len + 2 > hdr)
                return fail(c, -EBADMSG, "VMCOREINFO: %s fields beyond SIZE(%s)=%" PRIu64, st, st, hdr);

        if ((r = read_kva_u64(c, sym_buf, &buf, "log_buf")) < 0 ||
            (r = read_kva_u32(c, sym_len, &buf_len, "log_buf_len")) < 0 ||
            (r = read_kva_u32(c, sym_first, &first, "log_first_idx")) < 0 ||
            (r = read_kva_u32(c, sym_next, &next, "log_next_idx")) < 0)
                return r;
        if (buf_len == 0 || buf_len > VMCORE_RING_MAX)
                return fail(c, buf_len ? -EFBIG : -EBADMSG, "log_buf_len=%" PRIu32 " (1 byte to %u MiB expected)",
                            buf_len, VMCORE_RING_MAX >> 20);
        if (first >= buf_len || next > buf_len)
                return fail(c, -EBADMSG, "log_first_idx=%" PRIu32 " or log_next_idx=%" PRIu32
                            " outside log_buf_len=%" PRIu32, first, next, buf_len);
        ring = malloc(buf_len);
        if (!ring)
                return -ENOMEM;
        r = read_kva(c, buf, ring, buf_len, "*log_buf");
        if (r < 0)
                return r;

        /* every record is at least a header long: that bounds the walk (one wrap marker more) */
        for (uint64_t idx = first, steps = 0; idx != next; steps++) {
                uint16_t len, text_len;

                if (steps > buf_len / hdr + 1)
                        return fail(c, -EBADMSG, "log_buf records do not lead from log_first_idx to log_next_idx");
                if (idx + hdr > buf_len) {
                        idx = 0; /* no room for a header: the writer wrapped */
                        continue;
                }
                len = le16(ring + idx + off_len);
                if (len == 0) {
                        idx = 0; /* the wrap marker */
                        continue;
                }
                text_len = le16(ring + idx + off_text_len);
                if (len < hdr || idx + len > buf_len || text_len > len - hdr)
                        return fail(c, -EBADMSG, "log_buf record at index %" PRIu64 " has a bad length (%u, text %u)",
                                    idx, len, text_len);
                r = out_record(o, le64(ring + idx + off_ts), ring + idx + hdr, text_len);
                if (r < 0)
                        return r;
                idx += len;
        }
        return 0;
}

/* ---- entry points ---- */

void vmcore_dmesg_done(VmcoreDmesg *d)
{
        free(d->text);
        free(d->osrelease);
        *d = (VmcoreDmesg){};
}

static int read_core(Core *c, VmcoreDmesg *ret, char **ret_why)
{
        Out o = {};
        VmcoreLogFormat format = VMCORE_LOG_PRINTK_RINGBUFFER;
        const char *rel;
        int r;

        r = read_elf(c);
        if (r >= 0) {
                if (info_get(c, "SYMBOL(prb)")) {
                        format = VMCORE_LOG_PRINTK_RINGBUFFER;
                        r = read_prb(c, &o);
                } else if (info_get(c, "SYMBOL(log_buf)")) {
                        format = VMCORE_LOG_LOG_BUF;
                        r = read_log_buf(c, &o);
                } else
                        r = fail(c, -EOPNOTSUPP,
                                 "VMCOREINFO has neither SYMBOL(prb) (Linux 5.10+) nor SYMBOL(log_buf) (older): no kernel log to read");
        }
        if (r >= 0 && !o.buf && !(o.buf = strdup("")))
                r = -ENOMEM;
        if (r < 0) {
                if (r == -ENOMEM && !c->why)
                        (void)fail(c, r, "out of memory");
                if (ret_why)
                        *ret_why = TAKE_PTR(c->why);
                free(o.buf);
                return r;
        }
        *ret = (VmcoreDmesg){
                .text = o.buf,
                .text_len = o.len,
                .records = o.records,
                .lines = o.lines,
                .skipped = o.skipped,
                .format = format,
                .truncated = o.truncated,
        };
        rel = info_get(c, "OSRELEASE");
        if (rel) {
                size_t l = strcspn(rel, "\n");
                ret->osrelease = strndup(rel, MIN(l, (size_t)256));
        }
        if (ret_why)
                *ret_why = NULL;
        return 0;
}

int vmcore_dmesg_read(int fd, VmcoreDmesg *ret, char **ret_why)
{
        Core c = { .fd = fd };
        int r = read_core(&c, ret, ret_why);
        core_done(&c);
        return r;
}

int vmcore_dmesg_read_buffer(const void *data, size_t size, VmcoreDmesg *ret, char **ret_why)
{
        /* an empty buffer still takes the in-memory path */
        Core c = { .fd = -1, .mem = size ? data : (const uint8_t *)"", .mem_size = size };
        int r = read_core(&c, ret, ret_why);
        core_done(&c);
        return r;
}

int vmcore_read_dmesg(int fd, char **ret_text, size_t *ret_len, char **ret_why)
{
        VmcoreDmesg d = {};
        int r = vmcore_dmesg_read(fd, &d, ret_why);

        if (r < 0)
                return r;
        *ret_text = TAKE_PTR(d.text);
        if (ret_len)
                *ret_len = d.text_len;
        vmcore_dmesg_done(&d);
        return 0;
}
