/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest's code (see kvm-guest.h for the contract). 32-bit, position
 * independent except for the control block at its fixed GPA. It lives in
 * .rodata: the host never executes it, it copies these bytes into guest
 * memory at GUEST_CODE.
 */
#include "kvm-guest.h"

        .section .rodata.hvt_guest, "a"
        .globl hvt_guest_code
        .globl hvt_guest_code_end
        .code32
hvt_guest_code:
top:
        movl    GUEST_CTRL_MODE, %eax
        cmpl    $GUEST_MODE_SPIN, %eax
        je      spin
        cmpl    $GUEST_MODE_HALT, %eax
        je      halt
        cmpl    $GUEST_MODE_TOUCH, %eax
        je      touch
        incl    (%ebx)
        outb    %al, %dx
        jmp     top
spin:
        incl    (%ebx)
        jmp     top
halt:
        incl    (%ebx)
        hlt
        jmp     top
touch:
        movl    GUEST_CTRL_NRANGES, %ecx
        movl    $GUEST_CTRL_RANGES, %esi
next_range:
        testl   %ecx, %ecx
        jz      touched
        movl    (%esi), %edi
        movl    4(%esi), %ebp
        addl    %edi, %ebp
next_touch:
        cmpl    %ebp, %edi
        jae     range_done
        movl    (%ebx), %eax
        movl    %eax, (%edi)
        addl    GUEST_CTRL_STRIDE, %edi
        jmp     next_touch
range_done:
        addl    $8, %esi
        decl    %ecx
        jmp     next_range
touched:
        incl    (%ebx)
        outb    %al, %dx
        jmp     top
hvt_guest_code_end:
        .code64

        .section .note.GNU-stack, "", @progbits
