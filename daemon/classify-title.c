/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The title engine: for each kind of kernel report, the patterns that name
 * it and the rules that pick its guilty frame, following the conventions
 * syzbot uses (github.com/google/syzkaller, pkg/report) so titles can be
 * looked up there. A report's title is the format whose pattern matches
 * earliest in the report; its guilty function is the first frame of the RIP
 * line and then the call trace that is not questionable and not a helper on
 * the skip lists (sanitizers, printk, locking, allocators, mem*, str*, …),
 * with syscall prefixes dropped; stalls walk down to an anchor frame
 * (syscall entry, workqueue, timers …) and take the frame above it; hung
 * tasks bucket on rtnl_lock and synchronize_rcu. No usable frame gives
 * "… in corrupted". Titles then get addresses replaced by ADDR, numbers by
 * NUM, and are cut at 120 characters.
 *
 * Patterns run with PCRE2 (JIT when available) under match limits, so a
 * hostile log costs bounded time.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <pthread.h>

#include "classify-internal.h"

/* ---- pattern building blocks ---- */

#define FUNC "([a-zA-Z0-9_]+)(?:\\.|\\+)"
#define PC "\\[\\<?(?:0x)?[0-9a-f]+\\>?\\]"
#define SRC "([a-zA-Z0-9\\-_/.]+\\.[a-z]+:[0-9]+)"
#define LINES "(?:.*\\n)+?" /* one or more whole lines, as few as possible */

typedef enum PartKind {
        PART_END = 0,
        PART_RIP,         /* "RIP: 0010:f+0x1/0x2", "pc : f+…", "PC is at f+…", "NIP […] f+…" */
        PART_RIP_OR_IRQ,  /* the above, or powerpc's "--- interrupt: 700 at f+…" */
        PART_CALL_TRACE,  /* "Call Trace:", "Call trace:", "Backtrace:" */
        PART_STACK,       /* frames until the next stack start (or the next part matches) */
        PART_RE,          /* a pattern; its capture groups are frames */
} PartKind;

typedef struct Part {
        PartKind kind;
        const char *re;
        pcre2_code *code;
} Part;

typedef enum Extractor {
        EXTRACT_FIRST, /* the first frame left after skipping */
        EXTRACT_STALL, /* the frame above the first anchor (syscall entry, workqueue, timer, …) */
        EXTRACT_HANG,  /* rtnl_lock / synchronize_rcu buckets, else the first non-waiting frame */
} Extractor;

#define PARTS_MAX 4
#define SKIP_MAX 24

typedef struct StackFmt {
        Part parts[PARTS_MAX];
        Part parts2[PARTS_MAX]; /* tried when parts find no usable frame */
        const char *skip[SKIP_MAX];
        Extractor extractor;
} StackFmt;

typedef struct Format {
        const char *title;  /* where it matches decides between formats: the earliest wins */
        const char *report; /* when set, must match too; its groups are the arguments */
        const char *fmt;    /* "{1}".."{9}": the groups, then the guilty frame(s) */
        const char *alt[2];
        StackFmt *stack;
        bool corrupted; /* a format that only matches truncated reports */
        pcre2_code *title_code, *report_code;
} Format;

#define IGNORES_MAX 16

struct OopsGroup {
        const char *header;
        Format *formats; /* ends with .title == NULL */
        const char *ignores[IGNORES_MAX];
        const char *end_marker; /* a line containing this completes the report */
        bool standalone;        /* the header line is the whole report */
        pcre2_code *ignore_codes[IGNORES_MAX];
};

#define STACK(...) (&(StackFmt){ __VA_ARGS__ })
#define PARTS(...) .parts = { __VA_ARGS__ }
#define PARTS2(...) .parts2 = { __VA_ARGS__ }
#define SKIP(...) .skip = { __VA_ARGS__ }
#define RIP { PART_RIP }
#define CALLTRACE { PART_CALL_TRACE }
#define FRAMES { PART_STACK }
#define RE(r) { PART_RE, r }
/* Warnings: the RIP line (newer kernels trap), else the stack after "Call Trace:" (older ones). */
#define WARN_STACK(...)                                                                                         \
        STACK(PARTS({ PART_RIP_OR_IRQ }, FRAMES), PARTS2(CALLTRACE, FRAMES), __VA_ARGS__)
#define RIP_STACK(...) STACK(PARTS(RIP, CALLTRACE, FRAMES), __VA_ARGS__)
#define TRACE_STACK(...) STACK(PARTS(CALLTRACE, FRAMES), __VA_ARGS__)

static Format bug_formats[] = {
        {
                .title = "BUG: KASAN:",
                .report = "BUG: KASAN: ([a-z\\-]+) in " FUNC LINES ".*(Read|Write) (?:of size|at addr) [0-9a-f]+",
                .fmt = "KASAN: {1} {3} in {4}",
                .alt = { "bad-access in {4}" },
                .stack = STACK(PARTS(RE("BUG: KASAN: [a-z\\-]+ in " FUNC), CALLTRACE, FRAMES),
                               /* hardware tag-based KASAN reports come through the fault path */
                               SKIP("kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_")),
        },
        {
                .title = "BUG: KASAN:",
                .report = "BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in " FUNC,
                .fmt = "KASAN: invalid-free in {2}",
                .alt = { "invalid-free in {2}" },
                .stack = STACK(PARTS(RE("BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) "
                                        "in " FUNC),
                                     CALLTRACE, FRAMES),
                               SKIP("slab_", "kfree", "vunmap", "vfree")),
        },
        {
                .title = "BUG: KASAN: ([a-z\\-]+) on address" LINES ".*(Read|Write) of size ([0-9]+)",
                .fmt = "KASAN: {1} {2}",
        },
        { .title = "BUG: KASAN: (.*)", .fmt = "KASAN: {1}", .corrupted = true },
        {
                .title = "BUG: KMSAN: kernel-usb-infoleak",
                .report = "BUG: KMSAN: kernel-usb-infoleak in " FUNC,
                .fmt = "KMSAN: kernel-usb-infoleak in {2}",
                .stack = STACK(PARTS(FRAMES, RE("(Local variable .* created at:|Uninit was created at:)"), FRAMES),
                               SKIP("alloc_skb", "usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg",
                                    "usb_interrupt_msg", "usb_control_msg")),
        },
        {
                .title = "BUG: KMSAN:",
                .report = "BUG: KMSAN: ([a-z\\-]+) in " FUNC,
                .fmt = "KMSAN: {1} in {3}",
                .alt = { "bad-access in {3}" },
                .stack = STACK(PARTS(FRAMES, RE("(?:Local variable .* created at:|Uninit was created at:)"), FRAMES),
                               /* generic crypto is where uninit data is used, rarely where it came from */
                               SKIP("alloc_skb", "netlink_ack", "netlink_rcv_skb", "_encrypt$", "^crypto_",
                                    "^cipher_", "^drbg_", "^rng_")),
        },
        { .title = "BUG: KCSAN: data-race", .report = "BUG: KCSAN: (.*)", .fmt = "KCSAN: {1}" },
        { .title = "BUG: KCSAN:", .report = "BUG: KCSAN: (.*)", .fmt = "KCSAN: {1}" },
        {
                .title = "BUG: KFENCE: (use-after-free|out-of-bounds) (read|write) in " FUNC,
                .fmt = "KFENCE: {1} {2} in {4}",
                .alt = { "bad-access in {4}" },
                .stack = STACK(PARTS(RE("BUG: KFENCE: [a-z\\- ]+ in " FUNC), FRAMES)),
        },
        {
                .title = "BUG: KFENCE: invalid free in " FUNC,
                .fmt = "KFENCE: invalid free in {2}",
                .alt = { "invalid-free in {2}" },
                .stack = STACK(PARTS(RE("BUG: KFENCE: [a-z\\- ]+ in " FUNC), FRAMES)),
        },
        {
                .title = "BUG: KFENCE: invalid (read|write) in " FUNC,
                .fmt = "KFENCE: invalid {1} in {3}",
                .alt = { "bad-access in {3}" },
                .stack = STACK(PARTS(RE("BUG: KFENCE: [a-z\\- ]+ in " FUNC), FRAMES)),
        },
        {
                .title = "BUG: KFENCE: memory corruption in " FUNC,
                .fmt = "KFENCE: memory corruption in {2}",
                .stack = STACK(PARTS(RE("BUG: KFENCE: [a-z\\- ]+ in " FUNC), FRAMES)),
        },
        {
                .title = "BUG: (?:unable to handle kernel paging request|unable to handle page fault for address|"
                         "Unable to handle kernel data access)",
                .fmt = "BUG: unable to handle kernel paging request in {1}",
                .alt = { "bad-access in {1}" },
                .stack = RIP_STACK(),
        },
        {
                .title = "BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference|"
                         "Kernel NULL pointer dereference)",
                .fmt = "BUG: unable to handle kernel NULL pointer dereference in {1}",
                .alt = { "bad-access in {1}" },
                .stack = RIP_STACK(),
        },
        /* The kernel prints this header in two pieces; a lost second half leaves only this. */
        { .title = "BUG: (?:unable to handle kernel|Unable to handle kernel)",
          .fmt = "BUG: unable to handle kernel",
          .corrupted = true },
        {
                .title = "BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion|cpu recursion|bad magic|"
                         "wrong owner|wrong CPU|trylock failure on UP)",
                .fmt = "BUG: {1} {2} in {3}",
                .stack = TRACE_STACK(SKIP("spin_", "_lock", "_unlock")),
        },
        {
                .title = "BUG: soft lockup",
                .fmt = "BUG: soft lockup in {1}",
                .alt = { "stall in {1}" },
                .stack = RIP_STACK(.extractor = EXTRACT_STALL),
        },
        {
                .title = "BUG: .*still has locks held!",
                .report = "BUG: .*still has locks held!" LINES ".*" PC " +" FUNC,
                .fmt = "BUG: still has locks held in {1}",
        },
        {
                .title = "BUG: scheduling while atomic",
                .fmt = "BUG: scheduling while atomic in {1}",
                .stack = TRACE_STACK(SKIP("schedule")),
        },
        {
                .title = "BUG: lock held when returning to user space",
                .report = "BUG: lock held when returning to user space" LINES
                          ".*leaving the kernel with locks still held" LINES ".*at: (?:" PC " +)?" FUNC,
                .fmt = "BUG: lock held when returning to user space in {1}",
        },
        {
                .title = "BUG: bad unlock balance detected!",
                .fmt = "BUG: bad unlock balance in {1}",
                .stack = STACK(PARTS(RE(PC " +" FUNC), CALLTRACE, FRAMES)),
        },
        {
                .title = "BUG: held lock freed!",
                .report = "BUG: held lock freed!" LINES ".*" PC " +" FUNC,
                .fmt = "BUG: held lock freed in {1}",
        },
        { .title = "BUG: Bad rss-counter state", .fmt = "BUG: Bad rss-counter state" },
        { .title = "BUG: non-zero nr_ptes on freeing mm", .fmt = "BUG: non-zero nr_ptes on freeing mm" },
        { .title = "BUG: non-zero nr_pmds on freeing mm", .fmt = "BUG: non-zero nr_pmds on freeing mm" },
        {
                /* Device names (loop0, loop1, …) would split one bug into many titles. */
                .title = "BUG: Dentry .* still in use",
                .report = "BUG: Dentry .* still in use \\([0-9]+\\) \\[(unmount) of ([^\\]]+)\\]",
                .fmt = "BUG: Dentry still in use in {1}",
                .alt = { "BUG: Dentry still in use [{1} of {2}]" },
        },
        {
                .title = "BUG: Bad page (state|cache)",
                .fmt = "BUG: Bad page {1} in {2}",
                .stack = STACK(PARTS(RE("page last allocated"), FRAMES),
                               SKIP("free_page", "put_page", "get_page", "update_page", "release_page",
                                    "free_unref", "^folio", "^_folio", "^__folio", "truncate_inode_pages",
                                    "page_frag_free", "alloc", "vmap", "page_owner")),
        },
        { .title = "BUG: Bad page map", .fmt = "BUG: Bad page map" },
        { .title = "BUG: workqueue lockup", .fmt = "BUG: workqueue lockup" },
        {
                .title = "BUG: sleeping function called from invalid context at (.*)",
                .fmt = "BUG: sleeping function called from invalid context in {2}",
                .stack = TRACE_STACK(),
        },
        {
                .title = "BUG: using ([a-z_]+)\\(\\) in preemptible",
                .fmt = "BUG: using {1}() in preemptible code in {2}",
                .stack = TRACE_STACK(SKIP("dump_stack", "preemption", "preempt", "debug_", "processor_id",
                                          "this_cpu")),
        },
        {
                .title = "BUG: workqueue leaked lock or atomic",
                .report = "BUG: workqueue leaked lock or atomic" LINES ".*last function: ([a-zA-Z0-9_]+)\\n",
                .fmt = "BUG: workqueue leaked lock or atomic in {1}",
        },
        {
                .title = "BUG: memory leak",
                .fmt = "memory leak in {1}",
                .stack = STACK(PARTS(RE("backtrace(?: \\(crc [[:xdigit:]]*\\))?:"), FRAMES),
                               SKIP("kmemleak", "mmap", "kmem", "slab", "alloc", "create_object", "idr_get",
                                    "list_lru_init", "kasprintf", "kvasprintf", "pcpu_create", "strdup",
                                    "strndup", "memdup")),
        },
        {
                .title = "BUG: .*stack guard page was hit at",
                .fmt = "BUG: stack guard page was hit in {1}",
                .alt = { "stack-overflow in {1}" },
                .stack = RIP_STACK(.extractor = EXTRACT_STALL),
        },
        {
                /* arm's spelling of what x86 reports as a lockdep WARNING: same title. */
                .title = "BUG: Invalid wait context",
                .fmt = "WARNING: locking bug in {1}",
                .stack = TRACE_STACK(SKIP("lock_sock", "release_sock")),
        },
        { .title = "BUG:[[:space:]]*(?:\\n|$)", .fmt = "BUG: corrupted", .corrupted = true },
        {},
};

