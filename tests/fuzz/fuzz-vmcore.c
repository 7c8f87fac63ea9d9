/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the vmcore log reader on an ELF64 core in memory (ELF
 * and note parsing, VMCOREINFO values, address translation, the printk
 * ring buffer walk and the log_buf walk).
 *
 * HVT_FUZZ_WRITE_SEEDS=DIR: write the synthetic cores of the unit test
 * (tests/vmcore-synth.h) into DIR as seeds and exit; run-fuzzers does this.
 */
#include <fcntl.h>

#include "vmcore-synth.h"
#include "vmcore.h"

static void write_seed(const char *dir, const char *name, const SynthCore *s)
{
        char path[4096];
        size_t size;
        uint8_t *buf = synth_core_build(s, &size);
        int fd;

        snprintf(path, sizeof path, "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, buf, size) != (ssize_t)size) {
                fprintf(stderr, "fuzz-vmcore: cannot write %s: %m\n", path);
                exit(EXIT_FAILURE);
        }
        close(fd);
        free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *dir = getenv("HVT_FUZZ_WRITE_SEEDS");
        SynthCore s;

        if (!dir)
                return 0;
        synth_prb_standard(&s);
        write_seed(dir, "prb", &s);
        s.physical_only = true;
        write_seed(dir, "prb-physical", &s);
        synth_log_buf_standard(&s);
        write_seed(dir, "log-buf", &s);
        exit(EXIT_SUCCESS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        VmcoreDmesg d = {};
        char *why = NULL;

        if (vmcore_dmesg_read_buffer(data, size, &d, &why) >= 0) {
                if (strlen(d.text) != d.text_len)
                        abort();
                vmcore_dmesg_done(&d);
        } else if (!why)
                abort(); /* every failure is explained */
        free(why);
        return 0;
}
