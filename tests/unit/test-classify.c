/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The splat classifier on kernel output in the forms it arrives in: every
 * kind of report with its expected syzbot-style title, console logs with and
 * without timestamps and caller ids, /dev/kmsg records (facility rule),
 * streaming in odd chunk sizes, interleaved reports, limits, dedup, JSON.
 */
#include <json-c/json.h>

#include "classify-internal.h"
#include "classify.h"
#include "test-util.h"

typedef struct Case {
        const char *name;
        const char *log;
        const char *title;
        EvidenceKind kind;
        const char *guilty; /* NULL: none expected */
} Case;

static const Case cases[] = {
        {
                "warning, RIP first (x86 since 4.x)",
                "[   41.172043] ------------[ cut here ]------------\n"
                "[   41.172051] WARNING: CPU: 1 PID: 4711 at arch/x86/kvm/mmu/mmu.c:6338 kvm_mmu_zap_all+0x1f2/0x240 [kvm]\n"
                "[   41.172101] Modules linked in: kvm_amd kvm irqbypass\n"
                "[   41.172130] CPU: 1 PID: 4711 Comm: qemu-kvm Not tainted 6.1.0-56-amd64 #1  Debian 6.1.153-1\n"
                "[   41.172135] RIP: 0010:kvm_mmu_zap_all+0x1f2/0x240 [kvm]\n"
                "[   41.172180] RSP: 0018:ffffb1e2c0a7bd60 EFLAGS: 00010246\n"
                "[   41.172190] Call Trace:\n"
                "[   41.172192]  <TASK>\n"
                "[   41.172195]  kvm_arch_flush_shadow_all+0x12/0x20 [kvm]\n"
                "[   41.172230]  kvm_mmu_notifier_release+0x31/0x60 [kvm]\n"
                "[   41.172260]  __mmu_notifier_release+0x7a/0x1d0\n"
                "[   41.172266]  exit_mmap+0x3a1/0x3d0\n"
                "[   41.172280]  do_exit+0x2e7/0xac0\n"
                "[   41.172290]  </TASK>\n"
                "[   41.172292] ---[ end trace 0000000000000000 ]---\n",
                "WARNING in kvm_mmu_zap_all",
                EVIDENCE_WARNING,
                "kvm_mmu_zap_all",
        },
        {
                "warning, stack first (old kernels), questionable frames skipped",
                "[   55.950418] ------------[ cut here ]------------\n"
                "[   55.967976] WARNING: CPU: 1 PID: 8377 at virt/kvm/kvm_main.c:840 kvm_destroy_vm+0x2c1/0x310\n"
                "[   56.048693] CPU: 1 PID: 8377 Comm: vmm Not tainted 4.14.0 #2\n"
                "[   56.065137] Call Trace:\n"
                "[   56.067707]  dump_stack+0x194/0x257\n"
                "[   56.071334]  ? kvm_destroy_vm+0x2c1/0x310\n"
                "[   56.098863]  __warn+0x1c4/0x1e0\n"
                "[   56.107126]  report_bug+0x211/0x2d0\n"
                "[   56.110735]  fixup_bug+0x40/0x90\n"
                "[   56.114123]  do_trap+0x260/0x390\n"
                "[   56.154533]  invalid_op+0x1e/0x30\n"
                "[   56.157961] RIP: 0010:kvm_destroy_vm+0x2c1/0x310\n"
                "[   56.163554] RSP: 0018:ffff8801c5e37720 EFLAGS: 00010212\n"
                "[   56.170000]  kvm_put_kvm+0x21/0x30\n"
                "[   56.170001]  kvm_vm_release+0x42/0x50\n"
                "[   56.170002] ---[ end trace 5f1e4a6f03e7b6b4 ]---\n",
                "WARNING in kvm_destroy_vm",
                EVIDENCE_WARNING,
                "kvm_destroy_vm",
        },
        {
                "NULL pointer dereference",
                "[  120.001000] BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
                "[  120.001010] #PF: supervisor read access in kernel mode\n"
                "[  120.001020] #PF: error_code(0x0000) - not-present page\n"
                "[  120.001030] PGD 0 P4D 0\n"
                "[  120.001040] Oops: 0000 [#1] PREEMPT SMP NOPTI\n"
                "[  120.001050] CPU: 0 PID: 901 Comm: hvt-vm Not tainted 6.1.0 #1\n"
                "[  120.001060] RIP: 0010:kvm_arch_vcpu_put+0x4b/0x1a0 [kvm]\n"
                "[  120.001070] Call Trace:\n"
                "[  120.001080]  <TASK>\n"
                "[  120.001090]  vcpu_put+0x1e/0x50 [kvm]\n"
                "[  120.001100]  kvm_arch_vcpu_ioctl_run+0x2a1/0x7c0 [kvm]\n"
                "[  120.001110]  </TASK>\n"
                "[  120.001120] ---[ end trace 0000000000000000 ]---\n",
                "BUG: unable to handle kernel NULL pointer dereference in kvm_arch_vcpu_put",
                EVIDENCE_PAGING,
                "kvm_arch_vcpu_put",
        },
        {
                "paging request",
                "[ 3301.118012] BUG: unable to handle page fault for address: ffffc90001c8f000\n"
                "[ 3301.118020] #PF: supervisor write access in kernel mode\n"
                "[ 3301.118030] Oops: 0002 [#1] SMP NOPTI\n"
                "[ 3301.118040] RIP: 0010:__memset+0x24/0x30\n"
                "[ 3301.118050] Call Trace:\n"
                "[ 3301.118060]  kvm_set_memslot+0x1b0/0x5f0 [kvm]\n"
                "[ 3301.118070]  __kvm_set_memory_region+0x3b8/0x460 [kvm]\n"
                "[ 3301.118080] ---[ end trace 0000000000000000 ]---\n",
                "BUG: unable to handle kernel paging request in kvm_set_memslot",
                EVIDENCE_PAGING,
                "kvm_set_memslot",
        },
        {
                "general protection fault, then the panic it causes",
                "[  812.330000] general protection fault, probably for non-canonical address 0xdffffc0000000002: 0000 [#1] PREEMPT SMP KASAN\n"
                "[  812.330010] KASAN: null-ptr-deref in range [0x0000000000000010-0x0000000000000017]\n"
                "[  812.330020] CPU: 1 PID: 3 Comm: kworker/1:0 Not tainted 6.6.0 #1\n"
                "[  812.330030] Workqueue: events kvm_async_pf_execute\n"
                "[  812.330040] RIP: 0010:kvm_async_pf_execute+0x12c/0x680\n"
                "[  812.330050] Call Trace:\n"
                "[  812.330060]  <TASK>\n"
                "[  812.330070]  process_one_work+0x87a/0x15c0\n"
                "[  812.330080]  worker_thread+0x855/0x1200\n"
                "[  812.330090]  kthread+0x2cd/0x3b0\n"
                "[  812.330100]  ret_from_fork+0x48/0x80\n"
                "[  812.330110]  </TASK>\n"
                "[  812.330120] ---[ end trace 0000000000000000 ]---\n"
                "[  812.330130] Kernel panic - not syncing: Fatal exception\n"
                "[  812.330140] Kernel Offset: disabled\n"
                "[  812.330150] ---[ end Kernel panic - not syncing: Fatal exception ]---\n",
                "general protection fault in kvm_async_pf_execute",
                EVIDENCE_GPF,
                "kvm_async_pf_execute",
        },
        {
                "KASAN use-after-free",
                "[  101.000001] ==================================================================\n"
                "[  101.000002] BUG: KASAN: slab-use-after-free in kvm_vcpu_release+0x52/0x70\n"
                "[  101.000003] Read of size 8 at addr ffff88810c2e5018 by task vmm/1234\n"
                "[  101.000004] \n"
                "[  101.000005] CPU: 0 PID: 1234 Comm: vmm Not tainted 6.6.0 #1\n"
                "[  101.000006] Call Trace:\n"
                "[  101.000007]  <TASK>\n"
                "[  101.000008]  dump_stack_lvl+0x7d/0xa0\n"
                "[  101.000009]  print_report+0xc2/0x610\n"
                "[  101.000010]  kasan_report+0xb5/0xe0\n"
                "[  101.000011]  kvm_vcpu_release+0x52/0x70\n"
                "[  101.000012]  __fput+0x270/0xb70\n"
                "[  101.000013]  </TASK>\n"
                "[  101.000014] \n"
                "[  101.000015] Allocated by task 1200:\n"
                "[  101.000016]  kasan_save_stack+0x22/0x40\n"
                "[  101.000017]  kvm_vm_ioctl_create_vcpu+0x1a5/0x8a0\n"
                "[  101.000018] \n"
                "[  101.000019] Freed by task 1201:\n"
                "[  101.000020]  kfree+0xd2/0x1b0\n"
                "[  101.000021]  kvm_destroy_vm+0x3c4/0x7a0\n"
                "[  101.000022] ==================================================================\n",
                "KASAN: slab-use-after-free Read in kvm_vcpu_release",
                EVIDENCE_KASAN,
                "kvm_vcpu_release",
        },
        {
                "KFENCE",
                "[  200.000001] ==================================================================\n"
                "[  200.000002] BUG: KFENCE: use-after-free read in kvm_io_bus_get_dev+0x7a/0x120\n"
                "[  200.000003] \n"
                "[  200.000004] Use-after-free read at 0x000000006d5bd3ea (in kfence-#214):\n"
                "[  200.000005]  kvm_io_bus_get_dev+0x7a/0x120\n"
                "[  200.000006]  kvm_vm_ioctl+0x4f2/0xc80\n"
                "[  200.000007]  __x64_sys_ioctl+0x8c/0xc0\n"
                "[  200.000008] ==================================================================\n",
                "KFENCE: use-after-free read in kvm_io_bus_get_dev",
                EVIDENCE_KFENCE,
                "kvm_io_bus_get_dev",
        },
        {
                "UBSAN array index",
                "[    9.200000] ================================================================================\n"
                "[    9.200001] UBSAN: array-index-out-of-bounds in arch/x86/kvm/lapic.c:1241:22\n"
                "[    9.200002] index 33 is out of range for type 'u32 [32]'\n"
                "[    9.200003] CPU: 1 PID: 77 Comm: vmm Not tainted 6.6.0 #1\n"
                "[    9.200004] Call Trace:\n"
                "[    9.200005]  <TASK>\n"
                "[    9.200006]  dump_stack_lvl+0x48/0x70\n"
                "[    9.200007]  __ubsan_handle_out_of_bounds+0xc6/0x110\n"
                "[    9.200008]  kvm_apic_set_irq+0x4b3/0x4c0\n"
                "[    9.200009]  kvm_irq_delivery_to_apic+0x1d8/0x3e0\n"
                "[    9.200010]  </TASK>\n"
                "[    9.200011] ================================================================================\n",
                "UBSAN: array-index-out-of-bounds in kvm_apic_set_irq",
                EVIDENCE_UBSAN,
                "kvm_apic_set_irq",
        },
        {
                "lockdep: circular locking dependency",
                "[  300.000001] ======================================================\n"
                "[  300.000002] WARNING: possible circular locking dependency detected\n"
                "[  300.000003] 6.6.0 #1 Not tainted\n"
                "[  300.000004] ------------------------------------------------------\n"
                "[  300.000005] rmmod/881 is trying to acquire lock:\n"
                "[  300.000006] ffffffffc0a1b2c8 (kvm_lock){+.+.}-{3:3}, at: kvm_disable_virtualization+0x1c/0x60 [kvm]\n"
                "[  300.000007] \n"
                "[  300.000008] but task is already holding lock:\n"
                "[  300.000009] ffffffff82a5c1d0 (cpu_hotplug_lock){++++}-{0:0}, at: cpus_read_lock+0x10/0x20\n"
                "[  300.000010] \n"
                "[  300.000011] which lock already depends on the new lock.\n"
                "[  300.000012] stack backtrace:\n"
                "[  300.000013] Call Trace:\n"
                "[  300.000014]  dump_stack_lvl+0x57/0x90\n"
                "[  300.000015]  __lock_acquire+0x1f8e/0x3fd0\n"
                "[  300.000016]  lock_acquire+0xc2/0x2b0\n"
                "[  300.000017]  __mutex_lock+0x9a/0xb60\n"
                "[  300.000018]  kvm_disable_virtualization+0x1c/0x60 [kvm]\n",
                "possible deadlock in kvm_disable_virtualization",
                EVIDENCE_LOCKDEP,
                "kvm_disable_virtualization",
        },
        {
                "lockdep: inconsistent lock state",
                "[  310.000001] ================================\n"
                "[  310.000002] WARNING: inconsistent lock state\n"
                "[  310.000003] 6.6.0 #1 Not tainted\n"
                "[  310.000004] --------------------------------\n"
                "[  310.000005] inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage.\n"
                "[  310.000006] swapper/0/0 [HC1[1]:SC0[0]:HE0:SE1] takes:\n"
                "[  310.000007] ffff888100a8c018 (&kvm->mmu_lock){?.+.}-{2:2}, at: kvm_mmu_notifier_invalidate_range_start+0x5a/0x300\n"
                "[  310.000008] {HARDIRQ-ON-W} state was registered at:\n"
                "[  310.000009]   lock_acquire+0xc2/0x2b0\n"
                "[  310.000010]   _raw_spin_lock+0x2b/0x40\n"
                "[  310.000011]   kvm_mmu_load+0x4e/0x640\n"
                "[  310.000012] stack backtrace:\n"
                "[  310.000013] Call Trace:\n"
                "[  310.000014]  <IRQ>\n"
                "[  310.000015]  dump_stack_lvl+0x57/0x90\n"
                "[  310.000016]  mark_lock+0x95e/0xc30\n"
                "[  310.000017]  __lock_acquire+0xcc6/0x3fd0\n"
                "[  310.000018]  lock_acquire+0xc2/0x2b0\n"
                "[  310.000019]  _raw_spin_lock+0x2b/0x40\n"
                "[  310.000020]  kvm_mmu_notifier_invalidate_range_start+0x5a/0x300\n",
                "inconsistent lock state in kvm_mmu_notifier_invalidate_range_start",
                EVIDENCE_LOCKDEP,
                "kvm_mmu_notifier_invalidate_range_start",
        },
        {
                "lockdep: suspicious RCU usage",
                "[   12.000001] =============================\n"
                "[   12.000002] WARNING: suspicious RCU usage\n"
                "[   12.000003] 6.6.0 #1 Not tainted\n"
                "[   12.000004] -----------------------------\n"
                "[   12.000005] arch/x86/kvm/../../../virt/kvm/kvm_main.c:2504 suspicious rcu_dereference_check() usage!\n"
                "[   12.000006] \n"
                "[   12.000007] stack backtrace:\n"
                "[   12.000008] Call Trace:\n"
                "[   12.000009]  dump_stack_lvl+0x57/0x90\n"
                "[   12.000010]  lockdep_rcu_suspicious+0x155/0x1b0\n"
                "[   12.000011]  kvm_vcpu_gfn_to_memslot+0x2b5/0x360\n"
                "[   12.000012]  kvm_vcpu_read_guest_page+0x1c/0x70\n",
                "WARNING: suspicious RCU usage in kvm_vcpu_gfn_to_memslot",
                EVIDENCE_LOCKDEP,
                "kvm_vcpu_gfn_to_memslot",
        },
        {
                "RCU stall, named after the ioctl handler the CPU was stuck in",
                "[  900.000001] rcu: INFO: rcu_preempt self-detected stall on CPU\n"
                "[  900.000002] rcu: \t1-....: (10500 ticks this GP) idle=3c4/1/0x4000000000000000 softirq=1/1 fqs=5249\n"
                "[  900.000003] \t(t=10500 jiffies g=12345 q=44)\n"
                "[  900.000004] NMI backtrace for cpu 1\n"
                "[  900.000005] Call Trace:\n"
                "[  900.000006]  <IRQ>\n"
                "[  900.000007]  dump_stack_lvl+0x57/0x90\n"
                "[  900.000008]  rcu_dump_cpu_stacks+0x1b3/0x2a0\n"
                "[  900.000009]  rcu_sched_clock_irq+0x1a2f/0x2b60\n"
                "[  900.000010]  update_process_times+0x134/0x1c0\n"
                "[  900.000011]  tick_sched_timer+0x82/0x140\n"
                "[  900.000012]  __hrtimer_run_queues+0x175/0x2f0\n"
                "[  900.000013]  hrtimer_interrupt+0x2f9/0x7e0\n"
                "[  900.000014]  __sysvec_apic_timer_interrupt+0xe3/0x340\n"
                "[  900.000015]  sysvec_apic_timer_interrupt+0x92/0xc0\n"
                "[  900.000016]  </IRQ>\n"
                "[  900.000017]  <TASK>\n"
                "[  900.000018]  asm_sysvec_apic_timer_interrupt+0x1a/0x20\n"
                "[  900.000019] RIP: 0010:kvm_zap_gfn_range+0x1b2/0x560 [kvm]\n"
                "[  900.000020]  kvm_set_memslot+0x2e1/0x5f0 [kvm]\n"
                "[  900.000021]  kvm_vm_ioctl+0x57a/0x1760 [kvm]\n"
                "[  900.000022]  __x64_sys_ioctl+0x8c/0xc0\n"
                "[  900.000023]  do_syscall_64+0x3b/0x90\n"
                "[  900.000024]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8\n"
                "[  900.000025]  </TASK>\n",
                /* ioctl is too generic to name a stall: the handler above it does */
                "INFO: rcu detected stall in kvm_vm_ioctl",
                EVIDENCE_RCU_STALL,
                "kvm_vm_ioctl",
        },
        {
                "soft lockup",
                "[ 1022.000001] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [vmm:2222]\n"
                "[ 1022.000002] Modules linked in: kvm_intel kvm\n"
                "[ 1022.000003] CPU: 0 PID: 2222 Comm: vmm Not tainted 6.1.0 #1\n"
                "[ 1022.000004] RIP: 0010:kvm_mmu_zap_oldest_mmu_pages+0x42/0x160 [kvm]\n"
                "[ 1022.000005] Call Trace:\n"
                "[ 1022.000006]  <TASK>\n"
                "[ 1022.000007]  kvm_mmu_change_mmu_pages+0x66/0x80 [kvm]\n"
                "[ 1022.000008]  kvm_vm_ioctl_set_nr_mmu_pages+0x2f/0x50 [kvm]\n"
                "[ 1022.000009]  kvm_arch_vm_ioctl+0x4b1/0xfa0 [kvm]\n"
                "[ 1022.000010]  kvm_vm_ioctl+0x1e6/0x1760 [kvm]\n"
                "[ 1022.000011]  __x64_sys_ioctl+0x8c/0xc0\n"
                "[ 1022.000012]  do_syscall_64+0x3b/0x90\n"
                "[ 1022.000013]  </TASK>\n",
                "BUG: soft lockup in kvm_vm_ioctl",
                EVIDENCE_LOCKUP,
                "kvm_vm_ioctl",
        },
        {
                "hard lockup",
                "[ 1500.000001] NMI watchdog: Watchdog detected hard LOCKUP on cpu 3\n"
                "[ 1500.000002] CPU: 3 PID: 4000 Comm: vmm Not tainted 6.1.0 #1\n"
                "[ 1500.000003] RIP: 0010:native_queued_spin_lock_slowpath+0x5c/0x2d0\n"
                "[ 1500.000004] Call Trace:\n"
                "[ 1500.000005]  <TASK>\n"
                "[ 1500.000006]  _raw_spin_lock+0x2b/0x40\n"
                "[ 1500.000007]  kvm_mmu_page_fault+0x3a/0x7a0 [kvm]\n"
                "[ 1500.000008]  vmx_handle_exit+0x12/0x50 [kvm_intel]\n"
                "[ 1500.000009]  kvm_arch_vcpu_ioctl_run+0xc8e/0x1a50 [kvm]\n"
                "[ 1500.000010]  kvm_vcpu_ioctl+0x24d/0x6d0 [kvm]\n"
                "[ 1500.000011]  __x64_sys_ioctl+0x8c/0xc0\n"
                "[ 1500.000012]  do_syscall_64+0x3b/0x90\n"
                "[ 1500.000013]  </TASK>\n",
                "BUG: hard lockup in kvm_vcpu_ioctl",
                EVIDENCE_LOCKUP,
                "kvm_vcpu_ioctl",
        },
        {
                "hung task, bucketed on rtnl_lock",
                "[ 1100.000001] INFO: task kworker/u8:3:190 blocked for more than 122 seconds.\n"
                "[ 1100.000002]       Not tainted 6.1.0 #1\n"
                "[ 1100.000003] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n"
                "[ 1100.000004] task:kworker/u8:3    state:D stack:0     pid:190   ppid:2      flags:0x00004000\n"
                "[ 1100.000005] Call Trace:\n"
                "[ 1100.000006]  <TASK>\n"
                "[ 1100.000007]  __schedule+0x351/0xa20\n"
                "[ 1100.000008]  schedule+0x5d/0xe0\n"
                "[ 1100.000009]  schedule_preempt_disabled+0x14/0x30\n"
                "[ 1100.000010]  __mutex_lock.constprop.0+0x3a9/0x6e0\n"
                "[ 1100.000011]  rtnl_lock+0x15/0x20\n"
                "[ 1100.000012]  linkwatch_event+0xe/0x30\n"
                "[ 1100.000013]  process_one_work+0x1c7/0x380\n"
                "[ 1100.000014]  </TASK>\n",
                "INFO: task hung in rtnl_lock",
                EVIDENCE_HUNG_TASK,
                "rtnl_lock",
        },
        {
                "kernel panic from sysrq-c",
                "[   77.101010] sysrq: Trigger a crash\n"
                "[   77.101050] Kernel panic - not syncing: sysrq triggered crash\n"
                "[   77.101300] CPU: 1 PID: 411 Comm: sh Not tainted 6.1.0-56-amd64 #1  Debian 6.1.153-1\n"
                "[   77.101500] Call Trace:\n"
                "[   77.101520]  <TASK>\n"
                "[   77.101540]  dump_stack_lvl+0x44/0x5c\n"
                "[   77.101600]  panic+0x118/0x2ed\n"
                "[   77.101660]  sysrq_handle_crash+0x16/0x20\n"
                "[   77.101700]  __handle_sysrq.cold+0x43/0x11b\n"
                "[   77.101760]  write_sysrq_trigger+0x24/0x40\n"
                "[   77.101800]  </TASK>\n"
                "[   77.102000] Kernel Offset: 0x1000000 from 0xffffffff81000000\n"
                "[   77.102100] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---\n",
                "kernel panic: sysrq triggered crash",
                EVIDENCE_PANIC,
                NULL,
        },
        {
                "OOM kill in a memory cgroup",
                "[  450.123456] Memory cgroup out of memory: Killed process 31337 (hvt-oom-vmm) total-vm:1050112kB, "
                "anon-rss:32768kB, file-rss:1024kB, shmem-rss:0kB, UID:0 pgtables:120kB oom_score_adj:0\n",
                "memory cgroup out of memory: killed hvt-oom-vmm",
                EVIDENCE_OOM,
                NULL,
        },
        {
                "kmemleak report",
                "BUG: memory leak\n"
                "unreferenced object 0xffff888112b5e400 (size 512):\n"
                "  comm \"vmm\", pid 7001, jiffies 4295012345 (age 14.520s)\n"
                "  hex dump (first 32 bytes):\n"
                "    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................\n"
                "  backtrace:\n"
                "    [<ffffffff81c6a5b2>] kmalloc_trace+0x22/0x90\n"
                "    [<ffffffffc0a3e1b4>] kvm_vm_ioctl_register_coalesced_mmio+0x64/0x1a0 [kvm]\n"
                "    [<ffffffffc0a3a2c8>] kvm_vm_ioctl+0x8a8/0x1760 [kvm]\n",
                "memory leak in kvm_vm_ioctl_register_coalesced_mmio",
                EVIDENCE_LEAK,
                "kvm_vm_ioctl_register_coalesced_mmio",
        },
        {
                "kernel BUG at file:line",
                "[   88.000001] ------------[ cut here ]------------\n"
                "[   88.000002] kernel BUG at arch/x86/kvm/mmu/mmu.c:1085!\n"
                "[   88.000003] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\n"
                "[   88.000004] CPU: 2 PID: 999 Comm: vmm Not tainted 6.1.0 #1\n"
                "[   88.000005] RIP: 0010:pte_list_remove+0x91/0xa0 [kvm]\n"
                "[   88.000006] Call Trace:\n"
                "[   88.000007]  <TASK>\n"
                "[   88.000008]  drop_spte+0x2c/0x40 [kvm]\n"
                "[   88.000009]  </TASK>\n"
                "[   88.000010] ---[ end trace 0000000000000000 ]---\n",
                "kernel BUG in pte_list_remove",
                EVIDENCE_BUG,
                "pte_list_remove",
        },
        {
                "divide error",
                "[   66.000001] divide error: 0000 [#1] PREEMPT SMP KASAN\n"
                "[   66.000002] CPU: 0 PID: 5 Comm: vmm Not tainted 6.1.0 #1\n"
                "[   66.000003] RIP: 0010:kvm_get_tsc_khz+0x31/0x50 [kvm]\n"
                "[   66.000004] Call Trace:\n"
                "[   66.000005]  kvm_arch_vcpu_ioctl_run+0x11/0x20 [kvm]\n"
                "[   66.000006] ---[ end trace 0000000000000000 ]---\n",
                "divide error in kvm_get_tsc_khz",
                EVIDENCE_OOPS,
                "kvm_get_tsc_khz",
        },
        {
                "KMSAN",
                "[  500.000001] =====================================================\n"
                "[  500.000002] BUG: KMSAN: uninit-value in kvm_emulate_hypercall+0x52/0x1a0\n"
                "[  500.000003]  kvm_emulate_hypercall+0x52/0x1a0\n"
                "[  500.000004]  vmx_handle_exit+0x30/0x40\n"
                "[  500.000005] \n"
                "[  500.000006] Uninit was created at:\n"
                "[  500.000007]  kmem_cache_alloc+0x1f/0x30\n"
                "[  500.000008]  kvm_arch_vcpu_create+0x33/0x40\n"
                "[  500.000009] =====================================================\n",
                "KMSAN: uninit-value in kvm_emulate_hypercall",
                EVIDENCE_KMSAN,
                "kvm_emulate_hypercall",
        },
        {
                "stall reported by another CPU: its NMI backtrace joins the report (caller ids)",
                "[  700.100000][    C1] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
                "[  700.100001][    C1] rcu: \t0-...!: (1 GPs behind) idle=a1c/1/0x4000000000000000\n"
                "[  700.100002][    C1] Sending NMI from CPU 1 to CPUs 0:\n"
                "[  700.100003][    C0] NMI backtrace for cpu 0\n"
                "[  700.100004][    C0] CPU: 0 PID: 6060 Comm: vmm Not tainted 6.6.0 #1\n"
                "[  700.100005][    C0] Call Trace:\n"
                "[  700.100006][    C0]  <IRQ>\n"
                "[  700.100007][    C0]  nmi_cpu_backtrace+0x1d/0x30\n"
                "[  700.100008][    C0]  sysvec_apic_timer_interrupt+0x92/0xc0\n"
                "[  700.100009][    C0]  </IRQ>\n"
                "[  700.100010][    C0]  asm_sysvec_apic_timer_interrupt+0x1a/0x20\n"
                "[  700.100011][    C0] RIP: 0010:__kvm_mmu_topup_memory_cache+0x55/0x130\n"
                "[  700.100012][    C0]  kvm_mmu_load+0x2a/0x640\n"
                "[  700.100013][    C0]  kvm_arch_vcpu_ioctl_run+0xe1e/0x1a50\n"
                "[  700.100014][    C0]  kvm_vcpu_ioctl+0x24d/0x6d0\n"
                "[  700.100015][    C0]  __se_sys_ioctl+0x8c/0xc0\n"
                "[  700.100016][    C0]  do_syscall_64+0x3b/0x90\n",
                "INFO: rcu detected stall in kvm_vcpu_ioctl",
                EVIDENCE_RCU_STALL,
                "kvm_vcpu_ioctl",
        },
};