static Format warning_formats[] = {
        {
                .title = "WARNING: .*lib/debugobjects\\.c.* (?:debug_print|debug_check|at)",
                .fmt = "WARNING: ODEBUG bug in {1}",
                /* the users of debug objects are helpers too */
                .stack = WARN_STACK(SKIP("debug_", "rcu", "hrtimer_", "timer_", "work_", "percpu_", "vunmap",
                                         "vfree", "__free_", "debug_check", "kobject_")),
        },
        {
                .title = "WARNING: .*mm/usercopy\\.c.* (?:usercopy_warn|at)",
                .fmt = "WARNING: bad usercopy in {1}",
                .stack = WARN_STACK(SKIP("usercopy", "__check")),
        },
        {
                .title = "WARNING: .*lib/kobject\\.c.* (?:kobject_|at)",
                .fmt = "WARNING: kobject bug in {1}",
                .stack = WARN_STACK(SKIP("kobject_")),
        },
        {
                .title = "WARNING: .*fs/proc/generic\\.c.* (?:proc_register|at)",
                .fmt = "WARNING: proc registration bug in {1}",
                .stack = WARN_STACK(SKIP("proc_")),
        },
        {
                .title = "WARNING: .*lib/refcount\\.c.* (?:refcount_|at)",
                .fmt = "WARNING: refcount bug in {1}",
                .stack = WARN_STACK(SKIP("refcount", "kobject_")),
        },
        {
                .title = "WARNING: .*kernel/locking/lockdep\\.c.*lock_",
                .fmt = "WARNING: locking bug in {1}",
                .stack = WARN_STACK(SKIP("lock_sock", "release_sock")),
        },
        {
                .title = "WARNING: .*still has locks held!",
                .report = "WARNING: .*still has locks held!" LINES ".*at: " FUNC,
                .fmt = "WARNING: still has locks held in {1}",
        },
        {
                .title = "WARNING: Nested lock was not taken",
                .fmt = "WARNING: nested lock was not taken in {1}",
                .stack = WARN_STACK(),
        },
        {
                .title = "WARNING: lock held when returning to user space",
                .report = "WARNING: lock held when returning to user space" LINES
                          ".*leaving the kernel with locks still held" LINES ".*at: (?:" PC " +)?" FUNC,
                .fmt = "WARNING: lock held when returning to user space in {1}",
        },
        {
                .title = "WARNING: .*mm/.*\\.c.* k?.?malloc",
                .fmt = "WARNING: kmalloc bug in {1}",
                .stack = WARN_STACK(SKIP("kmalloc", "krealloc", "slab", "kmem")),
        },
        {
                .title = "WARNING: .*mm/vmalloc.c.*__vmalloc_node",
                .fmt = "WARNING: zero-size vmalloc in {1}",
                .stack = WARN_STACK(),
        },
        {
                .title = "WARNING: .* usb_submit_urb",
                .fmt = "WARNING in {1}/usb_submit_urb",
                .stack = WARN_STACK(SKIP("usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg",
                                         "usb_control_msg")),
        },
        /* Since late 2025 kernels print "WARNING: file.c:12 at 0x…, CPU#1: comm/pid". */
        { .title = "WARNING: " SRC " at 0x\\d+, CPU#\\d+", .fmt = "WARNING in {2}", .stack = WARN_STACK() },
        { .title = "WARNING: .* at " SRC " " FUNC, .fmt = "WARNING in {3}", .stack = WARN_STACK() },
        { .title = "WARNING: " SRC " at " FUNC, .fmt = "WARNING in {3}", .stack = WARN_STACK() },
        { .title = "WARNING: \\[.*\\] " SRC " at " FUNC ".*", .fmt = "WARNING in {3}", .stack = WARN_STACK() },
        {
                .title = "WARNING: possible circular locking dependency detected",
                .report = "WARNING: possible circular locking dependency detected" LINES ".*is trying to acquire lock",
                .fmt = "possible deadlock in {1}",
                .stack = STACK(PARTS(RE("at: (?:" PC " +)?" FUNC), RE("at: (?:" PC " +)?" FUNC), FRAMES),
                               /* workqueue internals take the work item's lockdep map */
                               SKIP("process_one_work", "flush_workqueue", "drain_workqueue", "destroy_workqueue")),
        },
        {
                .title = "WARNING: possible irq lock inversion dependency detected",
                .report = "WARNING: possible irq lock inversion dependency detected" LINES
                          ".*just changed the state of lock" LINES ".*at: (?:" PC " +)?" FUNC,
                .fmt = "possible deadlock in {1}",
        },
        {
                .title = "WARNING: .*-safe -> .*-unsafe lock order detected",
                .fmt = "possible deadlock in {1}",
                .stack = STACK(PARTS(RE("which became (?:.*) at:"), FRAMES)),
        },
        {
                .title = "WARNING: possible recursive locking detected",
                .report = "WARNING: possible recursive locking detected" LINES ".*is trying to acquire lock" LINES
                          ".*at: (?:" PC " +)?" FUNC,
                .fmt = "possible deadlock in {1}",
        },
        {
                .title = "WARNING: inconsistent lock state",
                .report = "WARNING: inconsistent lock state" LINES ".*takes" LINES ".*at: (?:" PC " +)?" FUNC,
                .fmt = "inconsistent lock state in {2}",
                .stack = TRACE_STACK(),
        },
        {
                .title = "WARNING: suspicious RCU usage",
                .report = "WARNING: suspicious RCU usage" LINES ".*?" SRC,
                .fmt = "WARNING: suspicious RCU usage in {2}",
                .stack = TRACE_STACK(SKIP("rcu", "kmem", "slab")),
        },
        {
                .title = "WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value",
                .fmt = "WARNING: kernel stack regs has bad '{1}' value",
        },
        {
                .title = "WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value",
                .fmt = "WARNING: kernel stack frame pointer has bad value",
        },
        {
                .title = "WARNING: bad unlock balance detected!",
                .fmt = "WARNING: bad unlock balance in {1}",
                .stack = STACK(PARTS(RE(PC " +" FUNC), CALLTRACE, FRAMES)),
        },
        {
                .title = "WARNING: held lock freed!",
                .report = "WARNING: held lock freed!" LINES ".*at:(?: " PC ")? +" FUNC,
                .fmt = "WARNING: held lock freed in {1}",
        },
        { .title = "WARNING: kernel stack regs .* has bad 'bp' value", .fmt = "WARNING: kernel stack regs has bad value" },
        { .title = "WARNING: kernel stack frame pointer .* has bad value",
          .fmt = "WARNING: kernel stack regs has bad value" },
        { .title = "WARNING:[[:space:]]*(?:\\n|$)", .fmt = "WARNING: corrupted", .corrupted = true },
        {},
};

