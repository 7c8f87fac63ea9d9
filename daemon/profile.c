/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Profiles: unit-file style INI → the Profile model. Each section is checked
 * against the common keys of its kind and the keys of its action; every
 * problem in the file is reported (not only the first), each naming file,
 * line, section, key, value and what is allowed.
 */
#include <ctype.h>
#include <stddef.h>

#include "profile.h"

static const char *const role_names[_ROLE_MAX] = {
        [ROLE_ACTOR] = "Actor",
        [ROLE_TRIGGER] = "Trigger",
        [ROLE_LOAD] = "Load",
};

const char *profile_role_to_string(ProfileRole r)
{
        return r < _ROLE_MAX ? role_names[r] : NULL;
}

static const KeySpec profile_keys[] = {
        { "Description", KEY_STRING, offsetof(Profile, description), NULL, 0, 0, NULL, "free text" },
        { "Duration", KEY_DURATION, offsetof(Profile, duration_ns), NULL, NSEC_PER_SEC, 0, NULL,
          "how long the run lasts: 30s, 10min, 2h, or infinity" },
        { "Iterations", KEY_UINT, offsetof(Profile, iterations), NULL, 1, 0, NULL,
          "total steps across all actors before the run ends" },
        { "Seed", KEY_UINT, offsetof(Profile, seed), NULL, 0, 0, NULL,
          "the run's random seed, to replay a run" },
        { "Reboots", KEY_UINT, offsetof(Profile, reboots), NULL, 1, 100000, NULL,
          "end the run once this many planned reboots (kexec, reboot, panic triggers) have happened" },
        { "Destructive", KEY_BOOL, offsetof(Profile, destructive), "no", 0, 0, NULL,
          "yes to confirm the profile unloads modules, reboots or OOM-kills outside its cgroups" },
        {}
};

/* Action= is read before the others (it decides which keys exist), but lives in the table for suggestions. */
static const KeySpec action_key[] = {
        { "Action", KEY_STRING, 0, NULL, 1, 0, NULL, "the action this section runs" },
        {}
};

static const KeySpec actor_keys[] = {
        { "Instances", KEY_UINT, offsetof(ProfileActor, instances), "1", 1, PROFILE_INSTANCES_MAX, NULL,
          "concurrent worker processes running this actor" },
        { "Interval", KEY_RANGE, offsetof(ProfileActor, interval), "0", 0, 3600 * NSEC_PER_SEC, NULL,
          "pause before each step, drawn at random from LOW..HIGH" },
        { "Iterations", KEY_UINT, offsetof(ProfileActor, iterations), NULL, 1, 0, NULL,
          "steps per instance, then the instance ends" },
        { "EndsRun", KEY_BOOL, offsetof(ProfileActor, ends_run), "no", 0, 0, NULL,
          "end the whole run once this actor has done its Iterations= (a run measured in cycles, not time)" },
        {}
};

static const KeySpec trigger_keys[] = {
        { "At", KEY_DURATION, offsetof(ProfileActor, at_ns), NULL, 1, 0, NULL,
          "fire this long after the run started" },
        { "Every", KEY_DURATION, offsetof(ProfileActor, every_ns), NULL, NSEC_PER_MSEC, 0, NULL,
          "fire again this often" },
        { "AfterIterations", KEY_UINT, offsetof(ProfileActor, after_iterations), NULL, 1, 0, NULL,
          "fire once the run has done this many steps" },
        { "AlignWith", KEY_STRING, offsetof(ProfileActor, align_actor), NULL, 1, 0, NULL,
          "ACTOR:PHASE — fire at the moment that actor enters that phase" },
        {}
};

static const KeySpec load_keys[] = { {} };

typedef struct EvidenceConf {
        char **stop_on;
        char **ignore;
        char **count;
        bool kmsg_user;
} EvidenceConf;

static const KeySpec evidence_keys[] = {
        { "StopOn", KEY_WORDS, offsetof(EvidenceConf, stop_on), NULL, 0, 0, evidence_kind_names,
          "evidence kinds that end the run at once" },
        { "Ignore", KEY_WORDS, offsetof(EvidenceConf, ignore), NULL, 0, 0, evidence_kind_names,
          "evidence kinds recorded but not counted against the verdict" },
        { "Count", KEY_WORDS, offsetof(EvidenceConf, count), NULL, 0, 0, evidence_kind_names,
          "kinds counted against the verdict that by default are only recorded (oom, gap)" },
        { "KmsgUser", KEY_BOOL, offsetof(EvidenceConf, kmsg_user), "no", 0, 0, NULL,
          "also classify lines userspace wrote to /dev/kmsg (for tests)" },
        {}
};