typedef struct Collected {
        ClassifyReport *v[64];
        size_t n;
} Collected;

static int collect(const ClassifyReport *r, void *userdata)
{
        Collected *c = userdata;
        ASSERT_TRUE(c->n < ELEMENTSOF(c->v));
        ASSERT_OK(classify_report_dup(r, &c->v[c->n]));
        c->n++;
        return 0;
}

static void collected_clear(Collected *c)
{
        for (size_t i = 0; i < c->n; i++)
                classify_report_free(c->v[i]);
        c->n = 0;
}

static void check_case(const Case *k, const ClassifyReport *r)
{
        if (!streq(r->title, k->title))
                TEST_FAIL("%s: title \"%s\", expected \"%s\"", k->name, r->title, k->title);
        if (r->kind != k->kind)
                TEST_FAIL("%s: kind %s, expected %s", k->name, evidence_kind_to_string(r->kind),
                          evidence_kind_to_string(k->kind));
        if (!streq_ptr(r->guilty, k->guilty))
                TEST_FAIL("%s: guilty \"%s\", expected \"%s\"", k->name, strna(r->guilty), strna(k->guilty));
}

static void test_every_kind(void)
{
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ClassifyReport **v = NULL;
                size_t n = 0;

                ASSERT_OK(classify_buffer(cases[i].log, strlen(cases[i].log), 0, &v, &n));
                if (n != 1)
                        TEST_FAIL("%s: %zu reports, expected 1 (first: %s)", cases[i].name, n, n ? v[0]->title : "-");
                check_case(&cases[i], v[0]);
                ASSERT_EQ(v[0]->first_seq, UINT64_MAX);
                ASSERT_TRUE(v[0]->text_len > 0);
                classify_reports_free(v, n);
        }
}