static Format info_formats[] = {
        /* Lockdep before 4.12 said INFO: instead of WARNING:. */
        {
                .title = "INFO: possible circular locking dependency detected",
                .report = "INFO: possible circular locking dependency detected \\]" LINES ".*is trying to acquire lock"
                          LINES ".*at: " PC " +" FUNC,
                .fmt = "possible deadlock in {1}",
        },
        {
                .title = "INFO: possible irq lock inversion dependency detected",
                .report = "INFO: possible irq lock inversion dependency detected \\]" LINES
                          ".*just changed the state of lock" LINES ".*at: " PC " +" FUNC,
                .fmt = "possible deadlock in {1}",
        },
        {
                .title = "INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
                .report = "INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected \\]" LINES ".*is trying to acquire"
                          LINES ".*at: " PC " +" FUNC,
                .fmt = "possible deadlock in {1}",
        },
        {
                .title = "INFO: possible recursive locking detected",
                .report = "INFO: possible recursive locking detected \\]" LINES ".*is trying to acquire lock" LINES
                          ".*at: " PC " +" FUNC,
                .fmt = "possible deadlock in {1}",
        },
        {
                .title = "INFO: inconsistent lock state",
                .report = "INFO: inconsistent lock state \\]" LINES ".*takes" LINES ".*at: " PC " +" FUNC,
                .fmt = "inconsistent lock state in {1}",
        },
        {
                .title = "INFO: rcu_[a-z_]+ (?:self-)?detected(?: expedited)? stall",
                .fmt = "INFO: rcu detected stall in {1}",
                .alt = { "stall in {1}" },
                /* the stalled code is what the timer interrupt interrupted */
                .stack = STACK(PARTS(RE("apic_timer_interrupt"), RIP, FRAMES),
                               PARTS2(RE("(?:apic_timer_interrupt|Exception stack|el1h_64_irq)"), FRAMES),
                               SKIP("apic_timer_interrupt", "rcu"), .extractor = EXTRACT_STALL),
        },
        {
                .title = "INFO: trying to register non-static key",
                .fmt = "INFO: trying to register non-static key in {1}",
                .stack = TRACE_STACK(SKIP("stack", "lock", "IRQ")),
        },
        {
                .title = "INFO: suspicious RCU usage",
                .report = "INFO: suspicious RCU usage" LINES ".*?" SRC,
                .fmt = "INFO: suspicious RCU usage in {2}",
                .stack = TRACE_STACK(SKIP("rcu", "kmem", "slab")),
        },
        {
                .title = "INFO: task .* blocked (?:in I/O wait )?for more than [0-9]+ seconds",
                .fmt = "INFO: task hung in {1}",
                .alt = { "hang in {1}" },
                .stack = TRACE_STACK(.extractor = EXTRACT_HANG),
        },
        {
                .title = "INFO: task .* can't die for more than .* seconds",
                .fmt = "INFO: task can't die in {1}",
                .alt = { "hang in {1}" },
                .stack = TRACE_STACK(SKIP("schedule")),
        },
        /* What is left of an old-style KASAN report whose header was lost. */
        { .title = "INFO: (Freed|Allocated) in (.*)", .fmt = "INFO: {1} in {2}", .corrupted = true },
        { .title = "INFO:[[:space:]]*(?:\\n|$)", .fmt = "INFO: corrupted", .corrupted = true },
        {},
};

static Format unable_formats[] = {
        {
                .title = "Unable to handle kernel (paging request|NULL pointer dereference|access to user memory)",
                .fmt = "BUG: unable to handle kernel {1} in {2}",
                .alt = { "bad-access in {2}" },
                .stack = RIP_STACK(),
        },
        {},
};

static Format gpf_formats[] = {
        {
                .title = "general protection fault.*:",
                .fmt = "general protection fault in {1}",
                .alt = { "bad-access in {1}" },
                .stack = RIP_STACK(),
        },
        {},
};

static Format stack_segment_formats[] = {
        { .title = "stack segment: ", .fmt = "stack segment fault in {1}", .stack = RIP_STACK() },
        {},
};

static Format panic_formats[] = {
        /* A smashed stack may leave no symbol to print and no stack to walk. */
        {
                .title = "Kernel panic - not syncing: stack-protector:",
                .report = "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: " FUNC,
                .fmt = "kernel panic: stack is corrupted in {1}",
        },
        {
                .title = "Kernel panic - not syncing: stack-protector:",
                .report = "Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: [a-f0-9]+",
                .fmt = "kernel panic: stack is corrupted in {1}",
                .stack = TRACE_STACK(SKIP("stack_chk")),
        },
        {
                .title = "Kernel panic - not syncing: corrupted stack end",
                .report = "Kernel panic - not syncing: corrupted stack end detected inside scheduler",
                .fmt = "kernel panic: corrupted stack end in {1}",
                .alt = { "stack-overflow in {1}" },
                .stack = TRACE_STACK(SKIP("schedule", "retint_kernel"), .extractor = EXTRACT_STALL),
        },
        {
                .title = "Kernel panic - not syncing: kernel stack overflow",
                .fmt = "kernel stack overflow in {1}",
                .alt = { "stack-overflow in {1}" },
                .stack = TRACE_STACK(SKIP("bad_stack"), .extractor = EXTRACT_STALL),
        },
        { .title = "Kernel panic - not syncing: Attempted to kill init!", .fmt = "kernel panic: Attempted to kill init!" },
        {
                .title = "Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- error -[0-9]+",
                .fmt = "kernel panic: Couldn't open N_TTY ldisc",
        },
        /* These follow another report; alone they mean its header was lost. */
        { .title = "Kernel panic - not syncing: Fatal exception", .fmt = "kernel panic: Fatal exception", .corrupted = true },
        { .title = "Kernel panic - not syncing: panic_on_warn set",
          .fmt = "kernel panic: panic_on_warn set",
          .corrupted = true },
        { .title = "Kernel panic - not syncing: hung_task: blocked tasks",
          .fmt = "kernel panic: hung_task: blocked tasks",
          .corrupted = true },
        /* e.g. "Kernel panic - not syncing: sysrq triggered crash" → "kernel panic: sysrq triggered crash" */
        { .title = "Kernel panic - not syncing: (.*)", .fmt = "kernel panic: {1}" },
        {},
};

static Format double_fault_formats[] = {
        { .title = "PANIC: double fault", .fmt = "PANIC: double fault in {1}", .stack = STACK(PARTS(RIP)) },
        {},
};

static Format rust_formats[] = {
        {
                .title = "rust_kernel: panicked",
                .report = "rust_kernel: panicked at [^\\n]*?\\n(.+?)\\n",
                .fmt = "{1} in {2}",
                .stack = TRACE_STACK(SKIP("__rustc::rust_begin_unwind")),
        },
        {},
};

static Format kernel_bug_formats[] = {
        {
                .title = "kernel BUG at mm/usercopy.c",
                .fmt = "BUG: bad usercopy in {1}",
                .stack = TRACE_STACK(SKIP("usercopy", "__check")),
        },
        {
                .title = "kernel BUG at lib/list_debug.c",
                .fmt = "BUG: corrupted list in {1}",
                .alt = { "bad-access in {1}" },
                .stack = TRACE_STACK(),
        },
        {
                .title = "kernel BUG at (.*)",
                .fmt = "kernel BUG in {2}",
                /* skb helpers BUG_ON bad arguments: the caller is to blame */
                .stack = RIP_STACK(SKIP("^skb_")),
        },
        {},
};

static Format kernel_bug2_formats[] = {
        { .title = "Kernel BUG (.*)", .fmt = "kernel BUG {1}" },
        {},
};

static Format kmalloc_formats[] = {
        { .title = "BUG kmalloc-.*: Object already free", .fmt = "BUG: Object already free" },
        {},
};

static Format divide_formats[] = {
        { .title = "divide error: ", .fmt = "divide error in {1}", .stack = STACK(PARTS(RIP)) },
        {},
};

/* x86 entry code spelled it this way for a while. */
static Format divide2_formats[] = {
        { .title = "divide_error: ", .fmt = "divide error in {1}", .stack = STACK(PARTS(RIP)) },
        {},
};

static Format invalid_opcode_formats[] = {
        { .title = "invalid opcode: ", .fmt = "invalid opcode in {1}", .stack = STACK(PARTS(RIP)) },
        {},
};

static Format ubsan_formats[] = {
        {
                .title = "UBSAN:",
                .report = "UBSAN: Undefined behaviour in",
                .fmt = "UBSAN: undefined-behaviour in {1}",
                .stack = TRACE_STACK(SKIP("ubsan", "overflow")),
        },
        {
                .title = "UBSAN: array-index-out-of-bounds in",
                .fmt = "UBSAN: array-index-out-of-bounds in {1}",
                .alt = { "bad-access in {1}" },
                .stack = TRACE_STACK(SKIP("ubsan", "overflow")),
        },
        {
                .title = "UBSAN:",
                .report = "UBSAN: (.*?) in",
                .fmt = "UBSAN: {1} in {2}",
                .stack = TRACE_STACK(SKIP("ubsan", "overflow")),
        },
        {},
};

static Format reboot_formats[] = {
        { .title = "^Booting the kernel", .fmt = "unexpected kernel reboot" },
        {},
};

static Format netdev_formats[] = {
        { .title = "unregister_netdevice: waiting for (?:.*) to become free",
          .fmt = "unregister_netdevice: waiting for DEV to become free" },
        {},
};

static Format vfs_close_formats[] = {
        { .title = "VFS: Close: file count is 0", .fmt = "VFS: Close: file count is zero (use-after-free)" },
        {},
};

static Format vfs_busy_formats[] = {
        { .title = "VFS: Busy inodes after unmount", .fmt = "VFS: Busy inodes after unmount (use-after-free)" },
        {},
};

static Format internal_error_formats[] = {
        {
                .title = "Internal error:",
                .fmt = "Internal error in {1}",
                .alt = { "bad-access in {1}" },
                .stack = RIP_STACK(),
        },
        {},
};

static Format unhandled_fault_formats[] = {
        {
                .title = "Unhandled fault:",
                .fmt = "Unhandled fault in {1}",
                .alt = { "bad-access in {1}" },
                .stack = RIP_STACK(),
        },
        {},
};

static Format alignment_formats[] = {
        { .title = "Alignment trap:", .fmt = "Alignment trap in {1}", .stack = RIP_STACK() },
        {},
};

static Format trusty_formats[] = {
        {
                .title = "trusty: panic.* ASSERT FAILED",
                .report = "trusty: panic \\(.*?\\):(?: DEBUG)? ASSERT FAILED at \\(.*?\\): (.+)",
                .fmt = "trusty: ASSERT FAILED: {1}",
        },
        { .title = "trusty: panic.* ASSERT FAILED.*: *(.*)", .fmt = "trusty: ASSERT FAILED: {1}", .corrupted = true },
        { .title = "trusty: panic", .report = "trusty: panic \\(.*?\\): (.+)", .fmt = "trusty: panic: {1}" },
        {},
};

/* syzkaller's own executor failures: they appear in the console logs it records. */
static Format syzfail_formats[] = {
        { .title = "SYZFAIL:(.*)", .fmt = "SYZFAIL:{1}" },
        {},
};

static Format syzfatal_formats[] = {
        { .title = "SYZFATAL:(.*)()", .fmt = "SYZFATAL:{1}", .alt = { "SYZFATAL{2}" } },
        {},
};

/* Go programs crashing on the console (syzkaller's own tools, in its logs). */
static Format go_panic_formats[] = {
        { .title = "panic: Sentry detected .* stuck task", .fmt = "panic: Sentry detected stuck tasks" },
        { .title = "panic:(.*)", .fmt = "panic:{1}" },
        {},
};

static Format go_fatal_formats[] = {
        { .title = "fatal error:", .fmt = "go runtime error" },
        {},
};

/*
 * Beyond syzbot (it does not report these as bugs, a soak test must):
 * hard lockups and OOM kills. Titles in the same style.
 */
static Format hard_lockup_formats[] = {
        {
                .title = "Watchdog detected hard LOCKUP",
                .fmt = "BUG: hard lockup in {1}",
                .alt = { "stall in {1}" },
                .stack = RIP_STACK(.extractor = EXTRACT_STALL),
        },
        {},
};

static Format oom_formats[] = {
        { .title = "Memory cgroup out of memory: Kill(?:ed)? process [0-9]+ \\((.*)\\)",
          .fmt = "memory cgroup out of memory: killed {1}" },
        { .title = "Out of memory(?: \\(oom_kill_allocating_task\\))?: Kill(?:ed)? process [0-9]+ \\((.*)\\)",
          .fmt = "out of memory: killed {1}" },
        {},
};

