/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Text rendering of a run report. */
#include "conf.h"
#include "report.h"

char *format_timestamp_iso(char *buf, size_t len, uint64_t realtime_ns)
{
        time_t t = (time_t)(realtime_ns / NSEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&t, &tm)) {
                snprintf(buf, len, "?");
                return buf;
        }
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(realtime_ns % NSEC_PER_SEC / NSEC_PER_MSEC));
        return buf;
}

const char *json_get_str(json_object *o, const char *key, const char *def)
{
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return def;
        return json_object_get_string(v);
}

int64_t json_get_int(json_object *o, const char *key, int64_t def)
{
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v))
                return def;
        return json_object_get_int64(v);
}

double json_get_double(json_object *o, const char *key, double def)
{
        json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v))
                return def;
        return json_object_get_double(v);
}

static const char *verdict_sentence(const char *v)
{
        if (streq(v, "pass"))
                return "PASS — completed, no evidence";
        if (streq(v, "evidence"))
                return "EVIDENCE — the kernel left evidence or a step failed in a way it should not";
        if (streq(v, "incomplete"))
                return "INCOMPLETE — stopped before its end, or an actor never got a real step done";
        if (streq(v, "error"))
                return "ERROR — the run could not be carried out";
        return v;
}

static void print_outcomes(json_object *outcomes, FILE *f)
{
        bool first = true;

        json_object_object_foreach(outcomes, k, v)
        {
                fprintf(f, "%s%s %" PRId64, first ? "" : ", ", k, json_object_get_int64(v));
                first = false;
        }
        if (first)
                fputs("-", f);
}