/* The same logs, without timestamps, as `dmesg --notime` or a serial console without printk.time prints them. */
static void test_without_timestamps(void)
{
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *copy = strdup(cases[i].log), *o = copy;
                ClassifyReport **v = NULL;
                size_t n = 0;

                ASSERT_TRUE(copy);
                for (const char *p = cases[i].log; *p;) {
                        const char *nl = strchr(p, '\n');
                        const char *body = p;
                        size_t len;
                        if (p[0] == '[' && strchr(p, ']') && strchr(p, ']') < nl) {
                                body = strchr(p, ']') + 1;
                                if (body[0] == '[')
                                        body = strchr(body, ']') + 1;
                                if (*body == ' ')
                                        body++;
                        }
                        len = (size_t)((nl ? nl + 1 : p + strlen(p)) - body);
                        memmove(o, body, len);
                        o += len;
                        p = nl ? nl + 1 : p + strlen(p);
                }
                *o = 0;
                ASSERT_OK(classify_buffer(copy, strlen(copy), 0, &v, &n));
                if (n != 1)
                        TEST_FAIL("%s (no timestamps): %zu reports", cases[i].name, n);
                check_case(&cases[i], v[0]);
                classify_reports_free(v, n);
                free(copy);
        }
}

/* Split in every possible pair of chunks: reports must not depend on read boundaries. */
static void test_streaming_chunks(void)
{
        const Case *k = &cases[0];
        size_t len = strlen(k->log);

        for (size_t cut = 0; cut <= len; cut += 7) {
                _cleanup_(classifier_freep) Classifier *c = NULL;
                Collected col = {};

                ASSERT_OK(classifier_new(0, collect, &col, &c));
                ASSERT_OK(classifier_feed(c, k->log, cut));
                ASSERT_OK(classifier_feed(c, k->log + cut, len - cut));
                ASSERT_OK(classifier_flush(c));
                ASSERT_EQ(col.n, 1);
                check_case(k, col.v[0]);
                ASSERT_EQ(col.v[0]->first_line, 2); /* the "cut here" line is context, not the report's start */
                ASSERT_EQ(col.v[0]->last_line, 15);
                ASSERT_CONTAINS(col.v[0]->text, "cut here");
                collected_clear(&col);
        }
}