static OopsGroup groups[] = {
        {
                "BUG:",
                bug_formats,
                /* debug objects, Android boot noise, syzkaller's own debug output */
                { "ODEBUG:", "Boot_DEBUG:", "xlog_status:", "DEBUG:", "BUG: no syscalls can create resource" },
        },
        {
                "WARNING:",
                warning_formats,
                {
                        "WARNING: /etc/ssh/moduli does not exist, using fixed modulus",
                        "WARNING: workqueue cpumask: online intersect > possible intersect",
                        "WARNING: [Tt]he mand mount option",
                        "WARNING: Unsupported flag value\\(s\\) of 0x%x in DT_FLAGS_1",
                        "WARNING: Unprivileged eBPF is enabled with eIBRS",
                        "WARNING: fbcon: Driver '(.*)' missed to adjust virtual screen size",
                        "WARNING: See https.* for mitigation options.",
                        "WARNING: kernel not compiled with CPU_SRSO",
                        "EXT4-[Ff][Ss](?: \\(.*\\))?:",
                        "(?i)warning: .* uses (deprecated v2 capabilities|wireless extensions)",
                        "XFS \\(\\w+\\): WARNING",
                },
        },
        {
                "INFO:",
                info_formats,
                {
                        "INFO: lockdep is turned off",
                        "INFO: Stall ended before state dump start",
                        "INFO: NMI handler",
                        "INFO: recovery required on readonly filesystem",
                        "(handler|interrupt).*took too long",
                        "INFO: sys_.* is not present in /proc/kallsyms",
                        "INFO: no syscalls can create resource",
                        "rmt_storage:INFO:",
                        "_INFO:",
                },
        },
        { "Unable to handle kernel", unable_formats, {} },
        { "general protection fault", gpf_formats, { "general protection fault .* error:\\d+ in " } },
        { "stack segment: ", stack_segment_formats, {} },
        { "Kernel panic", panic_formats, {} },
        { "PANIC: double fault", double_fault_formats, {} },
        { "rust_kernel: panicked", rust_formats, {} },
        { "kernel BUG", kernel_bug_formats, {} },
        { "Kernel BUG", kernel_bug2_formats, {} },
        { "BUG kmalloc-", kmalloc_formats, {} },
        { "divide error:", divide_formats, {} },
        { "divide_error:", divide2_formats, {} },
        { "invalid opcode:", invalid_opcode_formats, {} },
        { "UBSAN:", ubsan_formats, {} },
        /* a reboot message in the middle of a mount option is the fuzzer echoing the console */
        { "Booting the kernel.", reboot_formats, { "Parsing ELF|Decompressing Linux|Unknown parameter '" } },
        { "unregister_netdevice: waiting for", netdev_formats, {} },
        { "VFS: Close: file count is 0", vfs_close_formats, {} },
        { "VFS: Busy inodes after unmount", vfs_busy_formats, {} },
        { "Internal error:", internal_error_formats, {} },
        { "Unhandled fault:", unhandled_fault_formats, {} },
        { "Alignment trap:", alignment_formats, {} },
        { "trusty: panic", trusty_formats, {} },
        { "SYZFAIL:", syzfail_formats, {} },
        { "SYZFATAL:", syzfatal_formats, {} },
        /* skb_panic: and friends are kernel functions; the others are firmware and Android noise */
        { "panic:", go_panic_formats, { "_panic:", "xlog_status:", "ddb\\.onpanic:", "evtlog_status:" } },
        { "fatal error:", go_fatal_formats, { "ALSA", "fatal error: cannot create timer" } },
        { "Watchdog detected hard LOCKUP", hard_lockup_formats, {} },
        /* the kill line names the victim; the dump before it ("invoked oom-killer:") is context */
        { "out of memory: Kill", oom_formats, {}, NULL, true },
        { "Out of memory: Kill", oom_formats, {}, NULL, true },
        { "Out of memory (oom_kill_allocating_task): Kill", oom_formats, {}, NULL, true },
};

/* Headers that belong inside another report rather than starting a second one. */
static const char *const start_ignores[] = {
        "invalid opcode: 0000", "Kernel panic - not syncing", "unregister_netdevice: waiting for",
        /* double faults happen while handling a fault, often on the same CPU */
        "PANIC: double fault", "Internal error:",
};

static const char *const info_with_stack[] = {
        "vmalloc: allocation failure:",
        "FAULT_INJECTION: forcing a failure",
        "FAULT_FLAG_ALLOW_RETRY missing",
};

/*
 * Frames that are never the guilty one, as name patterns: a plain string
 * matches anywhere in the name, '^' and '$' anchor, '*' is any run of
 * characters, '#' a digit.
 */
static const char *const skip_frames[] = {
        /* sanitizers and their report machinery */
        "__sanitizer", "__asan", "kasan", "hwasan", "__msan", "kmsan", "kcsan_setup_watchpoint",
        "check_memory_region", "check_heap_object", "check_object", "read_word_at_a_time", "read_once_*nocheck",
        "write_once_*nocheck", "print_address_description",
        /* panic, BUG, WARN and stack dumping */
        "panic", "invalid_op", "report_bug", "fixup_bug", "print_report", "print_usage_bug", "do_error", "_trap$",
        "do_trap", "show_stack", "dump_stack", "walk_stack", "dump_backtrace", "warn_slowpath", "warn_alloc",
        "warn_bogus", "__warn", "print_tainted", "^get_taint$", "stack_trace_consume_entry", "arch_stack_walk",
        "stack_trace_save", "hex_dump_to_buffer", "print_hex_dump",
        /* allocators */
        "alloc_page", "malloc", "zalloc", "calloc", "krealloc", "kmem_cache", "allocate_slab",
        "__alloc_frozen_pages_noprof", "folio_alloc", "folio_unlock", "filemap_alloc_folio", "__filemap_get_folio",
        "find_or_create_page", "do_read_cache_folio", "read_cache_page", "pagecache_get_page",
        "grab_cache_page_write_begin", "slab_", "^kv?free$", "^kfree$", "^kvfree$", "kfree_skb",
        /* debug objects and lockdep */
        "debug_object", "timer_is_static_object", "work_is_static_object", "__might_fault", "print_unlock",
        "imbalance_bug", "lockdep", "lock_acquire", "lock_release", "lock_class", "mark_lock", "reacquire_held_locks",
        "mark_held_locks", "trace_hardirq", "trace_softirq", "lockdep_hardirq", "lockdep_softirq", "bh_enable",
        "bh_disable", "perf_trace",
        /* locking primitives */
        "raw_spin_rq", "spin_lock", "spin_trylock", "spin_unlock", "read_lock", "read_trylock", "write_lock",
        "write_trylock", "read_unlock", "write_unlock", "^down$", "down_read", "down_write", "down_trylock", "up_read",
        "up_write", "^mutex_", "^__mutex_", "^rt_mutex_", "owner_on_cpu", "osq_lock", "osq_unlock", "^lock_page",
        "^unlock_page",
        /* atomics, bit ops, refcounts */
        "atomic_dec", "atomic_inc", "atomic_read", "atomic_set", "atomic_or", "atomic_xor", "atomic_and",
        "atomic_add", "atomic_sub", "atomic_fetch", "atomic_xchg", "atomic_cmpxchg", "atomic_try", "atomic64_dec",
        "atomic64_inc", "atomic64_read", "atomic64_set", "atomic64_or", "atomic64_xor", "atomic64_and",
        "atomic64_add", "atomic64_sub", "atomic64_fetch", "atomic64_xchg", "atomic64_cmpxchg", "atomic64_try",
        "set_bit", "clear_bit", "change_bit", "test_bit", "__wake_up", "^refcount_", "^kref_", "ref_tracker",
        "seqprop_assert",
        /* memory and string helpers, user copies */
        "memcpy", "memcmp", "memset", "memchr", "memmove", "memdup", "strcmp", "strncmp", "strcpy", "strlcpy",
        "strncpy", "strscpy", "strlen", "strstr", "strnstr", "strnlen", "strchr", "strdup", "strndup", "copy_to_user",
        "copy_from_user", "copy_to_iter", "copy_from_iter", "copy_page_to_iter", "copy_page_from_iter",
        "copy_folio_to_iter", "^copyin$", "^copyout$", "put_user", "get_user", "might_fault", "might_sleep",
        "__might_resched", "__fortify_report", "__phys_addr",
        /* lists and trees */
        "list_add", "list_del", "list_replace", "list_move", "list_splice", "^rb_", "^__rb_", "^klist_",
        "rhashtable_lookup", "xas_start", "xas_load", "xas_find", "ida_free",
        /* formatting and printing */
        "_indirect_thunk_", "string", "pointer", "snprintf", "scnprintf", "kasprintf", "kvasprintf", "printk",
        "va_format", "dev_info", "dev_notice", "dev_warn", "dev_err", "dev_alert", "dev_crit", "dev_emerg",
        "program_check_exception", "program_check_common",
        /* timers and workqueues */
        "del_timer", "flush_work", "__cancel_work_timer", "cancel_work_sync", "try_to_grab_pending",
        "flush_workqueue", "drain_workqueue", "destroy_workqueue", "queue_work", "insert_work",
        "__queue_delayed_work", "queue_delayed_work_on", "finish_wait", "kthread_stop", "lock_timer_base",
        "__timer_delete_sync", "sk_stop_timer_sync", "__mod_timer",
        /* driver model teardown */
        "kobject_", "add_uevent_var", "get_device_parent", "device_add", "device_del", "device_unregister",
        "device_destroy", "device_release", "devres_release_all", "hwrng_unregister", "i2c_del_adapter",
        "__unregister_client", "device_for_each_child", "rollback_registered", "unregister_netdev", "sysfs_remove",
        "device_remove_file", "tty_unregister_device", "^put_device$", "dummy_urb_enqueue", "usb_kill_urb",
        "usb_kill_anchored_urbs", "usb_control_msg", "usb_hcd_submit_urb", "usb_submit_urb", "^complete$",
        "wait_for_completion",
        /* I/O accessors, checksums */
        "readb$", "readw$", "readl$", "readq$", "writeb$", "writew$", "writel$", "writeq$", "logic_in", "logic_out",
        "^crc#", "crc_itu_t",
        /* misc helpers whose callers are to blame */
        "assertfail", "mark_buffer_dirty", "^iput$", "^iput_final$", "^ihold$", "find_lock_entries", "truncate_inode_pages_range",
        "cleanup_srcu_struct", "extract_user_to_sg", "extract_iter_to_sg", "drop_nlink", "fast_dput", "dput",
        /* arm64 fault entry */
        "do_kernel_fault", "do_translation_fault", "do_mem_abort", "el1_abort", "el1h_64_sync",
        NULL,
};

/* Syscall entry prefixes differ per architecture and kernel version; titles use the bare name. */
static const char *const strip_prefixes[] = {
        "SYSC_", "SyS_", "sys_", "__x64_", "__ia32_", "__arm64_", "____sys_", "___sys_", "__sys_",
        "__se_", "__se_sys_", "__do_sys_", "compat_SYSC_", "compat_SyS_", "ksys_", NULL,
};

