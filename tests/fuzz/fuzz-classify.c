/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the splat classifier on arbitrary log text, fed in
 * chunks whose sizes come from the input itself (so line and buffer
 * boundaries fall everywhere), plus the title normaliser and the Rust
 * demangler on the input's first line.
 */
#include <json-c/json.h>

#include "classify-internal.h"
#include "classify.h"

static int on_report(const ClassifyReport *r, void *userdata)
{
        struct json_object *o = classify_report_to_json(r, true);
        size_t *n = userdata;

        (*n)++;
        /* every report is fully formed */
        if (!r->title || !r->alt_titles || strlen(r->title) > CLASSIFY_TITLE_MAX || r->text_len > CLASSIFY_REPORT_TEXT_MAX)
                __builtin_trap();
        json_object_put(o);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Classifier *c = NULL;
        size_t reports = 0, pos = 0, step = 1;
        char *line;

        if (classifier_new(size > 0 && (data[0] & 1) ? CLASSIFY_USER_FACILITY : 0, on_report, &reports, &c) < 0)
                return 0;
        while (pos < size) {
                size_t n = MIN(size - pos, step);
                if (classifier_feed(c, (const char *)data + pos, n) < 0)
                        break;
                step = (data[pos] % 97) + 1;
                pos += n;
        }
        (void)classifier_flush(c);
        classifier_free(c);

        line = strndup((const char *)data, MIN(size, (size_t)512));
        if (line) {
                char *nl = strchr(line, '\n');
                char *t, *d;
                if (nl)
                        *nl = 0;
                t = title_sanitize(line);
                d = rust_demangle(line);
                free(t);
                free(d);
                free(line);
        }
        return 0;
}