/* A report closes at its end marker, without waiting for more input or a flush. */
static void test_emitted_at_end_marker(void)
{
        _cleanup_(classifier_freep) Classifier *c = NULL;
        Collected col = {};
        const char *kasan = cases[5].log;

        ASSERT_OK(classifier_new(0, collect, &col, &c));
        ASSERT_TRUE(!classifier_has_pending(c));
        ASSERT_OK(classifier_feed(c, kasan, strlen(kasan)));
        ASSERT_TRUE(classifier_has_pending(c));
        /* the closing "=====" ends it; the next line decides that no panic follows */
        ASSERT_OK(classifier_feed_line(c, "[  101.100000] vmm[1234]: segfault", 35));
        ASSERT_TRUE(!classifier_has_pending(c));
        ASSERT_EQ(col.n, 1);
        ASSERT_STREQ(col.v[0]->title, "KASAN: slab-use-after-free Read in kvm_vcpu_release");
        ASSERT_TRUE(!col.v[0]->panicked);
        ASSERT_OK(classifier_flush(c));
        ASSERT_EQ(col.n, 1);
        collected_clear(&col);
}

static void test_panic_joins_report(void)
{
        ClassifyReport **v = NULL;
        size_t n = 0;
        const char *gpf = cases[4].log;

        ASSERT_OK(classify_buffer(gpf, strlen(gpf), 0, &v, &n));
        ASSERT_EQ(n, 1);
        ASSERT_TRUE(v[0]->panicked);
        ASSERT_CONTAINS(v[0]->text, "Fatal exception");
        classify_reports_free(v, n);
}