/* Where a stall's interesting part of the stack ends: the frame above is the title's. */
static const char *const stall_anchors[] = {
        /* generic dispatchers: syscall entry, workqueues, softirq, timers, kthreads */
        "process_one_work", "do_syscall_", "do_fast_syscall_", "sysenter_dispatch", "tracesys_phase2",
        "el0_svc_handler", "invoke_syscall", "ret_fast_syscall", "netif_receive_skb", "do_softirq",
        "call_timer_fn", "_run_timers", "run_timer_softirq", "hrtimer_run", "run_ksoftirqd", "smpboot_thread_fn",
        "^kthread$", "start_secondary", "cpu_startup_entry", "ret_from_fork",
        /* file operations: the frame above says which driver or filesystem */
        "vfs_write", "vfs_read", "vfs_iter_read", "vfs_iter_write", "do_iter_read", "do_iter_write",
        "call_read_iter", "call_write_iter", "new_sync_read", "new_sync_write", "vfs_ioctl", "ksys_ioctl",
        "compat_ioctl", "compat_sys_ioctl", "blkdev_driver_ioctl", "blkdev_ioctl", "do_iter_readv_writev",
        "^call_mmap", "mmap_region", "do_mmap", "do_dentry_open", "vfs_open",
        /* sockets: the frame above says which protocol */
        "^sock_sendmsg", "^sock_recvmsg", "^sock_release", "^__sock_release", "^setsockopt$", "kernel_setsockopt",
        "sock_common_setsockopt", "^listen$", "kernel_listen", "sk_common_release", "^sock_mmap", "^accept$",
        "kernel_accept", "^sock_do_ioctl", "^sock_ioctl", "^compat_sock_ioctl", "^nfnetlink_rcv_msg",
        "^rtnetlink_rcv_msg", "^netlink_dump", "^socketpair", "^connect", "^ioctl", "^sys_socketpair",
        "^sys_connect", "^sys_ioctl",
        /* page faults, task work */
        "__do_fault", "do_page_fault", "^page_fault$", "__fput", "task_work_run", "exit_to_usermode",
        "smp_call_function", "tasklet_action", "tasklet_hi_action", NULL,
};

/* ---- tiny name patterns ---- */

static bool pat_here(const char *p, const char *s)
{
        for (;; p++, s++) {
                if (!*p)
                        return true;
                if (*p == '$' && !p[1])
                        return !*s;
                if (*p == '*') {
                        for (p++;; s++) {
                                if (pat_here(p, s))
                                        return true;
                                if (!*s)
                                        return false;
                        }
                }
                if (!*s)
                        return false;
                if (*p == '#' ? !isdigit((unsigned char)*s) : *p != *s)
                        return false;
        }
}

static bool pat_match(const char *pat, const char *s)
{
        if (pat[0] == '^')
                return pat_here(pat + 1, s);
        if (!strpbrk(pat, "$*#"))
                return strstr(s, pat);
        for (;; s++) {
                if (pat_here(pat, s))
                        return true;
                if (!*s)
                        return false;
        }
}

static bool pat_match_any(const char *const *pats, const char *s)
{
        for (; pats && *pats; pats++)
                if (pat_match(*pats, s))
                        return true;
        return false;
}

/*
 * The global skip list is checked for every frame of every report: its plain
 * patterns are indexed by their first two characters, so a name is checked
 * against the few patterns that can match at each of its positions.
 */
#define SKIP_BUCKETS 1024

typedef struct SkipEntry {
        const char *lit;
        size_t len;
        bool at_start, at_end;
        int next; /* -1 ends the bucket */
} SkipEntry;

static SkipEntry skip_entries[ELEMENTSOF(skip_frames)];
static int skip_buckets[SKIP_BUCKETS];
static const char *skip_globs[ELEMENTSOF(skip_frames)]; /* patterns with '*' or '#': checked one by one */

static unsigned skip_hash(const char *s)
{
        return ((unsigned char)s[0] * 31U + (unsigned char)s[1]) & (SKIP_BUCKETS - 1);
}

static void skip_index_init(void)
{
        size_t n = 0, g = 0;

        for (size_t b = 0; b < SKIP_BUCKETS; b++)
                skip_buckets[b] = -1;
        for (size_t i = 0; skip_frames[i]; i++) {
                const char *p = skip_frames[i];
                SkipEntry *e = &skip_entries[n];
                unsigned h;

                e->at_start = p[0] == '^';
                if (e->at_start)
                        p++;
                e->len = strlen(p);
                e->at_end = e->len > 0 && p[e->len - 1] == '$';
                if (e->at_end)
                        e->len--;
                if (e->len < 2 || strpbrk(p, "*#")) {
                        skip_globs[g++] = skip_frames[i];
                        continue;
                }
                e->lit = p;
                h = skip_hash(p);
                e->next = skip_buckets[h];
                skip_buckets[h] = (int)n++;
        }
        skip_globs[g] = NULL;
}

static bool skip_global(const char *name)
{
        size_t len = strlen(name);

        for (size_t i = 0; i + 1 < len; i++)
                for (int k = skip_buckets[skip_hash(name + i)]; k >= 0; k = skip_entries[k].next) {
                        const SkipEntry *e = &skip_entries[k];
                        if ((e->at_start && i > 0) || i + e->len > len || (e->at_end && i + e->len != len))
                                continue;
                        if (memcmp(name + i, e->lit, e->len) == 0)
                                return true;
                }
        return pat_match_any(skip_globs, name);
}

/* ---- compiled tables ---- */

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static int tables_error;
static pcre2_match_context *match_ctx;
/* Any group's header: most lines have none, and one match tells so. */
static pcre2_code *any_header;
static size_t header_len[64];

typedef struct Replacement {
        const char *re, *with;
        pcre2_code *code;
} Replacement;

/* The dynamic parts of titles, normalised so the same bug always gets the same title. */
static Replacement replacements[] = {
        { "syz-executor\\.?[0-9]+((/|:)[0-9]+)?", "syz-executor" },
        { "syzkaller[0-9]+((/|:)[0-9]+)?", "syzkaller" },
        { "([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}", "${1}ADDR" },
        { "([0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3})", "IP" },
        { "(\\.\\w+)(:[0-9]+)+", "${1}:LINE" },
        { "([a-zA-Z][a-zA-Z0-9_.]+)\\+0x[0-9a-z]+/0x[0-9a-z]+", "${1}" },
        { "CPU#[0-9]+", "CPU" },
        { "(\\W)(\\d+)(\\W|$)", "${1}NUM${3}" },
        { "(\\d+){7,}", "NUM" },
};

static pcre2_code *compile(const char *re, bool offset_limit)
{
        pcre2_code *code;
        int err;
        PCRE2_SIZE off;

        code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, offset_limit ? PCRE2_USE_OFFSET_LIMIT : 0, &err,
                             &off, NULL);
        if (!code) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(err, msg, sizeof msg);
                fprintf(stderr, "hvtorture: built-in pattern \"%s\" does not compile at %zu: %s\n", re, (size_t)off,
                        (const char *)msg);
                return NULL;
        }
        /* JIT is an optimisation only: without it (e.g. no executable memory) the interpreter runs. */
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
        return code;
}

static int compile_parts(Part *parts)
{
        for (size_t i = 0; i < PARTS_MAX && parts[i].kind != PART_END; i++)
                if (parts[i].kind == PART_RE && !(parts[i].code = compile(parts[i].re, false)))
                        return -EINVAL;
        return 0;
}

static void tables_init_once(void)
{
        match_ctx = pcre2_match_context_create(NULL);
        if (!match_ctx) {
                tables_error = -ENOMEM;
                return;
        }
        /* Bounded time and memory per match, whatever the input. */
        pcre2_set_match_limit(match_ctx, 2000000);
        pcre2_set_depth_limit(match_ctx, 20000);
        pcre2_set_heap_limit(match_ctx, 16 * 1024); /* KiB */
        skip_index_init();

        for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
                for (size_t i = 0; i < IGNORES_MAX && groups[g].ignores[i]; i++)
                        if (!(groups[g].ignore_codes[i] = compile(groups[g].ignores[i], false)))
                                goto fail;
                for (Format *f = groups[g].formats; f->title; f++) {
                        if (f->title_code)
                                continue; /* shared between groups (OOM) */
                        if (!(f->title_code = compile(f->title, true)))
                                goto fail;
                        if (f->report && !(f->report_code = compile(f->report, false)))
                                goto fail;
                        if (f->stack && (compile_parts(f->stack->parts) < 0 || compile_parts(f->stack->parts2) < 0))
                                goto fail;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(replacements); i++)
                if (!(replacements[i].code = compile(replacements[i].re, false)))
                        goto fail;
        {
                _cleanup_free_ char *alt = NULL;
                size_t size = 0;
                FILE *f = open_memstream(&alt, &size);

                if (!f)
                        goto fail;
                for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
                        fputs(g ? "|\\Q" : "\\Q", f);
                        fputs(groups[g].header, f);
                        fputs("\\E", f);
                        header_len[g] = strlen(groups[g].header);
                }
                if (fclose(f) != 0 || !(any_header = compile(alt, false)))
                        goto fail;
        }
        return;
fail:
        tables_error = -EINVAL;
}

int classify_tables_init(void)
{
        int r = pthread_once(&tables_once, tables_init_once);

        if (r != 0)
                return -r;
        return tables_error;
}

static void free_parts(Part *parts)
{
        for (size_t i = 0; i < PARTS_MAX; i++) {
                pcre2_code_free(parts[i].code);
                parts[i].code = NULL;
        }
}

/* Leak checkers see a clean exit. */
__attribute__((destructor)) static void tables_free(void)
{
        for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
                for (size_t i = 0; i < IGNORES_MAX; i++) {
                        pcre2_code_free(groups[g].ignore_codes[i]);
                        groups[g].ignore_codes[i] = NULL;
                }
                for (Format *f = groups[g].formats; f->title; f++) {
                        pcre2_code_free(f->title_code);
                        pcre2_code_free(f->report_code);
                        f->title_code = f->report_code = NULL;
                        if (f->stack) {
                                free_parts(f->stack->parts);
                                free_parts(f->stack->parts2);
                        }
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(replacements); i++) {
                pcre2_code_free(replacements[i].code);
                replacements[i].code = NULL;
        }
        pcre2_code_free(any_header);
        any_header = NULL;
        pcre2_match_context_free(match_ctx);
        match_ctx = NULL;
}

/*
 * Searches code in s[0..len). With a limit (patterns compiled for it), the
 * match must start at or before it; mc must then be the caller's own context.
 * Returns the number of captured pairs, or <= 0 for no match or a limit hit.
 */
static int re_search(pcre2_code *code, const char *s, size_t len, size_t limit, pcre2_match_data *md,
                     pcre2_match_context *mc)
{
        int r;

        if (limit != SIZE_MAX)
                pcre2_set_offset_limit(mc, limit);
        r = pcre2_match(code, (PCRE2_SPTR)s, len, 0, 0, md, mc);
        if (r == PCRE2_ERROR_JIT_STACKLIMIT)
                /* the interpreter keeps its backtracking on the heap, under the heap limit */
                r = pcre2_match(code, (PCRE2_SPTR)s, len, 0, PCRE2_NO_JIT, md, mc);
        if (limit != SIZE_MAX)
                pcre2_set_offset_limit(mc, PCRE2_UNSET);
        return r;
}

