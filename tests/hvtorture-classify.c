/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Temporary front end for `hvtorture classify` until cli/main.c dispatches
 * verbs: the same verb function, so the CLI tests and the corpus
 * measurement run the code the real binary will.
 */
#include "log.h"
#include "verbs.h"

int main(int argc, char *argv[])
{
        log_open();
        argv[0] = (char *)"classify";
        return verb_classify(argc, argv);
}