static void test_clean_logs(void)
{
        static const char *const clean[] = {
                "[    0.000000] Linux version 6.1.0-56-amd64\n[    1.2] kvm: Nested Virtualization enabled\n",
                "[   72.159680] WARNING: /etc/ssh/moduli does not exist, using fixed modulus\n",
                "[   10.000000] INFO: lockdep is turned off.\n",
                "[   30.000000] EXT4-fs (vda): INFO: recovery required on readonly filesystem\n",
                "[   40.000000] ODEBUG: Out of memory. ODEBUG disabled\n",
                "[   50.000000] vmm[99]: segfault at 0 ip 0000000000401000 sp 00007ffc error 4 in vmm[400000+1000]\n",
                "",
                "\n\n\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(clean); i++) {
                ClassifyReport **v = NULL;
                size_t n = 0;
                ASSERT_OK(classify_buffer(clean[i], strlen(clean[i]), 0, &v, &n));
                if (n != 0)
                        TEST_FAIL("clean log %zu gave \"%s\"", i, v[0]->title);
                classify_reports_free(v, n);
        }
}

/* With CONFIG_PRINTK_CALLER two tasks' splats interleave line by line and still come out whole. */
static void test_interleaved_callers(void)
{
        static const char log[] =
                "[   10.000001][  T100] WARNING: CPU: 0 PID: 100 at virt/kvm/kvm_main.c:1 kvm_first_warn+0x1/0x2\n"
                "[   10.000002][  T200] BUG: kernel NULL pointer dereference, address: 0000000000000000\n"
                "[   10.000003][  T100] RIP: 0010:kvm_first_warn+0x1/0x2\n"
                "[   10.000004][  T200] RIP: 0010:kvm_second_oops+0x3/0x4\n"
                "[   10.000005][  T100] Call Trace:\n"
                "[   10.000006][  T200] Call Trace:\n"
                "[   10.000007][  T100]  caller_one+0x1/0x2\n"
                "[   10.000008][  T200]  caller_two+0x1/0x2\n"
                "[   10.000009][  T100] ---[ end trace 0000000000000000 ]---\n"
                "[   10.000010][  T200] ---[ end trace 0000000000000000 ]---\n";
        ClassifyReport **v = NULL;
        size_t n = 0;

        ASSERT_OK(classify_buffer(log, strlen(log), 0, &v, &n));
        ASSERT_EQ(n, 2);
        /* in order of their first line */
        if (v[0]->first_line > v[1]->first_line) {
                ClassifyReport *t = v[0];
                v[0] = v[1];
                v[1] = t;
        }
        ASSERT_STREQ(v[0]->title, "WARNING in kvm_first_warn");
        ASSERT_STREQ(v[1]->title, "BUG: unable to handle kernel NULL pointer dereference in kvm_second_oops");
        ASSERT_TRUE(!strstr(v[0]->text, "T200"));
        classify_reports_free(v, n);
}