static bool re_matches(pcre2_code *code, const char *s, size_t len, pcre2_match_data *md)
{
        return re_search(code, s, len, SIZE_MAX, md, match_ctx) > 0;
}

/* ---- header lines ---- */

static bool contains(const char *s, size_t len, const char *needle)
{
        return find_str(s, len, needle, strlen(needle)) != NULL;
}

pcre2_match_data *oops_match_data_new(void)
{
        return pcre2_match_data_create(16, NULL); /* room for the ignore patterns' groups */
}

void oops_match_data_free(pcre2_match_data *md)
{
        pcre2_match_data_free(md);
}

const OopsGroup *oops_header_match(const char *line, size_t len, pcre2_match_data *md)
{
        const OopsGroup *found = NULL;
        int r;

        if (classify_tables_init() < 0)
                return NULL;
        r = pcre2_match(any_header, (PCRE2_SPTR)line, len, 0, 0, md, match_ctx);
        for (size_t g = 0; r > 0 && g < ELEMENTSOF(groups) && !found; g++) {
                bool ignored = false;

                if (!find_str(line, len, groups[g].header, header_len[g]))
                        continue;
                for (size_t i = 0; i < IGNORES_MAX && groups[g].ignore_codes[i] && !ignored; i++)
                        ignored = re_matches(groups[g].ignore_codes[i], line, len, md);
                if (!ignored)
                        found = &groups[g];
        }
        return found;
}

bool oops_start_ignored(const char *line, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(start_ignores); i++)
                if (contains(line, len, start_ignores[i]))
                        return true;
        return false;
}

bool oops_info_with_stack(const char *line, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(info_with_stack); i++)
                if (contains(line, len, info_with_stack[i]))
                        return true;
        return false;
}

bool oops_group_ends_at(const OopsGroup *g, const char *line, size_t len)
{
        return g->end_marker && contains(line, len, g->end_marker);
}

bool oops_group_standalone(const OopsGroup *g)
{
        return g->standalone;
}

bool oops_group_is_kmsan_line(const char *line, size_t len)
{
        return contains(line, len, "BUG: KMSAN:");
}

/* ---- lines of a report ---- */

typedef struct Span {
        const char *s;
        size_t len;
} Span;

static bool next_line(const char **p, const char *end, Span *ret)
{
        const char *nl;

        if (*p >= end)
                return false;
        nl = memchr(*p, '\n', (size_t)(end - *p));
        if (!nl)
                nl = end;
        *ret = (Span){ *p, (size_t)(nl - *p) };
        *p = nl < end ? nl + 1 : end;
        return true;
}

static bool is_func_char(char c)
{
        return isalnum((unsigned char)c) || c == '_';
}

/* "[<ffffffff81234567>]", "[ffff…]", "[<0x…>]": the length, or 0. */
static size_t match_pc(const char *s, size_t n)
{
        size_t i = 0, digits = 0;

        if (i >= n || s[i] != '[')
                return 0;
        i++;
        if (i < n && s[i] == '<')
                i++;
        if (i + 1 < n && s[i] == '0' && s[i + 1] == 'x')
                i += 2;
        while (i < n && isxdigit((unsigned char)s[i]) && !isupper((unsigned char)s[i])) {
                i++;
                digits++;
        }
        if (!digits)
                return 0;
        if (i < n && s[i] == '>')
                i++;
        if (i >= n || s[i] != ']')
                return 0;
        return i + 1;
}

/* A function name followed by '.' or '+' ("f+0x1/0x2", "f.isra.0+…"): the name's length, or 0. */
static size_t match_func(const char *s, size_t n)
{
        size_t i = 0;

        while (i < n && is_func_char(s[i]))
                i++;
        if (i == 0 || i >= n || (s[i] != '.' && s[i] != '+'))
                return 0;
        return i;
}

#define CAPS_MAX 8
typedef struct Caps {
        Span v[CAPS_MAX];
        size_t n;
} Caps;

static void caps_add(Caps *c, const char *s, size_t len)
{
        if (c->n < CAPS_MAX)
                c->v[c->n++] = (Span){ s, len };
}

/* Frame lines: " f+0x1/0x2", " [<ffffffff8100>] f+0x…", arm's "[<c01>] (f) from [<c02>] (g+0x…)". */
static bool match_frame_line(Span l, Caps *caps)
{
        size_t i = 0, pos[3], np = 0, k;

        while (i < l.len && l.s[i] == ' ')
                i++;
        pos[np++] = i;
        for (size_t j = i; np < 3;) {
                size_t pc = match_pc(l.s + j, l.len - j);
                if (!pc || j + pc >= l.len || l.s[j + pc] != ' ')
                        break;
                j += pc + 1;
                pos[np++] = j;
        }
        for (size_t t = np; t > 0; t--) {
                size_t at = pos[t - 1];
                k = match_func(l.s + at, l.len - at);
                if (k) {
                        caps_add(caps, l.s + at, k);
                        return true;
                }
        }

        /* arm: "[<pc>] (name) from [<pc>] (func+off/size)" */
        k = match_pc(l.s + i, l.len - i);
        if (k && i + k + 2 < l.len && l.s[i + k] == ' ' && l.s[i + k + 1] == '(') {
                size_t a = i + k + 2, b = a, c;
                while (b < l.len && (is_func_char(l.s[b]) || l.s[b] == '.'))
                        b++;
                if (b == a || b + 7 > l.len || memcmp(l.s + b, ") from ", 7) != 0)
                        return false;
                c = b + 7;
                k = match_pc(l.s + c, l.len - c);
                if (!k || c + k + 1 >= l.len || l.s[c + k] != ' ' || l.s[c + k + 1] != '(')
                        return false;
                c += k + 2;
                k = match_func(l.s + c, l.len - c);
                if (!k)
                        return false;
                caps_add(caps, l.s + a, b - a);
                caps_add(caps, l.s + c, k);
                return true;
        }
        return false;
}

static size_t skip_digits_colon(const char *s, size_t n)
{
        size_t i = 0;

        while (i < n && isdigit((unsigned char)s[i]))
                i++;
        if (i > 0 && i < n && s[i] == ':')
                return i + 1;
        return 0;
}

static bool startswith_n(const char *s, size_t n, const char *prefix)
{
        size_t l = strlen(prefix);
        return n >= l && memcmp(s, prefix, l) == 0;
}

/* After "IP: ", "pc : ", "PC is at ": the faulting function, or a user/NULL address (matched, no frame). */
static bool match_rip_value(const char *s, size_t n, Caps *caps)
{
        size_t d = skip_digits_colon(s, n);

        /* a function, after an optional "0010:" segment and up to two PCs */
        for (int with_seg = 1; with_seg >= 0; with_seg--) {
                size_t i = with_seg ? d : 0, pos[3], np = 0;

                if (with_seg && !d)
                        continue;
                pos[np++] = i;
                for (size_t j = i; np < 3;) {
                        size_t pc = match_pc(s + j, n - j);
                        if (!pc)
                                break;
                        j += pc;
                        if (j >= n || s[j] != ' ')
                                break;
                        while (j < n && s[j] == ' ')
                                j++;
                        pos[np++] = j;
                }
                for (size_t t = np; t > 0; t--) {
                        size_t k = match_func(s + pos[t - 1], n - pos[t - 1]);
                        if (k) {
                                caps_add(caps, s + pos[t - 1], k);
                                return true;
                        }
                }
        }
        /* "0033:0x7f…" user space, "[<…>] [<  (null)>]   (null)", "0010: (null)" */
        for (int with_seg = 1; with_seg >= 0; with_seg--) {
                size_t i = with_seg ? d : 0, pc;

                if (with_seg && !d)
                        continue;
                if (startswith_n(s + i, n - i, "0x") && i + 2 < n && isxdigit((unsigned char)s[i + 2]))
                        return true;
                pc = match_pc(s + i, n - i);
                if (pc) {
                        const char *rest = s + i + pc;
                        size_t rn = n - i - pc;
                        if (find_str(rest, rn, "(null)>]", 8) && find_str(rest, rn, "(null)", 6))
                                return true;
                }
        }
        if (d) {
                size_t i = d;
                while (i < n && s[i] == ' ')
                        i++;
                if (i > d && startswith_n(s + i, n - i, "(null)"))
                        return true;
        }
        return false;
}

static bool match_rip(Span l, Caps *caps)
{
        static const char *const keys[] = { "IP", "pc ", "PC is at" };

        for (size_t p = 0; p < l.len; p++)
                for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
                        size_t kl = strlen(keys[k]), i;

                        if (!startswith_n(l.s + p, l.len - p, keys[k]))
                                continue;
                        i = p + kl;
                        if (i < l.len && l.s[i] == ':')
                                i++;
                        if (i >= l.len || l.s[i] != ' ')
                                continue;
                        i++;
                        if (match_rip_value(l.s + i, l.len - i, caps))
                                return true;
                }
        return false;
}

static bool match_irq_frame(Span l, Caps *caps)
{
        const char *p = find_str(l.s, l.len, "--- interrupt: ", 15);
        size_t i, n, k;

        if (!p)
                return false;
        i = (size_t)(p - l.s) + 15;
        n = l.len;
        if (i >= n || !isdigit((unsigned char)l.s[i]))
                return false;
        while (i < n && isdigit((unsigned char)l.s[i]))
                i++;
        if (!startswith_n(l.s + i, n - i, " at "))
                return false;
        i += 4;
        k = match_func(l.s + i, n - i);
        if (!k)
                return false;
        caps_add(caps, l.s + i, k);
        return true;
}

static bool match_call_trace(Span l)
{
        return find_str(l.s, l.len, "Call Trace:", 11) || find_str(l.s, l.len, "Call trace:", 11) ||
               find_str(l.s, l.len, "Backtrace:", 10);
}

static bool hex16_at(const char *s, size_t n)
{
        if (n < 16)
                return false;
        for (size_t i = 0; i < 16; i++)
                if (!isxdigit((unsigned char)s[i]))
                        return false;
        return true;
}

/* "Allocated by task 12:", "Freed by task 12:" */
static bool match_by_task(Span l, const char *what)
{
        size_t wl = strlen(what);

        for (const char *p = l.s; (p = find_str(p, (size_t)(l.s + l.len - p), what, wl)); p++) {
                size_t i = (size_t)(p - l.s) + wl, d = 0;
                while (i < l.len && isdigit((unsigned char)l.s[i])) {
                        i++;
                        d++;
                }
                if (d && i < l.len && l.s[i] == ':')
                        return true;
        }
        return false;
}

