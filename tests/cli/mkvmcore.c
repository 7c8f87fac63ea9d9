/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mkvmcore KIND PATH: writes one of the unit test's synthetic crash dumps
 * (tests/vmcore-synth.h) for the CLI test. KIND: prb, log-buf, no-note.
 */
#include <fcntl.h>
#include <unistd.h>

#include "vmcore-synth.h"

int main(int argc, char *argv[])
{
        SynthCore s;
        uint8_t *buf;
        size_t size;
        int fd;

        if (argc != 3) {
                fprintf(stderr, "usage: mkvmcore prb|log-buf|no-note PATH\n");
                return 2;
        }
        if (strcmp(argv[1], "log-buf") == 0)
                synth_log_buf_standard(&s);
        else {
                synth_prb_standard(&s);
                s.no_note = strcmp(argv[1], "no-note") == 0;
        }
        buf = synth_core_build(&s, &size);
        fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, buf, size) != (ssize_t)size || close(fd) < 0) {
                perror(argv[2]);
                return 1;
        }
        free(buf);
        return 0;
}