void report_print_text(json_object *r, FILE *f)
{
        json_object *actors = NULL, *evidence = NULL, *host = NULL;
        char b1[32], b2[32], b3[32];
        double dur = json_get_double(r, "duration_s", 0);
        const char *desc = json_get_str(r, "description", NULL);
        const char *err = json_get_str(r, "error", NULL);
        size_t n_actors, n_evidence;
        bool any;

        json_object_object_get_ex(r, "actors", &actors);
        json_object_object_get_ex(r, "evidence", &evidence);
        json_object_object_get_ex(r, "host", &host);
        n_actors = actors ? json_object_array_length(actors) : 0;
        n_evidence = evidence ? json_object_array_length(evidence) : 0;

        fprintf(f, "Run %s  %s\n", json_get_str(r, "run_id", "?"), json_get_str(r, "profile", "?"));
        if (desc)
                fprintf(f, "  %s\n", desc);
        format_duration(b1, sizeof b1, (uint64_t)(json_get_double(r, "elapsed_s", 0) * 1e3) * NSEC_PER_MSEC);
        if (dur > 0)
                format_duration(b2, sizeof b2, (uint64_t)(dur * 1e3) * NSEC_PER_MSEC);
        else
                snprintf(b2, sizeof b2, dur < 0 ? "infinity" : "-");
        fprintf(f, "  seed %" PRId64 " · ran %s of %s · %" PRId64 " steps · %s\n", json_get_int(r, "seed", 0), b1,
                b2, json_get_int(r, "steps", 0), json_get_str(r, "stop_reason", json_get_str(r, "state", "")));
        if (host)
                fprintf(f, "  kernel %s (%s), boot %s\n", json_get_str(host, "kernel", "?"),
                        json_get_str(host, "machine", "?"), json_get_str(host, "boot_id", "?"));
        fprintf(f, "\nVerdict: %s\n", verdict_sentence(json_get_str(r, "verdict", "?")));
        if (err)
                fprintf(f, "  %s\n", err);

        if (n_actors) {
                fprintf(f, "\n%-16s %-8s %5s %10s %9s  %s\n", "ACTOR", "ACTION", "INST", "STEPS", "RATE/s", "OUTCOMES");
                for (size_t i = 0; i < n_actors; i++) {
                        json_object *a = json_object_array_get_idx(actors, i), *oc = NULL;
                        json_object_object_get_ex(a, "outcomes", &oc);
                        fprintf(f, "%-16s %-8s %5" PRId64 " %10" PRId64 " %9.1f  ", json_get_str(a, "name", "?"),
                                json_get_str(a, "action", "?"), json_get_int(a, "instances", 0),
                                json_get_int(a, "steps", 0), json_get_double(a, "rate_per_s", 0));
                        print_outcomes(oc, f);
                        if (json_get_int(a, "workers_crashed", 0))
                                fprintf(f, " (%" PRId64 " worker crashes)", json_get_int(a, "workers_crashed", 0));
                        if (streq(json_get_str(a, "role", ""), "Trigger"))
                                fprintf(f, " (fired %" PRId64 ")", json_get_int(a, "fired", 0));
                        fputc('\n', f);
                }

                fprintf(f, "\nStep time p50 / p99 / max:\n");
                for (size_t i = 0; i < n_actors; i++) {
                        json_object *a = json_object_array_get_idx(actors, i), *h = NULL, *sp = NULL;
                        json_object_object_get_ex(a, "step_ns", &h);
                        if (!h || json_get_int(h, "count", 0) == 0)
                                continue;
                        fprintf(f, "  %-16s %s / %s / %s", json_get_str(a, "name", "?"),
                                format_duration(b1, sizeof b1, (uint64_t)json_get_int(h, "p50", 0) / 1000 * 1000),
                                format_duration(b2, sizeof b2, (uint64_t)json_get_int(h, "p99", 0) / 1000 * 1000),
                                format_duration(b3, sizeof b3, (uint64_t)json_get_int(h, "max", 0) / 1000 * 1000));
                        if (json_object_object_get_ex(a, "race_spread_ns", &sp))
                                fprintf(f, "   race spread p50 %.1fus p99 %.1fus (%" PRId64 " races)",
                                        (double)json_get_int(sp, "p50", 0) / 1e3, (double)json_get_int(sp, "p99", 0) / 1e3,
                                        json_get_int(sp, "count", 0));
                        fputc('\n', f);
                }

                any = false;
                for (size_t i = 0; i < n_actors; i++) {
                        json_object *a = json_object_array_get_idx(actors, i), *m = NULL;
                        bool first = true;
                        json_object_object_get_ex(a, "metrics", &m);
                        if (!m || json_object_object_length(m) == 0)
                                continue;
                        if (!any)
                                fprintf(f, "\nMetrics:\n");
                        any = true;
                        fprintf(f, "  %-16s", json_get_str(a, "name", "?"));
                        json_object_object_foreach(m, k, v)
                        {
                                fprintf(f, "%s%s %" PRId64, first ? " " : ", ", k, json_object_get_int64(v));
                                first = false;
                        }
                        fputc('\n', f);
                }

                /* Sections actions handed over (worker_report()): their "lines", under the actor's name. */
                any = false;
                for (size_t i = 0; i < n_actors; i++) {
                        json_object *a = json_object_array_get_idx(actors, i), *reps = NULL;
                        json_object_object_get_ex(a, "reports", &reps);
                        for (size_t k = 0; reps && k < json_object_array_length(reps); k++) {
                                json_object *lines = NULL;
                                json_object_object_get_ex(json_object_array_get_idx(reps, k), "lines", &lines);
                                for (size_t l = 0; lines && l < json_object_array_length(lines); l++) {
                                        if (!any)
                                                fprintf(f, "\nReports:\n");
                                        any = true;
                                        fprintf(f, "  %-16s %s\n", l == 0 ? json_get_str(a, "name", "?") : "",
                                                json_object_get_string(json_object_array_get_idx(lines, l)));
                                }
                        }
                }

                any = false;
                for (size_t i = 0; i < n_actors; i++) {
                        json_object *a = json_object_array_get_idx(actors, i), *p = NULL;
                        json_object_object_get_ex(a, "problems", &p);
                        for (size_t k = 0; p && k < json_object_array_length(p); k++) {
                                json_object *it = json_object_array_get_idx(p, k);
                                if (!any)
                                        fprintf(f, "\nProblems reported by steps:\n");
                                any = true;
                                fprintf(f, "  %-16s %" PRId64 "× %s\n", json_get_str(a, "name", "?"),
                                        json_get_int(it, "count", 0), json_get_str(it, "detail", ""));
                        }
                }
        }

        {
                json_object *boots = NULL;
                size_t nb = json_object_object_get_ex(r, "boots", &boots) ? json_object_array_length(boots) : 0;
                if (nb > 1) {
                        fprintf(f, "\nBoots (%zu, %" PRId64 " planned reboots):\n", nb, json_get_int(r, "planned_reboots", 0));
                        for (size_t i = 0; i < nb; i++) {
                                json_object *b = json_object_array_get_idx(boots, i), *ev = NULL;
                                json_object_object_get_ex(b, "evidence", &ev);
                                fprintf(f, "  %zu. %-10s %-24s %s  %.0fs", i + 1, json_get_str(b, "how", "?"),
                                        json_get_str(b, "kernel", "?"), json_get_str(b, "boot_id", "?"),
                                        json_get_double(b, "run_s", 0));
                                if (json_get_str(b, "trigger", NULL))
                                        fprintf(f, " (after [Trigger %s])", json_get_str(b, "trigger", ""));
                                if (ev && json_object_array_length(ev) > 0)
                                        fprintf(f, ", %zu evidence item(s)", json_object_array_length(ev));
                                fputc('\n', f);
                        }
                }
        }

        if (n_evidence == 0)
                fprintf(f, "\nEvidence: none\n");
        else {
                fprintf(f, "\nEvidence (%zu distinct):\n", n_evidence);
                for (size_t i = 0; i < n_evidence; i++) {
                        json_object *ev = json_object_array_get_idx(evidence, i);
                        const char *expected = json_get_str(ev, "expected", NULL);
                        fprintf(f, "  %4" PRId64 "× %-10s %s", json_get_int(ev, "count", 1),
                                json_get_str(ev, "kind", "?"), json_get_str(ev, "title", "(untitled)"));
                        if (expected)
                                fprintf(f, " (expected: provoked by %s)\n", expected);
                        else
                                fputs(json_object_get_boolean(json_object_object_get(ev, "counted")) ? "\n" : " (ignored)\n", f);
                }
        }
        if (json_get_str(r, "run_dir", NULL))
                fprintf(f, "\nFiles: %s/ (report.json, journal.jsonl, evidence/)\n", json_get_str(r, "run_dir", ""));
}