/* Lines where a (new) stack trace starts: a stack being parsed ends there. */
static bool match_stack_start(Span l)
{
        const char *p;

        if (find_str(l.s, l.len, "Call Trace", 10) || find_str(l.s, l.len, "Call trace", 10) ||
            find_str(l.s, l.len, "Allocated:", 10) || find_str(l.s, l.len, "Freed:", 6) ||
            find_str(l.s, l.len, "Backtrace:", 10) || find_str(l.s, l.len, "Uninit was stored to memory at", 30))
                return true;
        if (match_by_task(l, "Allocated by task ") || match_by_task(l, "Freed by task "))
                return true;
        /* " backtrace:" or " backtrace (crc 1234abcd):", but not "stack backtrace:" */
        for (p = l.s; (p = find_str(p, (size_t)(l.s + l.len - p), " backtrace", 10)); p++) {
                size_t i = (size_t)(p - l.s) + 10;
                if (p > l.s && p[-1] == 'k')
                        continue;
                if (p == l.s)
                        continue;
                if (startswith_n(l.s + i, l.len - i, " (crc ")) {
                        i += 6;
                        while (i < l.len && isxdigit((unsigned char)l.s[i]))
                                i++;
                        if (i < l.len && l.s[i] == ')')
                                i++;
                }
                if (i < l.len && l.s[i] == ':')
                        return true;
        }
        /* riscv prints the stack without a header after this register line */
        p = find_str(l.s, l.len, "status: ", 8);
        if (p) {
                size_t i = (size_t)(p - l.s) + 8;
                if (hex16_at(l.s + i, l.len - i) && startswith_n(l.s + i + 16, l.len - i - 16, " badaddr: ") &&
                    hex16_at(l.s + i + 26, l.len - i - 26) &&
                    startswith_n(l.s + i + 42, l.len - i - 42, " cause: ") && hex16_at(l.s + i + 50, l.len - i - 50))
                        return true;
        }
        return false;
}

/* Fault injection stacks get mixed into reports: " [<…>] should_failslab.isra.0+0x…" */
static bool match_corrupted_line(Span l)
{
        size_t i = 0, pc;

        if (l.len > 0 && l.s[0] == ' ' && (pc = match_pc(l.s + 1, l.len - 1)))
                i = 1 + pc;
        if (!startswith_n(l.s + i, l.len - i, " should_fail"))
                return false;
        i += 12;
        if (startswith_n(l.s + i, l.len - i, "slab"))
                i += 4;
        if (i < l.len && l.s[i] == '.') {
                size_t j = i + 1;
                while (j < l.len && (islower((unsigned char)l.s[j]) || isdigit((unsigned char)l.s[j]) || l.s[j] == '.'))
                        j++;
                if (j > i + 1)
                        i = j;
        }
        return startswith_n(l.s + i, l.len - i, "+0x");
}

/* ---- frame extraction ---- */

#define FRAMES_MAX 512

typedef struct FrameList {
        char *raw[FRAMES_MAX];
        size_t n;
} FrameList;

static void frames_clear(FrameList *f)
{
        for (size_t i = 0; i < f->n; i++)
                free(f->raw[i]);
        f->n = 0;
}

static int frames_append(FrameList *f, const Caps *caps, const StackFmt *st)
{
        for (size_t i = 0; i < caps->n; i++) {
                char *name = strndup(caps->v[i].s, caps->v[i].len), *d;

                if (!name)
                        return -ENOMEM;
                d = rust_demangle(name);
                if (d) {
                        free(name);
                        name = d;
                }
                if (f->n >= FRAMES_MAX || skip_global(name) || pat_match_any(st->skip, name)) {
                        free(name);
                        continue;
                }
                f->raw[f->n++] = name;
        }
        return 0;
}

/* The shortest name left after removing any one syscall prefix. */
static const char *strip_frame(const char *name)
{
        const char *best = name;

        for (size_t i = 0; strip_prefixes[i]; i++) {
                const char *s = startswith(name, strip_prefixes[i]);
                if (s && strlen(s) < strlen(best))
                        best = s;
        }
        return best;
}

static bool match_anchor(const char *frame)
{
        return pat_match_any(stall_anchors, frame);
}

/* Returns the index of the guilty frame in f (the name may be replaced through *ret_name), or -1. */
static ssize_t extract(Extractor ex, const FrameList *f, const char **ret_name)
{
        *ret_name = NULL;
        if (f->n == 0)
                return -1;
        switch (ex) {
        case EXTRACT_FIRST:
                *ret_name = strip_frame(f->raw[0]);
                return 0;
        case EXTRACT_STALL: {
                /* Stalls loop somewhere below an entry point; name them after the entry point. */
                size_t prev = 0;
                for (size_t i = 0; i < f->n; i++) {
                        const char *s = strip_frame(f->raw[i]);
                        if (match_anchor(s)) {
                                if (strstr(s, "smp_call_function")) {
                                        *ret_name = "smp_call_function";
                                        return (ssize_t)i;
                                }
                                *ret_name = strip_frame(f->raw[prev]);
                                return (ssize_t)prev;
                        }
                        prev = i;
                }
                return -1;
        }
        case EXTRACT_HANG: {
                /* Hangs show up in the victims: bucket the two big root causes together. */
                static const char *const buckets[][2] = {
                        { "rtnl_lock", NULL },
                        { "synchronize_rcu", "synchronize_rcu" },
                        { "synchronize_srcu", "synchronize_rcu" },
                        { "synchronize_net", "synchronize_rcu" },
                        { "synchronize_sched", "synchronize_rcu" },
                };
                static const char *const waiting[] = {
                        "sched",        "_lock",   "_slowlock", "down",          "rwsem",        "completion",
                        "kthread",      "wait",    "synchronize", "context_switch", "__switch_to", "cancel_delayed_work",
                        "rcu_barrier", NULL,
                };
                for (size_t i = 0; i < f->n; i++) {
                        const char *s = strip_frame(f->raw[i]);
                        for (size_t b = 0; b < ELEMENTSOF(buckets); b++)
                                if (strstr(s, buckets[b][0])) {
                                        *ret_name = buckets[b][1] ? buckets[b][1] : s;
                                        return (ssize_t)i;
                                }
                }
                for (size_t i = 0; i < f->n; i++) {
                        const char *s = strip_frame(f->raw[i]);
                        bool skip = false;
                        for (size_t w = 0; waiting[w] && !skip; w++)
                                skip = strstr(s, waiting[w]);
                        if (!skip) {
                                *ret_name = s;
                                return (ssize_t)i;
                        }
                }
                return -1;
        }
        }
        return -1;
}

typedef struct Extracted {
        char *canonical[PARTS_MAX];
        char *raw[PARTS_MAX];
        size_t n;
        bool ok;
} Extracted;

static void extracted_clear(Extracted *e)
{
        for (size_t i = 0; i < e->n; i++) {
                free(e->canonical[i]);
                free(e->raw[i]);
        }
        *e = (Extracted){};
}

