/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel taint (/proc/sys/kernel/tainted): a bit mask whose bits the kernel
 * prints as letters (W warning, D died, O out-of-tree module, …). A run reads
 * it at start and on every splat; a bit that appears in between is evidence,
 * and each new bit is named and described so the report says what happened.
 */
#pragma once

#include <stdint.h>

#include "util.h"

struct json_object;

/* Bits the kernel defines (include/linux/panic.h, TAINT_*), 0..TAINT_BITS_KNOWN-1. */
#define TAINT_BITS_KNOWN 20U

/* The letter the kernel prints for a set bit ('P', 'W', …), or '?' for an unknown bit. */
char taint_letter(unsigned bit);
/* e.g. "kernel issued warning"; NULL for a bit the kernel does not define (yet). */
const char *taint_description(unsigned bit);

/* Parses the decimal mask as the kernel prints it (trailing newline allowed). -EINVAL otherwise. */
int taint_parse(const char *s, uint64_t *ret);
int taint_read_from(const char *path, uint64_t *ret);
int taint_read(uint64_t *ret); /* /proc/sys/kernel/tainted */

/* The set bits as letters in bit order, e.g. "DW" (unknown bits as '?'); "" for 0. Needs 65 bytes. */
#define TAINT_LETTERS_MAX 65
void taint_to_letters(uint64_t mask, char buf[static TAINT_LETTERS_MAX]);

/*
 * Human text for the bits in after that were not in before, e.g.
 * "W (kernel issued warning), D (kernel died recently, i.e. there was an OOPS or BUG)".
 * *ret is NULL when no bit is new. Returns 0 or -ENOMEM.
 */
int taint_describe_new(uint64_t before, uint64_t after, char **ret);

/*
 * {"title":"kernel tainted: D","before":N,"after":N,"before_flags":"W","after_flags":"DW",
 *  "new":[{"bit":7,"flag":"D","description":"…"}],"cleared":[…]}
 * The title names the new letters, so the same new taint collapses onto one
 * evidence item. NULL on allocation failure.
 */
struct json_object *taint_change_to_json(uint64_t before, uint64_t after);
