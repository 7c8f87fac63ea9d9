/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder until the bus client lands. */
#include "result.h"
#include "verbs.h"
#include <stdio.h>

static int not_yet(const char *v)
{
        fprintf(stderr, "hvtorture %s: the daemon client is not built yet\n", v);
        return EXIT_USAGE;
}
int verb_start(int argc, char *argv[]) { return not_yet(argv[0]); }
int verb_stop(int argc, char *argv[]) { return not_yet(argv[0]); }
int verb_status(int argc, char *argv[]) { return not_yet(argv[0]); }
int verb_runs(int argc, char *argv[]) { return not_yet(argv[0]); }
int verb_show(int argc, char *argv[]) { return not_yet(argv[0]); }