static bool part_match(const Part *part, Span l, Caps *caps, pcre2_match_data *md)
{
        int r;

        switch (part->kind) {
        case PART_RIP:
                return match_rip(l, caps);
        case PART_RIP_OR_IRQ:
                return match_rip(l, caps) || match_irq_frame(l, caps);
        case PART_CALL_TRACE:
                return match_call_trace(l);
        case PART_RE:
                r = re_search(part->code, l.s, l.len, SIZE_MAX, md, match_ctx);
                if (r <= 0)
                        return false;
                {
                        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                        for (int g = 1; g < r; g++)
                                if (ov[2 * g] != PCRE2_UNSET)
                                        caps_add(caps, l.s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
                }
                return true;
        default:
                return false;
        }
}

static int extract_impl(const StackFmt *st, const Part *parts, const char *text, size_t len, pcre2_match_data *md,
                        Extracted *ret)
{
        FrameList *f;
        const char *p = text, *end = text + len;
        size_t nparts = 0, n_stacks = 0;
        Span l;
        int r = 0;

        f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        *ret = (Extracted){ .ok = true };
        while (nparts < PARTS_MAX && parts[nparts].kind != PART_END)
                nparts++;

        for (size_t i = 0;; i++) {
                if (i == nparts || (parts[i].kind == PART_STACK && n_stacks > 0)) {
                        const char *name;
                        ssize_t idx = extract(st->extractor, f, &name);

                        if (ret->n < PARTS_MAX) {
                                ret->canonical[ret->n] = strdup(idx >= 0 ? name : "corrupted");
                                ret->raw[ret->n] = strdup(idx >= 0 ? f->raw[idx] : "corrupted");
                                ret->n++;
                                if (!ret->canonical[ret->n - 1] || !ret->raw[ret->n - 1]) {
                                        r = -ENOMEM;
                                        goto out;
                                }
                        }
                        if (idx < 0)
                                ret->ok = false;
                        frames_clear(f);
                }
                if (i == nparts)
                        break;
                if (parts[i].kind == PART_STACK) {
                        n_stacks++;
                        while (next_line(&p, end, &l)) {
                                Caps caps = {};

                                if (match_corrupted_line(l)) {
                                        ret->ok = false;
                                        break;
                                }
                                if (match_stack_start(l))
                                        break;
                                if (i + 1 < nparts && part_match(&parts[i + 1], l, &caps, md)) {
                                        r = frames_append(f, &caps, st);
                                        if (r < 0)
                                                goto out;
                                        i++;
                                        break;
                                }
                                if (match_frame_line(l, &caps)) {
                                        r = frames_append(f, &caps, st);
                                        if (r < 0)
                                                goto out;
                                }
                        }
                } else {
                        while (next_line(&p, end, &l)) {
                                Caps caps = {};

                                if (match_corrupted_line(l)) {
                                        ret->ok = false;
                                        break;
                                }
                                if (!part_match(&parts[i], l, &caps, md))
                                        continue;
                                r = frames_append(f, &caps, st);
                                if (r < 0)
                                        goto out;
                                break;
                        }
                }
        }
out:
        frames_clear(f);
        free(f);
        if (r < 0)
                extracted_clear(ret);
        return r;
}

static int extract_stack(const StackFmt *st, const char *text, size_t len, pcre2_match_data *md, Extracted *ret)
{
        int r = extract_impl(st, st->parts, text, len, md, ret);

        if (r < 0 || ret->ok || st->parts2[0].kind == PART_END)
                return r;
        extracted_clear(ret);
        return extract_impl(st, st->parts2, text, len, md, ret);
}

/* ---- titles ---- */

void title_result_clear(TitleResult *t)
{
        free(t->title);
        strv_free(t->alt_titles);
        free(t->guilty);
        *t = (TitleResult){};
}

/* "{1}".."{9}" replaced by args[0..8]; a missing argument expands to nothing. */
static char *format_title(const char *fmt, char *const *args, size_t nargs)
{
        char *s = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&s, &size);

        if (!f)
                return NULL;
        for (const char *p = fmt; *p; p++) {
                if (p[0] == '{' && p[1] >= '1' && p[1] <= '9' && p[2] == '}') {
                        size_t i = (size_t)(p[1] - '1');
                        if (i < nargs && args[i])
                                fputs(args[i], f);
                        p += 2;
                        continue;
                }
                fputc(*p, f);
        }
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

char *title_sanitize(const char *title)
{
        char *cur, *out;
        size_t n = 0;
        char prev = ' ';
        pcre2_match_data *md;

        if (classify_tables_init() < 0)
                return NULL;
        cur = strdup(title);
        if (!cur)
                return NULL;
        md = pcre2_match_data_create(16, NULL);
        if (!md) {
                free(cur);
                return NULL;
        }
        for (size_t i = 0; i < ELEMENTSOF(replacements); i++)
                for (unsigned round = 0; round < 16; round++) {
                        PCRE2_UCHAR *buf;
                        PCRE2_SIZE outlen = strlen(cur) * 2 + 64;
                        int r;

                        buf = malloc(outlen);
                        if (!buf)
                                goto oom;
                        r = pcre2_substitute(replacements[i].code, (PCRE2_SPTR)cur, PCRE2_ZERO_TERMINATED, 0,
                                             PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, md, match_ctx,
                                             (PCRE2_SPTR)replacements[i].with, PCRE2_ZERO_TERMINATED, buf, &outlen);
                        if (r == PCRE2_ERROR_NOMEMORY) {
                                free(buf);
                                buf = malloc(outlen + 1);
                                if (!buf)
                                        goto oom;
                                r = pcre2_substitute(replacements[i].code, (PCRE2_SPTR)cur, PCRE2_ZERO_TERMINATED,
                                                     0, PCRE2_SUBSTITUTE_GLOBAL, md, match_ctx,
                                                     (PCRE2_SPTR)replacements[i].with, PCRE2_ZERO_TERMINATED, buf,
                                                     &outlen);
                        }
                        if (r <= 0 || streq((char *)buf, cur)) {
                                free(buf);
                                break;
                        }
                        free(cur);
                        cur = (char *)buf;
                }
        pcre2_match_data_free(md);

        /* syzbot's cut: printable ASCII, single spaces, at most 120 input characters */
        out = malloc(CLASSIFY_TITLE_MAX + 1);
        if (!out) {
                free(cur);
                return NULL;
        }
        for (size_t i = 0; cur[i] && i < CLASSIFY_TITLE_MAX; i++) {
                char c = cur[i];
                if (c == '\t')
                        c = ' ';
                else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
                        continue;
                if (c == ' ' && prev == ' ')
                        continue;
                out[n++] = c;
                prev = c;
        }
        while (n > 0 && out[n - 1] == ' ')
                n--;
        out[n] = 0;
        free(cur);
        return out;
oom:
        pcre2_match_data_free(md);
        free(cur);
        return NULL;
}

EvidenceKind classify_title_kind(const char *t)
{
        static const struct {
                const char *prefix;
                EvidenceKind kind;
        } table[] = {
                { "KASAN", EVIDENCE_KASAN },
                { "KFENCE", EVIDENCE_KFENCE },
                { "UBSAN", EVIDENCE_UBSAN },
                { "KMSAN", EVIDENCE_KMSAN },
                { "KCSAN", EVIDENCE_KCSAN },
                { "possible deadlock", EVIDENCE_LOCKDEP },
                { "inconsistent lock state", EVIDENCE_LOCKDEP },
                { "WARNING: suspicious RCU usage", EVIDENCE_LOCKDEP },
                { "INFO: suspicious RCU usage", EVIDENCE_LOCKDEP },
                { "WARNING: locking bug", EVIDENCE_LOCKDEP },
                { "WARNING: held lock freed", EVIDENCE_LOCKDEP },
                { "BUG: held lock freed", EVIDENCE_LOCKDEP },
                { "WARNING: bad unlock balance", EVIDENCE_LOCKDEP },
                { "BUG: bad unlock balance", EVIDENCE_LOCKDEP },
                { "WARNING: still has locks held", EVIDENCE_LOCKDEP },
                { "BUG: still has locks held", EVIDENCE_LOCKDEP },
                { "WARNING: lock held when returning", EVIDENCE_LOCKDEP },
                { "BUG: lock held when returning", EVIDENCE_LOCKDEP },
                { "WARNING: nested lock was not taken", EVIDENCE_LOCKDEP },
                { "INFO: trying to register non-static key", EVIDENCE_LOCKDEP },
                { "BUG: MAX_", EVIDENCE_LOCKDEP },
                { "INFO: rcu detected stall", EVIDENCE_RCU_STALL },
                { "BUG: soft lockup", EVIDENCE_LOCKUP },
                { "BUG: hard lockup", EVIDENCE_LOCKUP },
                { "BUG: spinlock lockup", EVIDENCE_LOCKUP },
                { "BUG: workqueue lockup", EVIDENCE_LOCKUP },
                { "INFO: task hung", EVIDENCE_HUNG_TASK },
                { "INFO: task can't die", EVIDENCE_HUNG_TASK },
                { "kernel panic", EVIDENCE_PANIC },
                { "PANIC: double fault", EVIDENCE_PANIC },
                { "kernel stack overflow", EVIDENCE_PANIC },
                { "memory leak", EVIDENCE_LEAK },
                { "general protection fault", EVIDENCE_GPF },
                { "stack segment fault", EVIDENCE_GPF },
                { "BUG: unable to handle kernel", EVIDENCE_PAGING },
                { "Unhandled fault", EVIDENCE_PAGING },
                { "Alignment trap", EVIDENCE_PAGING },
                { "Internal error", EVIDENCE_OOPS },
                { "divide error", EVIDENCE_OOPS },
                { "invalid opcode", EVIDENCE_OOPS },
                { "out of memory", EVIDENCE_OOM },
                { "memory cgroup out of memory", EVIDENCE_OOM },
                { "unexpected kernel reboot", EVIDENCE_REBOOT },
                { "WARNING", EVIDENCE_WARNING },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (startswith(t, table[i].prefix))
                        return table[i].kind;
        return EVIDENCE_BUG;
}

size_t classify_title_kind_prefix(const char *title)
{
        const char *in = strstr(title, " in ");
        return in ? (size_t)(in - title) : strlen(title);
}

static bool strv_contains(char *const *l, const char *s)
{
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

static int collect_args(const char *text, pcre2_match_data *md, int pairs, char ***ret, size_t *ret_n)
{
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        char **args = calloc((size_t)pairs + PARTS_MAX + 1, sizeof(char *));
        size_t n = 0;

        if (!args)
                return -ENOMEM;
        for (int g = 1; g < pairs; g++) {
                args[n] = ov[2 * g] == PCRE2_UNSET ? strdup("") : strndup(text + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
                if (!args[n++]) {
                        strv_free(args);
                        return -ENOMEM;
                }
        }
        *ret = args;
        *ret_n = n;
        return 0;
}

int oops_title(const OopsGroup *g, const char *text, size_t len, TitleResult *ret)
{
        pcre2_match_data *md = NULL;
        pcre2_match_context *mc = NULL; /* ours: the offset limit changes per format */
        size_t best = SIZE_MAX;
        bool matched_title = false;
        TitleResult res = {};
        char **alts = NULL;
        int r;

        *ret = (TitleResult){};
        r = classify_tables_init();
        if (r < 0)
                return r;
        md = pcre2_match_data_create(32, NULL);
        mc = pcre2_match_context_copy(match_ctx);
        if (!md || !mc) {
                pcre2_match_data_free(md);
                pcre2_match_context_free(mc);
                return -ENOMEM;
        }

        for (const Format *f = g->formats; f->title; f++) {
                _cleanup_strv_free_ char **args = NULL;
                size_t nargs = 0, start;
                Extracted ex = {};
                int pairs;

                /* The earliest match wins; at equal positions, the first format. */
                pairs = re_search(f->title_code, text, len, best, md, mc);
                if (pairs <= 0)
                        continue;
                start = pcre2_get_ovector_pointer(md)[0];
                if (best != SIZE_MAX && (start > best || (start == best && res.title)))
                        continue;
                if (start < best || best == SIZE_MAX) {
                        title_result_clear(&res);
                        strv_free(alts);
                        alts = NULL;
                        best = start;
                }
                matched_title = true;
                if (f->report) {
                        pairs = re_search(f->report_code, text, len, SIZE_MAX, md, match_ctx);
                        if (pairs <= 0)
                                continue;
                }
                start = pcre2_get_ovector_pointer(md)[0];
                r = collect_args(text, md, pairs, &args, &nargs);
                if (r < 0)
                        goto out;
                res.corrupted = false;
                if (f->stack) {
                        r = extract_stack(f->stack, text + start, len - start, md, &ex);
                        if (r < 0)
                                goto out;
                        if (!ex.ok)
                                res.corrupted = true;
                        for (size_t i = 0; i < ex.n; i++)
                                args[nargs++] = TAKE_PTR(ex.canonical[i]);
                        free(res.guilty);
                        res.guilty = ex.n > 0 && !streq(ex.raw[0], "corrupted") ? strdup(args[nargs - ex.n]) : NULL;
                }
                free(res.title);
                res.title = format_title(f->fmt, args, nargs);
                strv_free(alts);
                alts = calloc(ELEMENTSOF(f->alt) + 2, sizeof(char *));
                if (!res.title || !alts) {
                        extracted_clear(&ex);
                        r = -ENOMEM;
                        goto out;
                }
                {
                        size_t na = 0;
                        for (size_t a = 0; a < ELEMENTSOF(f->alt) && f->alt[a]; a++)
                                if (!(alts[na++] = format_title(f->alt[a], args, nargs))) {
                                        extracted_clear(&ex);
                                        r = -ENOMEM;
                                        goto out;
                                }
                        /* The frame as printed, before the syscall prefix was dropped. */
                        if (ex.n > 0 && !streq(ex.raw[0], args[nargs - ex.n])) {
                                free(args[nargs - ex.n]);
                                args[nargs - ex.n] = TAKE_PTR(ex.raw[0]);
                                if (!(alts[na++] = format_title(f->fmt, args, nargs))) {
                                        extracted_clear(&ex);
                                        r = -ENOMEM;
                                        goto out;
                                }
                        }
                }
                extracted_clear(&ex);
                if (f->corrupted)
                        res.corrupted = true;
        }

        if (!res.title) {
                /* No format fits: the header line itself, from the header on. */
                const char *h = find_str(text, len, g->header, strlen(g->header));
                const char *e;

                if (!h)
                        h = text;
                e = memchr(h, '\n', (size_t)(text + len - h));
                res.title = strndup(h, e ? (size_t)(e - h) : (size_t)(text + len - h));
                if (!res.title) {
                        r = -ENOMEM;
                        goto out;
                }
                res.corrupted = matched_title;
        }

        /* Normalise the title and its alternatives. */
        {
                char *t = title_sanitize(res.title);
                if (!t) {
                        r = -ENOMEM;
                        goto out;
                }
                free(res.title);
                res.title = t;
                res.alt_titles = calloc(strv_length(alts) + 1, sizeof(char *));
                if (!res.alt_titles) {
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t i = 0, n = 0; alts && alts[i]; i++) {
                        char *a = title_sanitize(alts[i]);
                        if (!a) {
                                r = -ENOMEM;
                                goto out;
                        }
                        if (streq(a, res.title) || strv_contains(res.alt_titles, a))
                                free(a);
                        else
                                res.alt_titles[n++] = a;
                }
        }
        res.kind = classify_title_kind(res.title);
        *ret = res;
        res = (TitleResult){};
        r = 0;
out:
        title_result_clear(&res);
        strv_free(alts);
        pcre2_match_data_free(md);
        pcre2_match_context_free(mc);
        return r;
}