/* A second report right after the first (no caller ids): both are found, each with its own title. */
static void test_two_reports(void)
{
        char *log = NULL;
        ClassifyReport **v = NULL;
        size_t n = 0;

        ASSERT_TRUE(asprintf(&log, "%s%s", cases[14].log, cases[1].log) > 0);
        ASSERT_OK(classify_buffer(log, strlen(log), 0, &v, &n));
        ASSERT_EQ(n, 2);
        check_case(&cases[14], v[0]);
        check_case(&cases[1], v[1]);
        classify_reports_free(v, n);
        free(log);
}

static void kmsg_record(KmsgRecord *r, unsigned facility, uint64_t seq, const char *text)
{
        *r = (KmsgRecord){
                .priority = 4,
                .facility = facility,
                .seq = seq,
                .ts_usec = 1000000 + seq,
                .text = (char *)text,
                .text_len = strlen(text),
        };
}

static void feed_warning_records(Classifier *c, unsigned facility)
{
        static const char *const lines[] = {
                "------------[ cut here ]------------",
                "WARNING: CPU: 0 PID: 1 at drivers/hvt/hvt.c:42 hvt_test_warn+0x12/0x40",
                "RIP: 0010:hvt_test_warn+0x12/0x40",
                "Call Trace:",
                " hvt_test_caller+0x1/0x2",
                "---[ end trace 0000000000000000 ]---",
        };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                KmsgRecord r;
                kmsg_record(&r, facility, 100 + i, lines[i]);
                ASSERT_OK(classifier_feed_kmsg(c, &r));
        }
}

/* Userspace can write anything into /dev/kmsg: its lines are never the kernel's splats, unless opted in. */
static void test_kmsg_facility(void)
{
        for (int mode = 0; mode < 3; mode++) {
                _cleanup_(classifier_freep) Classifier *c = NULL;
                Collected col = {};
                unsigned flags = mode == 2 ? CLASSIFY_USER_FACILITY : 0;
                unsigned facility = mode == 0 ? KMSG_FACILITY_KERNEL : KMSG_FACILITY_USER;

                ASSERT_OK(classifier_new(flags, collect, &col, &c));
                feed_warning_records(c, facility);
                ASSERT_OK(classifier_flush(c));
                if (mode == 1) {
                        ASSERT_EQ(col.n, 0);
                        continue;
                }
                ASSERT_EQ(col.n, 1);
                ASSERT_STREQ(col.v[0]->title, "WARNING in hvt_test_warn");
                ASSERT_EQ(col.v[0]->first_seq, 101);
                ASSERT_EQ(col.v[0]->last_seq, 105);
                ASSERT_EQ(col.v[0]->ts_usec, 1000101);
                collected_clear(&col);
        }
}

