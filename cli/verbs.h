/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CLI's verbs: each is `int verb_NAME(int argc, char *argv[])` with
 * argv[0] the verb's name; the return value is the process exit code.
 */
#pragma once

/* hvtorture classify [--json] [--user-facility] FILE…|-   and   hvtorture classify --corpus DIR [-v] */
int verb_classify(int argc, char *argv[]);