static const KeySpec *role_keys(ProfileRole r)
{
        switch (r) {
        case ROLE_ACTOR:
                return actor_keys;
        case ROLE_TRIGGER:
                return trigger_keys;
        default:
                return load_keys;
        }
}

static unsigned role_flag(ProfileRole r)
{
        switch (r) {
        case ROLE_ACTOR:
                return ACTION_ACTOR;
        case ROLE_TRIGGER:
                return ACTION_TRIGGER;
        default:
                return ACTION_LOAD;
        }
}

static void actor_clear(ProfileActor *a)
{
        if (a->action && a->params) {
                conf_free_values(a->action->keys, a->params);
                free(a->params);
        }
        free(a->name);
        free(a->align_actor);
        free(a->align_phase);
}

Profile *profile_free(Profile *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_actors; i++)
                actor_clear(&p->actors[i]);
        free(p->actors);
        free(p->description);
        free(p->path);
        free(p->text);
        free(p);
        return NULL;
}

static bool valid_name(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > PROFILE_NAME_MAX)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
                        return false;
        return true;
}

static char *action_names_joined(unsigned flag)
{
        size_t len = 1;
        char *s, *p;

        for (size_t i = 0; action_types[i]; i++)
                len += strlen(action_types[i]->name) + 2;
        s = malloc(len);
        if (!s)
                return NULL;
        p = s;
        *p = '\0';
        for (size_t i = 0; action_types[i]; i++)
                if (action_types[i]->flags & flag)
                        p += sprintf(p, "%s%s", p == s ? "" : ", ", action_types[i]->name);
        return s;
}