/* Live, a report without an end marker is over once its context has been silent for a while. */
static void test_live_silence(void)
{
        _cleanup_(classifier_freep) Classifier *c = NULL;
        Collected col = {};
        KmsgRecord r;

        ASSERT_OK(classifier_new(0, collect, &col, &c));
        kmsg_record(&r, KMSG_FACILITY_KERNEL, 1, "INFO: task vmm:77 blocked for more than 122 seconds.");
        r.ts_usec = 5 * USEC_PER_SEC;
        ASSERT_OK(classifier_feed_kmsg(c, &r));
        kmsg_record(&r, KMSG_FACILITY_KERNEL, 2, "Call Trace:");
        r.ts_usec = 5 * USEC_PER_SEC + 10;
        ASSERT_OK(classifier_feed_kmsg(c, &r));
        kmsg_record(&r, KMSG_FACILITY_KERNEL, 3, " kvm_vm_release+0x1/0x2");
        r.ts_usec = 5 * USEC_PER_SEC + 20;
        ASSERT_OK(classifier_feed_kmsg(c, &r));
        ASSERT_EQ(col.n, 0);
        /* an unrelated message much later: the hung-task report is complete, and this is not part of it */
        kmsg_record(&r, KMSG_FACILITY_KERNEL, 4, " kvm_vcpu_release+0x1/0x2");
        r.ts_usec = 60 * USEC_PER_SEC;
        ASSERT_OK(classifier_feed_kmsg(c, &r));
        ASSERT_EQ(col.n, 1);
        ASSERT_STREQ(col.v[0]->title, "INFO: task hung in kvm_vm_release");
        ASSERT_EQ(col.v[0]->last_seq, 3);
        ASSERT_TRUE(!classifier_has_pending(c));
        collected_clear(&col);
}

/* A /dev/kmsg dump (cat /dev/kmsg > file) is recognised line by line, facility included. */
static void test_kmsg_text_dump(void)
{
        static const char dump[] =
                "6,1,5000,-;Linux version 6.1.0\n"
                " SUBSYSTEM=cpu\n"
                "12,2,6000,-;WARNING: CPU: 0 PID: 1 at fake.c:1 userspace_fake+0x1/0x2\n"
                "4,3,7000,-,caller=T1;WARNING: CPU: 0 PID: 1 at virt/kvm/kvm_main.c:9 kvm_real_warn+0x1/0x2\n"
                "4,4,7001,-,caller=T1;RIP: 0010:kvm_real_warn+0x1/0x2\n"
                "4,5,7002,-,caller=T1;---[ end trace 0000000000000000 ]---\n";
        ClassifyReport **v = NULL;
        size_t n = 0;

        ASSERT_OK(classify_buffer(dump, strlen(dump), 0, &v, &n));
        ASSERT_EQ(n, 1);
        ASSERT_STREQ(v[0]->title, "WARNING in kvm_real_warn");
        ASSERT_EQ(v[0]->first_seq, 3);
        classify_reports_free(v, n);
}

static void test_other_prefixes(void)
{
        static const char *const logs[] = {
                /* journalctl -k */
                "Nov 22 02:19:00 lab1 kernel: WARNING: CPU: 3 PID: 77 at virt/kvm/kvm_main.c:5 kvm_j_warn+0x1/0x2\n"
                "Nov 22 02:19:00 lab1 kernel: RIP: 0010:kvm_j_warn+0x1/0x2\n",
                /* dmesg -r: syslog priority prefix */
                "<4>[   12.000000] WARNING: CPU: 3 PID: 77 at virt/kvm/kvm_main.c:5 kvm_j_warn+0x1/0x2\n"
                "<4>[   12.000001] RIP: 0010:kvm_j_warn+0x1/0x2\n",
                /* a console that lost a few lines */
                "** 3 printk messages dropped ** [   12.000000] WARNING: CPU: 3 PID: 77 at a.c:5 kvm_j_warn+0x1/0x2\n"
                "[   12.000001] RIP: 0010:kvm_j_warn+0x1/0x2\n",
                /* CRLF from a serial console */
                "[   12.000000] WARNING: CPU: 3 PID: 77 at a.c:5 kvm_j_warn+0x1/0x2\r\n[   12.000001] RIP: 0010:kvm_j_warn+0x1/0x2\r\n",
        };

        for (size_t i = 0; i < ELEMENTSOF(logs); i++) {
                ClassifyReport **v = NULL;
                size_t n = 0;
                ASSERT_OK(classify_buffer(logs[i], strlen(logs[i]), 0, &v, &n));
                if (n != 1 || !streq(v[0]->title, "WARNING in kvm_j_warn"))
                        TEST_FAIL("prefix form %zu: %zu reports, \"%s\"", i, n, n ? v[0]->title : "-");
                classify_reports_free(v, n);
        }
}

/* Nothing an input can do makes a report (or a line) unbounded. */
static void test_limits(void)
{
        _cleanup_(classifier_freep) Classifier *c = NULL;
        Collected col = {};
        _cleanup_free_ char *huge = malloc(1 << 20);
        static const char hdr[] = "[    1.000000] WARNING: CPU: 0 PID: 1 at a.c:1 kvm_big+0x1/0x2\n"
                                  "[    1.000001] RIP: 0010:kvm_big+0x1/0x2\n";

        ASSERT_TRUE(huge);
        memset(huge, 'x', 1 << 20);
        ASSERT_OK(classifier_new(0, collect, &col, &c));
        ASSERT_OK(classifier_feed(c, hdr, strlen(hdr)));
        /* one line of a megabyte: cut, not buffered whole */
        ASSERT_OK(classifier_feed(c, huge, 1 << 20));
        ASSERT_OK(classifier_feed(c, "\n", 1));
        for (unsigned i = 0; i < 3 * CLASSIFY_REPORT_LINES_MAX; i++) {
                char line[80];
                int l = snprintf(line, sizeof line, "[    1.%06u] filler line %u\n", i % 1000000, i);
                ASSERT_OK(classifier_feed(c, line, (size_t)l));
        }
        ASSERT_OK(classifier_flush(c));
        ASSERT_EQ(col.n, 1);
        ASSERT_TRUE(col.v[0]->truncated);
        ASSERT_TRUE(col.v[0]->text_len <= CLASSIFY_REPORT_TEXT_MAX);
        ASSERT_STREQ(col.v[0]->title, "WARNING in kvm_big");
        collected_clear(&col);
}

static void test_title_sanitize(void)
{
        static const struct {
                const char *in, *out;
        } t[] = {
                { "kernel panic: Out of memory and no killable processes (pid 1234)",
                  "kernel panic: Out of memory and no killable processes (pid NUM)" },
                { "BUG: Bad page state 0xffffea0004a3b2c0 in syz-executor.3", "BUG: Bad page state ADDR in syz-executor" },
                { "WARNING at fs/x.c:123 foo+0x12/0x80", "WARNING at fs/x.c:LINE foo" },
                { "a\tb  c\x01 d", "a b c d" },
        };
        char long_title[300];

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *s = title_sanitize(t[i].in);
                ASSERT_STREQ(s, t[i].out);
        }
        memset(long_title, 'a', sizeof long_title - 1);
        long_title[sizeof long_title - 1] = 0;
        {
                _cleanup_free_ char *s = title_sanitize(long_title);
                ASSERT_EQ(strlen(s), CLASSIFY_TITLE_MAX);
        }
}

