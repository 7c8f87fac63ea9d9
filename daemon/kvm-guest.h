/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tiny guest every hvtorture VM runs: 32-bit protected mode, flat
 * segments, no paging, so it reaches any guest-physical address below 4 GiB
 * (memslots above 1 MiB included) without page tables to build per VM.
 *
 * Slot 0 starts at GPA 0 and holds, in its first pages:
 *   GUEST_CTRL      a control block the VMM writes (mode, touch ranges)
 *   GUEST_CODE      the guest's code (kvm-guest.S)
 *   GUEST_COUNTERS  one u32 per vCPU that the guest bumps every loop
 * Each vCPU starts at GUEST_CODE with EBX = its counter, EDX = GUEST_PORT.
 *
 * Modes (GUEST_CTRL_MODE, re-read every loop, so the VMM can flip them
 * while the guest runs):
 *   EXIT   bump the counter, OUT to GUEST_PORT (a KVM_EXIT_IO per loop)
 *   SPIN   bump the counter, never exit: a vCPU stays inside KVM_RUN, so a
 *          SIGKILL provably lands there while the counter keeps moving
 *   HALT   bump the counter, HLT (KVM_EXIT_HLT: there is no in-kernel irqchip)
 *   TOUCH  write one u32 every GUEST_CTRL_STRIDE bytes of each range in
 *          GUEST_CTRL_RANGES, then bump and OUT (memslot churn: a deleted
 *          slot's GPAs become KVM_EXIT_MMIO)
 *
 * This header is included by kvm-guest.S too: #defines only outside the
 * C part.
 */
#pragma once

#define GUEST_CTRL 0x0000
#define GUEST_CTRL_MODE 0x0000     /* u32 */
#define GUEST_CTRL_STRIDE 0x0004   /* u32, bytes between touches; >= 4 */
#define GUEST_CTRL_NRANGES 0x0008  /* u32 */
#define GUEST_CTRL_RANGES 0x0010   /* { u32 base, u32 len } x GUEST_RANGES_MAX */
#define GUEST_RANGES_MAX 64
#define GUEST_CODE 0x1000
#define GUEST_COUNTERS 0x2000 /* u32 per vCPU */
#define GUEST_VCPUS_MAX 4096
#define GUEST_SLOT0_MIN (GUEST_COUNTERS + 4 * GUEST_VCPUS_MAX) /* 0x6000: the smallest slot 0 */
#define GUEST_PORT 0xe9

#define GUEST_MODE_EXIT 0
#define GUEST_MODE_SPIN 1
#define GUEST_MODE_HALT 2
#define GUEST_MODE_TOUCH 3

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

typedef struct GuestRange {
        uint32_t base, len;
} GuestRange;

/* The control block at GPA GUEST_CTRL, as the VMM sees it in host memory. */
typedef struct GuestCtrl {
        volatile uint32_t mode;
        volatile uint32_t stride;
        volatile uint32_t n_ranges;
        uint32_t reserved;
        volatile GuestRange ranges[GUEST_RANGES_MAX];
} GuestCtrl;

_Static_assert(offsetof(GuestCtrl, stride) == GUEST_CTRL_STRIDE, "guest ABI");
_Static_assert(offsetof(GuestCtrl, n_ranges) == GUEST_CTRL_NRANGES, "guest ABI");
_Static_assert(offsetof(GuestCtrl, ranges) == GUEST_CTRL_RANGES, "guest ABI");
_Static_assert(sizeof(GuestCtrl) <= GUEST_CODE - GUEST_CTRL, "guest ABI");

/* The guest's code, assembled in kvm-guest.S. */
extern const uint8_t hvt_guest_code[];
extern const uint8_t hvt_guest_code_end[];

/* Writes the control block (mode EXIT, no ranges), the code and zeroed counters into slot 0's memory. */
void guest_load(void *slot0, unsigned n_vcpus);
static inline GuestCtrl *guest_ctrl(void *slot0)
{
        return (GuestCtrl *)((uint8_t *)slot0 + GUEST_CTRL);
}
static inline volatile uint32_t *guest_counter(void *slot0, unsigned vcpu)
{
        return (volatile uint32_t *)((uint8_t *)slot0 + GUEST_COUNTERS + 4 * (size_t)vcpu);
}
/* Sets a guest mode: visible to running vCPUs at their next loop. */
static inline void guest_set_mode(void *slot0, uint32_t mode)
{
        __atomic_store_n(&guest_ctrl(slot0)->mode, mode, __ATOMIC_RELEASE);
}
#endif