static int parse_role_section(Profile *p, const IniFile *f, IniSection *sec, ProfileRole role, const char *name,
                              ConfErrors *errs)
{
        ProfileActor *a, *n;
        IniEntry *action_entry;
        const KeySpec *tables[3];
        int r = 0;

        if (!valid_name(name))
                return conf_error(errs, f->path, sec->line, sec->name, NULL, NULL,
                                  "bad %s name '%s': use 1..%d letters, digits, '-', '_' or '.'",
                                  role_names[role], name, PROFILE_NAME_MAX);
        for (size_t i = 0; i < p->n_actors; i++)
                if (streq(p->actors[i].name, name))
                        return conf_error(errs, f->path, sec->line, sec->name, NULL, NULL,
                                          "the name '%s' is already used by [%s %s] at line %u", name,
                                          role_names[p->actors[i].role], name, p->actors[i].line);
        if (p->n_actors >= PROFILE_ACTORS_MAX)
                return conf_error(errs, f->path, sec->line, sec->name, NULL, NULL,
                                  "too many sections; at most %d actors, triggers and loads", PROFILE_ACTORS_MAX);

        n = realloc(p->actors, (p->n_actors + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        p->actors = n;
        a = &p->actors[p->n_actors++];
        *a = (ProfileActor){ .role = role, .line = sec->line };
        a->name = strdup(name);
        if (!a->name)
                return -ENOMEM;
        conf_apply_defaults(role_keys(role), a);

        action_entry = ini_section_find(sec, "Action");
        if (!action_entry) {
                _cleanup_free_ char *names = action_names_joined(role_flag(role));
                return conf_error(errs, f->path, sec->line, sec->name, NULL, NULL,
                                  "missing Action=; one of: %s", strempty(names));
        }
        for (size_t i = 0; i < sec->n_entries; i++)
                if (streq(sec->entries[i].key, "Action"))
                        sec->entries[i].used = true;

        a->action = action_type_find(action_entry->value);
        if (!a->action || !(a->action->flags & role_flag(role))) {
                _cleanup_free_ char *names = action_names_joined(role_flag(role));
                const char *why = a->action ? "cannot be used in a" : "is not an action; not usable in a";
                a->action = NULL;
                return conf_error(errs, f->path, action_entry->line, sec->name, "Action", action_entry->value,
                                  "'%s' %s [%s] section; allowed: %s", action_entry->value, why,
                                  role_names[role], strempty(names));
        }
        a->params = calloc(1, a->action->params_size ? a->action->params_size : 1);
        if (!a->params)
                return -ENOMEM;
        if (conf_apply_defaults(a->action->keys, a->params) < 0)
                return conf_error(errs, f->path, sec->line, sec->name, NULL, NULL,
                                  "internal error: action '%s' has a bad default", a->action->name);

        for (size_t i = 0; i < sec->n_entries; i++) {
                IniEntry *en = &sec->entries[i];
                if (en->used)
                        continue;
                if (conf_parse_entry(f, sec, en, role_keys(role), a, errs) < 0)
                        r = -EINVAL;
                else if (!en->used && conf_parse_entry(f, sec, en, a->action->keys, a->params, errs) < 0)
                        r = -EINVAL;
        }
        tables[0] = action_key;
        tables[1] = role_keys(role);
        tables[2] = a->action->keys;
        if (conf_check_unused(f, sec, tables, ELEMENTSOF(tables), errs) < 0)
                r = -EINVAL;

        if (role == ROLE_TRIGGER && a->align_actor) {
                char *colon = strchr(a->align_actor, ':');
                IniEntry *en = ini_section_find(sec, "AlignWith");
                if (!colon || colon == a->align_actor || !colon[1])
                        r = conf_error(errs, f->path, en ? en->line : sec->line, sec->name, "AlignWith",
                                       a->align_actor, "write ACTOR:PHASE, e.g. kvm-cycle:unload");
                else {
                        a->align_phase = strdup(colon + 1);
                        if (!a->align_phase)
                                return -ENOMEM;
                        *colon = '\0';
                }
        }
        if (role == ROLE_TRIGGER && !a->at_ns && !a->after_iterations && !a->align_actor && !a->every_ns)
                r = conf_error(errs, f->path, sec->line, sec->name, NULL, NULL,
                               "a trigger needs At=, Every=, AfterIterations= or AlignWith= to say when it fires");

        if (a->action->validate && r == 0)
                r = a->action->validate(a->params, f->path, sec->name, sec->line, errs);
        return r;
}

static int parse_evidence(Profile *p, const IniFile *f, IniSection *sec, ConfErrors *errs)
{
        EvidenceConf ec = {};
        const KeySpec *tables[] = { evidence_keys };
        int r = 0;

        conf_apply_defaults(evidence_keys, &ec);
        for (size_t i = 0; i < sec->n_entries; i++)
                if (conf_parse_entry(f, sec, &sec->entries[i], evidence_keys, &ec, errs) < 0)
                        r = -EINVAL;
        if (conf_check_unused(f, sec, tables, 1, errs) < 0)
                r = -EINVAL;
        for (char **w = ec.stop_on; w && *w; w++) {
                int k = evidence_kind_from_string(*w);
                if (k >= 0)
                        p->evidence.stop_on |= 1ULL << k;
        }
        for (char **w = ec.ignore; w && *w; w++) {
                int k = evidence_kind_from_string(*w);
                if (k >= 0)
                        p->evidence.ignore |= 1ULL << k;
        }
        for (char **w = ec.count; w && *w; w++) {
                int k = evidence_kind_from_string(*w);
                if (k >= 0)
                        p->evidence.count |= 1ULL << k;
        }
        p->evidence.kmsg_user = ec.kmsg_user;
        conf_free_values(evidence_keys, &ec);
        return r;
}

static const char *const section_kinds[] = { "Profile", "Actor NAME", "Trigger NAME", "Load NAME", "Evidence" };

static int unknown_section(const IniFile *f, const IniSection *sec, ConfErrors *errs)
{
        const char *best = NULL;
        unsigned best_d = UINT32_MAX;
        char word[64];

        snprintf(word, sizeof word, "%.*s", (int)strcspn(sec->name, " "), sec->name);
        for (size_t i = 0; i < ELEMENTSOF(section_kinds); i++) {
                char kind[32];
                unsigned d;
                snprintf(kind, sizeof kind, "%.*s", (int)strcspn(section_kinds[i], " "), section_kinds[i]);
                d = string_distance(word, kind);
                if (d < best_d) {
                        best_d = d;
                        best = section_kinds[i];
                }
        }
        return conf_error(errs, f->path, sec->line, NULL, NULL, NULL,
                          "unknown section [%s]%s%s%s; allowed: [Profile], [Actor NAME], [Trigger NAME], "
                          "[Load NAME], [Evidence]",
                          sec->name, best_d <= 3 ? " (did you mean [" : "", best_d <= 3 ? best : "",
                          best_d <= 3 ? "]?)" : "");
}

static int check_profile(Profile *p, const IniFile *f, ConfErrors *errs)
{
        bool bounded = p->duration_ns || p->iterations || p->reboots;
        bool any_actor = false;
        const char *why = NULL;
        int r = 0;

        if (p->n_actors == 0)
                return conf_error(errs, f->path, 1, NULL, NULL, NULL,
                                  "nothing to do: add an [Actor NAME], [Trigger NAME] or [Load NAME] section");

        for (size_t i = 0; i < p->n_actors; i++) {
                ProfileActor *a = &p->actors[i];
                if (a->role == ROLE_ACTOR)
                        any_actor = true;
                if (a->role == ROLE_ACTOR && a->ends_run) {
                        if (!a->iterations)
                                r = conf_error(errs, f->path, a->line, NULL, "EndsRun", "yes",
                                               "[Actor %s] EndsRun=yes needs Iterations= (how many steps end the run)",
                                               a->name);
                        else
                                bounded = true;
                }
                if (a->role == ROLE_TRIGGER && a->align_actor) {
                        const ProfileActor *t = profile_find_actor(p, a->align_actor);
                        if (!t || t->role != ROLE_ACTOR)
                                r = conf_error(errs, f->path, a->line, NULL, "AlignWith", a->align_actor,
                                               "[Trigger %s] aligns with '%s', which is not an [Actor] of this profile",
                                               a->name, a->align_actor);
                        else if (t->action->phases) {
                                bool known = false;
                                char list[256] = "";
                                for (const char *const *ph = t->action->phases; *ph; ph++) {
                                        known = known || streq(*ph, a->align_phase);
                                        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                                                 list[0] ? ", " : "", *ph);
                                }
                                if (!known)
                                        r = conf_error(errs, f->path, a->line, NULL, "AlignWith", a->align_phase,
                                                       "[Actor %s] (Action=%s) has no phase '%s'; its phases: %s",
                                                       t->name, t->action->name, a->align_phase, list);
                        }
                }
        }
        if (!bounded && any_actor) {
                bool all_counted = true;
                for (size_t i = 0; i < p->n_actors; i++)
                        if (p->actors[i].role == ROLE_ACTOR && !p->actors[i].iterations)
                                all_counted = false;
                bounded = all_counted;
        }
        if (!bounded)
                r = conf_error(errs, f->path, 1, "Profile", NULL, NULL,
                               "the run has no end: set Duration= (Duration=infinity for an endless soak), "
                               "Iterations= or Reboots=");

        if (profile_is_destructive(p, &why) && !p->destructive)
                r = conf_error(errs, f->path, 1, "Profile", "Destructive", "no",
                               "%s is destructive; say Destructive=yes in [Profile] to confirm", why);
        return r;
}

static int profile_build(IniFile *f, Profile **ret, ConfErrors *errs)
{
        _cleanup_(profile_freep) Profile *p = NULL;
        size_t errors_before = errs->n;
        bool seen_profile = false;
        int r;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->path = strdup(f->path);
        if (!p->path)
                return -ENOMEM;
        p->text = TAKE_PTR(f->text);
        p->text_len = f->text_len;
        conf_apply_defaults(profile_keys, p);

        for (size_t i = 0; i < f->n_sections; i++) {
                IniSection *sec = &f->sections[i];
                const char *name;

                if (streq(sec->name, "Profile")) {
                        const KeySpec *tables[] = { profile_keys };
                        seen_profile = true;
                        for (size_t j = 0; j < sec->n_entries; j++) {
                                IniEntry *en = &sec->entries[j];
                                if (conf_parse_entry(f, sec, en, profile_keys, p, errs) < 0)
                                        continue;
                                if (streq(en->key, "Seed"))
                                        p->seed_set = true;
                        }
                        conf_check_unused(f, sec, tables, 1, errs);
                } else if (streq(sec->name, "Evidence")) {
                        parse_evidence(p, f, sec, errs);
                } else {
                        ProfileRole role = _ROLE_MAX;
                        for (ProfileRole k = 0; k < _ROLE_MAX; k++) {
                                const char *rest = startswith(sec->name, role_names[k]);
                                if (rest && (*rest == ' ' || *rest == '\0')) {
                                        role = k;
                                        name = rest;
                                        break;
                                }
                        }
                        if (role == _ROLE_MAX) {
                                unknown_section(f, sec, errs);
                                continue;
                        }
                        while (*name == ' ')
                                name++;
                        if (!*name) {
                                conf_error(errs, f->path, sec->line, sec->name, NULL, NULL,
                                           "a [%s] section needs a name: [%s NAME]", role_names[role],
                                           role_names[role]);
                                continue;
                        }
                        r = parse_role_section(p, f, sec, role, name, errs);
                        if (r == -ENOMEM)
                                return r;
                }
        }
        if (!seen_profile)
                conf_error(errs, f->path, 1, NULL, NULL, NULL,
                           "no [Profile] section; every profile starts with one (Description=, Duration=)");
        if (errs->n == errors_before)
                check_profile(p, f, errs);
        if (errs->n > errors_before)
                return -EINVAL;
        *ret = TAKE_PTR(p);
        return 0;
}

int profile_parse_text(const char *path, const char *text, size_t len, Profile **ret, ConfErrors *errs)
{
        _cleanup_(ini_file_freep) IniFile *f = NULL;
        int r;

        r = ini_file_parse_text(path, text, len, &f, errs);
        if (r < 0)
                return r;
        return profile_build(f, ret, errs);
}

int profile_load(const char *path, Profile **ret, ConfErrors *errs)
{
        _cleanup_(ini_file_freep) IniFile *f = NULL;
        int r;

        r = ini_file_load(path, &f, errs);
        if (r < 0)
                return r;
        return profile_build(f, ret, errs);
}

bool profile_is_destructive(const Profile *p, const char **why)
{
        for (size_t i = 0; i < p->n_actors; i++) {
                const ProfileActor *a = &p->actors[i];
                if (!a->action)
                        continue;
                if ((a->action->flags & ACTION_DESTRUCTIVE) ||
                    (a->action->is_destructive && a->action->is_destructive(a->params))) {
                        if (why) {
                                static __thread char buf[96];
                                snprintf(buf, sizeof buf, "[%s %s] (Action=%s)", role_names[a->role], a->name,
                                         a->action->name);
                                *why = buf;
                        }
                        return true;
                }
        }
        return false;
}

const ProfileActor *profile_find_actor(const Profile *p, const char *name)
{
        for (size_t i = 0; i < p->n_actors; i++)
                if (streq(p->actors[i].name, name))
                        return &p->actors[i];
        return NULL;
}

/*
 * When a timed trigger fires, on the run's clock (run time, which goes on
 * across reboots): At=, then every Every=, within Duration=, and for
 * reboot-class triggers until Reboots= is reached.
 */
static void print_trigger_times(const Profile *p, const ProfileActor *a, uint64_t duration_ns, FILE *f)
{
        bool reboots = a->action->flags & ACTION_REBOOTS;
        uint64_t t = a->at_ns ? a->at_ns : a->every_ns, n = 0, shown = 0;
        char b[32];

        if (!a->at_ns && !a->every_ns)
                return;
        fputs("  fire times (run time):", f);
        while (t && (!duration_ns || duration_ns == UINT64_MAX || t < duration_ns)) {
                if (reboots && p->reboots && n >= p->reboots)
                        break;
                n++;
                if (shown < 12)
                        fprintf(f, "%s+%s", shown++ ? ", " : " ", format_duration(b, sizeof b, t));
                if (!a->every_ns)
                        break;
                if ((!duration_ns || duration_ns == UINT64_MAX) && !(reboots && p->reboots) && n >= 12)
                        break; /* endless: the pattern is clear */
                t += a->every_ns;
        }
        if (n == 0)
                fputs(" never (after the run's end)", f);
        else if (n > shown)
                fprintf(f, ", ... (%" PRIu64 " in all)", n);
        else if (a->every_ns && (!duration_ns || duration_ns == UINT64_MAX) && !(reboots && p->reboots))
                fputs(", ... (until the run ends)", f);
        if (reboots)
                fputs("; each takes the host down and the run resumes after the boot", f);
        fputc('\n', f);
}

void profile_print_plan(const Profile *p, uint64_t seed, uint64_t duration_ns, FILE *f)
{
        char b1[32], b2[32];

        fprintf(f, "Profile:     %s\n", p->path);
        if (p->description)
                fprintf(f, "Description: %s\n", p->description);
        fprintf(f, "Seed:        %" PRIu64 "%s\n", seed, p->seed_set ? " (from the profile)" : "");
        fprintf(f, "Duration:    %s\n", duration_ns ? format_duration(b1, sizeof b1, duration_ns) : "until iterations are done");
        if (p->iterations)
                fprintf(f, "Iterations:  %" PRIu64 " steps in total\n", p->iterations);
        fprintf(f, "Destructive: %s\n", yes_no(profile_is_destructive(p, NULL)));

        for (size_t i = 0; i < p->n_actors; i++) {
                const ProfileActor *a = &p->actors[i];
                fprintf(f, "\n[%s %s] action %s\n", role_names[a->role], a->name, a->action->name);
                if (a->role == ROLE_ACTOR) {
                        fprintf(f, "  %" PRIu64 " instance%s, each pausing %s..%s before a step", a->instances,
                                a->instances == 1 ? "" : "s", format_duration(b1, sizeof b1, a->interval.lo),
                                format_duration(b2, sizeof b2, a->interval.hi));
                        if (a->iterations)
                                fprintf(f, ", %" PRIu64 " steps each", a->iterations);
                        fputc('\n', f);
                } else if (a->role == ROLE_TRIGGER) {
                        if (a->at_ns)
                                fprintf(f, "  fires at +%s\n", format_duration(b1, sizeof b1, a->at_ns));
                        if (a->every_ns)
                                fprintf(f, "  fires every %s\n", format_duration(b1, sizeof b1, a->every_ns));
                        if (a->after_iterations)
                                fprintf(f, "  fires after %" PRIu64 " steps\n", a->after_iterations);
                        if (a->align_actor)
                                fprintf(f, "  fires when [Actor %s] enters phase '%s'\n", a->align_actor,
                                        a->align_phase);
                        print_trigger_times(p, a, duration_ns, f);
                }
                if (a->action->describe) {
                        fputs("  ", f);
                        a->action->describe(a->params, f);
                        fputc('\n', f);
                }
        }
        if (p->evidence.stop_on) {
                fprintf(f, "\nStops on:");
                for (int k = 0; k < _EVIDENCE_KIND_MAX; k++)
                        if (p->evidence.stop_on & (1ULL << k))
                                fprintf(f, " %s", evidence_kind_to_string(k));
                fputc('\n', f);
        }
}

static void print_table(FILE *f, const KeySpec *keys)
{
        for (const KeySpec *k = keys; k && k->name; k++) {
                fprintf(f, "    %-16s %s", k->name, strempty(k->help));
                if (k->choices) {
                        fputs(" (", f);
                        for (const char *const *c = k->choices; *c; c++)
                                fprintf(f, "%s%s", c == k->choices ? "" : " ", *c);
                        fputc(')', f);
                }
                if (k->def)
                        fprintf(f, " [default: %s]", k->def);
                fputc('\n', f);
        }
}

void profile_print_keys(FILE *f)
{
        fputs("[Profile]\n", f);
        print_table(f, profile_keys);
        fputs("[Actor NAME]\n    Action           the action to loop\n", f);
        print_table(f, actor_keys);
        fputs("[Trigger NAME]\n    Action           the one-off action\n", f);
        print_table(f, trigger_keys);
        fputs("[Load NAME]\n    Action           background pressure\n", f);
        fputs("[Evidence]\n", f);
        print_table(f, evidence_keys);
        for (size_t i = 0; action_types[i]; i++) {
                const ActionType *t = action_types[i];
                fprintf(f, "\nAction=%s — %s (in:%s%s%s)%s\n", t->name, t->summary,
                        t->flags & ACTION_ACTOR ? " Actor" : "", t->flags & ACTION_TRIGGER ? " Trigger" : "",
                        t->flags & ACTION_LOAD ? " Load" : "", t->flags & ACTION_DESTRUCTIVE ? " DESTRUCTIVE" : "");
                print_table(f, t->keys);
        }
}