static void test_title_kind(void)
{
        ASSERT_EQ(classify_title_kind("WARNING in f"), EVIDENCE_WARNING);
        ASSERT_EQ(classify_title_kind("WARNING: ODEBUG bug in f"), EVIDENCE_WARNING);
        ASSERT_EQ(classify_title_kind("WARNING: suspicious RCU usage in f"), EVIDENCE_LOCKDEP);
        ASSERT_EQ(classify_title_kind("possible deadlock in f"), EVIDENCE_LOCKDEP);
        ASSERT_EQ(classify_title_kind("KASAN: use-after-free Read in f"), EVIDENCE_KASAN);
        ASSERT_EQ(classify_title_kind("kernel BUG in f"), EVIDENCE_BUG);
        ASSERT_EQ(classify_title_kind("BUG: Bad page state in f"), EVIDENCE_BUG);
        ASSERT_EQ(classify_title_kind("kernel panic: sysrq triggered crash"), EVIDENCE_PANIC);
        ASSERT_EQ(classify_title_kind("unexpected kernel reboot"), EVIDENCE_REBOOT);
        ASSERT_EQ(classify_title_kind_prefix("KASAN: use-after-free Read in f"), strlen("KASAN: use-after-free Read"));
        ASSERT_EQ(classify_title_kind_prefix("kernel panic: x"), strlen("kernel panic: x"));
}

static void test_rust_demangle(void)
{
        static const struct {
                const char *in, *out;
        } t[] = {
                { "_RNvMs3_NtCshgDM7dBCdno_11rust_binder7processNtB5_7Process10update_ref",
                  "<rust_binder::process::Process>::update_ref" },
                { "_RNvCscSpY9Juk0HT_7___rustc17rust_begin_unwind", "__rustc::rust_begin_unwind" },
                { "_RNvNtCs9jEwPDbx20M_4core9panicking9panic_fmt", "core::panicking::panic_fmt" },
                { "_RNCNvCs1234_5hello4main0", "hello::main::{closure#0}" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_free_ char *s = rust_demangle(t[i].in);
                ASSERT_STREQ(s, t[i].out);
        }
        ASSERT_TRUE(!rust_demangle("kvm_vcpu_ioctl"));
        ASSERT_TRUE(!rust_demangle("_R"));
        ASSERT_TRUE(!rust_demangle("_RNvB_3foo"));   /* backref to itself */
        ASSERT_TRUE(!rust_demangle("_RNvCs_99foo")); /* identifier longer than the symbol */
}

static void test_dedup(void)
{
        _cleanup_(title_table_freep) TitleTable *t = NULL;
        const TitleEntry *e;
        struct json_object *j;

        ASSERT_OK(title_table_new(2, &t));
        ASSERT_EQ(title_table_add(t, "WARNING in f", EVIDENCE_WARNING, 100, &e), 1);
        ASSERT_EQ(title_table_add(t, "WARNING in f", EVIDENCE_WARNING, 50, NULL), 0);
        ASSERT_EQ(title_table_add(t, "WARNING in f", EVIDENCE_WARNING, 300, &e), 0);
        ASSERT_EQ(e->count, 3);
        ASSERT_EQ(e->first_seen, 50);
        ASSERT_EQ(e->last_seen, 300);
        ASSERT_EQ(title_table_add(t, "possible deadlock in g", EVIDENCE_LOCKDEP, 400, NULL), 1);
        ASSERT_EQ(title_table_add(t, "one too many", EVIDENCE_BUG, 500, NULL), -ENOSPC);
        ASSERT_EQ(title_table_overflow(t), 1);
        ASSERT_EQ(title_table_size(t), 2);
        ASSERT_STREQ(title_table_get(t, 1)->title, "possible deadlock in g");
        ASSERT_TRUE(!title_table_find(t, "one too many"));
        ASSERT_TRUE(!title_table_get(t, 2));
        j = title_table_to_json(t);
        ASSERT_TRUE(j);
        ASSERT_EQ(json_object_array_length(j), 2);
        ASSERT_EQ(json_object_get_int64(json_object_object_get(json_object_array_get_idx(j, 0), "count")), 3);
        json_object_put(j);
        ASSERT_EQ(title_table_new(0, &t), -EINVAL);
}

static void test_json(void)
{
        ClassifyReport **v = NULL;
        size_t n = 0;
        struct json_object *o;

        ASSERT_OK(classify_buffer(cases[5].log, strlen(cases[5].log), 0, &v, &n));
        ASSERT_EQ(n, 1);
        o = classify_report_to_json(v[0], true);
        ASSERT_TRUE(o);
        ASSERT_STREQ(json_object_get_string(json_object_object_get(o, "title")),
                     "KASAN: slab-use-after-free Read in kvm_vcpu_release");
        ASSERT_STREQ(json_object_get_string(json_object_object_get(o, "kind")), "kasan");
        ASSERT_STREQ(json_object_get_string(json_object_object_get(o, "guilty")), "kvm_vcpu_release");
        ASSERT_EQ(json_object_get_int(json_object_object_get(o, "first_line")), 2);
        ASSERT_EQ(json_object_get_int(json_object_object_get(o, "last_line")), 22);
        ASSERT_CONTAINS(json_object_get_string(json_object_object_get(o, "text")), "Freed by task");
        ASSERT_TRUE(json_object_array_length(json_object_object_get(o, "alt_titles")) >= 1);
        json_object_put(o);
        classify_reports_free(v, n);
}

/* A negative callback return stops the feed and comes back to the caller. */
static int fail_cb(const ClassifyReport *r, void *userdata)
{
        return -ECANCELED;
}

static void test_callback_error(void)
{
        _cleanup_(classifier_freep) Classifier *c = NULL;

        ASSERT_OK(classifier_new(0, fail_cb, NULL, &c));
        ASSERT_OK(classifier_feed(c, cases[0].log, strlen(cases[0].log)));
        ASSERT_EQ(classifier_feed_line(c, "[ 41.2] next", 12), -ECANCELED);
}

int main(void)
{
        test_every_kind();
        test_without_timestamps();
        test_streaming_chunks();
        test_emitted_at_end_marker();
        test_panic_joins_report();
        test_clean_logs();
        test_interleaved_callers();
        test_two_reports();
        test_kmsg_facility();
        test_live_silence();
        test_kmsg_text_dump();
        test_other_prefixes();
        test_limits();
        test_title_sanitize();
        test_title_kind();
        test_rust_demangle();
        test_dedup();
        test_json();
        test_callback_error();
        return 0;
}