/* XML 1.0 text: escape markup, drop the control characters XML cannot carry (kernel logs have them). */
static void xml_put(FILE *f, const char *s)
{
        for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
                switch (*p) {
                case '&':
                        fputs("&amp;", f);
                        break;
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                case '\'':
                        fputs("&apos;", f);
                        break;
                default:
                        if (*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')
                                fputc('?', f);
                        else
                                fputc(*p, f);
                }
        }
}

void report_print_junit(json_object *r, FILE *f)
{
        json_object *actors = NULL, *evidence = NULL;
        size_t n_actors, n_evidence, failures = 0;
        const char *profile = json_get_str(r, "profile", "?");
        const char *verdict = json_get_str(r, "verdict", "?");

        json_object_object_get_ex(r, "actors", &actors);
        json_object_object_get_ex(r, "evidence", &evidence);
        n_actors = actors ? json_object_array_length(actors) : 0;
        n_evidence = evidence ? json_object_array_length(evidence) : 0;
        for (size_t i = 0; i < n_actors; i++) {
                json_object *cl = NULL;
                json_object_object_get_ex(json_object_array_get_idx(actors, i), "classes", &cl);
                failures += json_get_int(cl, "failure", 0) > 0;
        }
        for (size_t i = 0; i < n_evidence; i++)
                failures += json_object_get_boolean(json_object_object_get(json_object_array_get_idx(evidence, i), "counted"));

        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", f);
        fputs("  <testsuite name=\"hvtorture ", f);
        xml_put(f, profile);
        fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%d\" time=\"%.3f\" timestamp=\"", n_actors + n_evidence + 1,
                failures, streq(verdict, "error") || streq(verdict, "incomplete"), json_get_double(r, "elapsed_s", 0));
        xml_put(f, json_get_str(r, "started", ""));
        fputs("\">\n    <properties>\n", f);
        fprintf(f, "      <property name=\"run_id\" value=\"");
        xml_put(f, json_get_str(r, "run_id", ""));
        fprintf(f, "\"/>\n      <property name=\"seed\" value=\"%" PRId64 "\"/>\n", json_get_int(r, "seed", 0));
        fprintf(f, "      <property name=\"verdict\" value=\"");
        xml_put(f, verdict);
        fprintf(f, "\"/>\n      <property name=\"kernel\" value=\"");
        xml_put(f, json_get_str(json_object_object_get(r, "host"), "kernel", ""));
        fputs("\"/>\n    </properties>\n", f);

        /* The run itself: an error when it could not be carried out or did not complete. */
        fputs("    <testcase classname=\"hvtorture.run\" name=\"run\">\n", f);
        if (streq(verdict, "error") || streq(verdict, "incomplete")) {
                fputs("      <error message=\"", f);
                xml_put(f, verdict);
                fputs(": ", f);
                xml_put(f, json_get_str(r, "error", json_get_str(r, "stop_reason", "")));
                fputs("\"/>\n", f);
        }
        fputs("    </testcase>\n", f);

        for (size_t i = 0; i < n_actors; i++) {
                json_object *a = json_object_array_get_idx(actors, i), *cl = NULL, *probs = NULL;
                json_object_object_get_ex(a, "classes", &cl);
                json_object_object_get_ex(a, "problems", &probs);
                fputs("    <testcase classname=\"hvtorture.", f);
                xml_put(f, json_get_str(a, "role", "Actor"));
                fputs("\" name=\"", f);
                xml_put(f, json_get_str(a, "name", "?"));
                fprintf(f, "\" time=\"%.3f\">\n", json_get_double(r, "elapsed_s", 0));
                if (json_get_int(cl, "failure", 0) > 0) {
                        fprintf(f, "      <failure type=\"step-failure\" message=\"%" PRId64 " steps failed\">",
                                json_get_int(cl, "failure", 0));
                        for (size_t k = 0; probs && k < json_object_array_length(probs); k++) {
                                json_object *p = json_object_array_get_idx(probs, k);
                                fprintf(f, "%" PRId64 "x ", json_get_int(p, "count", 0));
                                xml_put(f, json_get_str(p, "detail", ""));
                                fputc('\n', f);
                        }
                        fputs("</failure>\n", f);
                }
                fprintf(f, "      <system-out>%" PRId64 " steps, action ", json_get_int(a, "steps", 0));
                xml_put(f, json_get_str(a, "action", ""));
                fputs("</system-out>\n    </testcase>\n", f);
        }

        for (size_t i = 0; i < n_evidence; i++) {
                json_object *ev = json_object_array_get_idx(evidence, i);
                bool counted = json_object_get_boolean(json_object_object_get(ev, "counted"));
                fputs("    <testcase classname=\"hvtorture.evidence\" name=\"", f);
                xml_put(f, json_get_str(ev, "title", "(untitled)"));
                fputs("\">\n", f);
                if (counted) {
                        fputs("      <failure type=\"", f);
                        xml_put(f, json_get_str(ev, "kind", "?"));
                        fputs("\" message=\"", f);
                        xml_put(f, json_get_str(ev, "title", ""));
                        fprintf(f, " (seen %" PRId64 " times)\">", json_get_int(ev, "count", 1));
                        xml_put(f, json_get_str(ev, "raw", json_get_str(ev, "text", "")));
                        fputs("</failure>\n", f);
                } else if (json_get_str(ev, "expected", NULL)) {
                        fputs("      <skipped message=\"expected: provoked by ", f);
                        xml_put(f, json_get_str(ev, "expected", ""));
                        fputs("\"/>\n", f);
                } else
                        fputs("      <skipped message=\"ignored by the profile's [Evidence] Ignore=\"/>\n", f);
                fputs("    </testcase>\n", f);
        }
        fputs("  </testsuite>\n</testsuites>\n", f);
}
