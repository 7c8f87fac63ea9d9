/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"
#include "log.h"
#include "profile.h"

int main(int argc, char **argv)
{
        ConfErrors errs = {};
        Profile *p = NULL;
        int r;

        log_open();
        if (argc < 2)
                return 2;
        r = profile_load(argv[1], &p, &errs);
        conf_errors_print(&errs, stderr);
        conf_errors_clear(&errs);
        if (r < 0)
                return 2;
        profile_print_plan(p, p->seed, p->duration_ns, stdout);
        profile_free(p);
        return 0;
}
