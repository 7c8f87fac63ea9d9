/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: pstore record names, dmesg part headers and multi-part
 * reassembly, fed from memory. The input is a list of records separated by
 * 0xff bytes, each "PATH\nCONTENT"; the first content byte also sets the
 * record's time (so dumps group and split). Then the reassembled dumps and
 * console records go through the classifier.
 */
#include <json-c/json.h>

#include "pstore.h"

static int on_report(const PstoreSource *src, const ClassifyReport *r, void *userdata)
{
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        PstoreSet *s = NULL;
        const char *p = (const char *)data, *end = (const char *)data + size;
        char reason[PSTORE_REASON_MAX];
        unsigned count, part;
        size_t hl;

        (void)pstore_parse_header(p, size, reason, &count, &part, &hl);
        if (pstore_set_new(&s) < 0)
                return 0;
        for (unsigned i = 0; p < end && i < 64; i++) {
                const char *sep = memchr(p, 0xff, (size_t)(end - p));
                const char *rec_end = sep ? sep : end;
                const char *nl = memchr(p, '\n', (size_t)(rec_end - p));

                if (nl) {
                        char *path = strndup(p, (size_t)(nl - p));
                        const char *content = nl + 1;
                        size_t len = (size_t)(rec_end - content);
                        uint64_t mtime = len > 0 ? (uint64_t)(unsigned char)content[0] * 30 * 1000000 : 0;

                        if (path) {
                                (void)pstore_parse_name(path, NULL, NULL, NULL, NULL);
                                (void)pstore_set_add(s, path, content, len, mtime);
                                free(path);
                        }
                }
                p = sep ? sep + 1 : end;
        }
        if (pstore_set_reassemble(s) == 0) {
                for (size_t i = 0; i < s->n_dumps; i++) {
                        struct json_object *o = pstore_dump_to_json(s, &s->dumps[i]);
                        json_object_put(o);
                }
                for (size_t i = 0; i < s->n_records; i++) {
                        struct json_object *o = pstore_record_to_json(&s->records[i]);
                        json_object_put(o);
                }
                (void)pstore_set_classify(s, 0, on_report, NULL);
        }
        pstore_set_free(s);
        return 0;
}
