/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `hvtorture vmcore-dmesg [--json] [PATH]`: the log of a crashed kernel from
 * its crash dump (default /proc/vmcore, in the kdump crash kernel), like
 * vmcore-dmesg. Prints the log as dmesg does; --json gives one object with
 * the text and counts. Exit 0 printed, 2 usage, I/O or format error (the
 * message says what was missing or wrong).
 */
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>

#include "log.h"
#include "result.h"
#include "verbs.h"
#include "vmcore.h"

#define DEFAULT_VMCORE "/proc/vmcore"

static bool arg_json;

static void help(void)
{
        printf("hvtorture vmcore-dmesg [OPTIONS] [PATH]\n\n"
               "Print the kernel log of a crashed kernel from its ELF crash dump (default " DEFAULT_VMCORE
               ",\nin a kdump crash kernel), read through the dump's VMCOREINFO: the printk ring buffer\n"
               "of Linux 5.10+ or the log_buf of older kernels. No vmlinux needed.\n"
               "Exit 0: printed, 2: usage, I/O or format error.\n\n"
               "  --json      one JSON object: path, format, osrelease, records, lines, skipped, truncated, text\n"
               "  -h, --help  this text\n");
}

static int parse_argv(int argc, char *argv[])
{
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        arg_json = false;
        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_JSON:
                        arg_json = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (argc - optind > 1) {
                log_error("vmcore-dmesg: one crash dump at a time.");
                return -EINVAL;
        }
        return 1;
}

static json_object *dmesg_to_json(const char *path, const VmcoreDmesg *d)
{
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (json_object_object_add(o, "path", json_object_new_string(path)) < 0 ||
            json_object_object_add(o, "format", json_object_new_string(vmcore_log_format_to_string(d->format))) < 0 ||
            json_object_object_add(o, "osrelease", d->osrelease ? json_object_new_string(d->osrelease) : NULL) < 0 ||
            json_object_object_add(o, "records", json_object_new_uint64(d->records)) < 0 ||
            json_object_object_add(o, "lines", json_object_new_uint64(d->lines)) < 0 ||
            json_object_object_add(o, "skipped", json_object_new_uint64(d->skipped)) < 0 ||
            json_object_object_add(o, "truncated", json_object_new_boolean(d->truncated)) < 0 ||
            json_object_object_add(o, "text", json_object_new_string_len(d->text, (int)d->text_len)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int verb_vmcore_dmesg(int argc, char *argv[])
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *why = NULL;
        VmcoreDmesg d = {};
        const char *path;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : 0;
        path = optind < argc ? argv[optind] : DEFAULT_VMCORE;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT && streq(path, DEFAULT_VMCORE))
                        log_error("vmcore-dmesg: no %s: this is not a kdump crash kernel (give a dump's path).",
                                  DEFAULT_VMCORE);
                else
                        log_error_errno(errno, "vmcore-dmesg: cannot open %s: %m", path);
                return EXIT_USAGE;
        }
        r = vmcore_dmesg_read(fd, &d, &why);
        if (r < 0) {
                log_error_errno(r, "vmcore-dmesg: %s: %s", path, why ? why : strerror(-r));
                return EXIT_USAGE;
        }
        if (arg_json) {
                json_object *o = dmesg_to_json(path, &d);
                if (!o) {
                        vmcore_dmesg_done(&d);
                        return log_oom(), EXIT_USAGE;
                }
                print_json(o);
                json_object_put(o);
        } else
                fwrite(d.text, 1, d.text_len, stdout);
        if (d.truncated)
                log_warning("vmcore-dmesg: %s: output cut at %u MiB.", path, VMCORE_TEXT_MAX >> 20);
        vmcore_dmesg_done(&d);
        if (fflush(stdout) != 0 || ferror(stdout))
                return log_error_errno(errno, "vmcore-dmesg: cannot write the log: %m"), EXIT_USAGE;
        return 0;
}
