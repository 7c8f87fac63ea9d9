/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The profile model: what a run does, parsed from a unit-file style INI.
 *
 *   [Profile]        Description=, Duration=, Iterations=, Seed=, Destructive=
 *   [Actor NAME]     Action=, Instances=, Interval=, Iterations=, + the action's keys
 *   [Trigger NAME]   Action=, At=, AfterIterations=, Every=, AlignWith=, + the action's keys
 *   [Load NAME]      Action=, + the action's keys
 *   [Evidence]       StopOn=, Ignore=, KmsgUser=
 *
 * Sections keep the order of the file; names are unique across actors,
 * triggers and loads because events and counters are keyed by them.
 */
#pragma once

#include "action.h"
#include "conf.h"
#include "evidence.h"

#define PROFILE_NAME_MAX 32
#define PROFILE_ACTORS_MAX 64
#define PROFILE_INSTANCES_MAX 256

typedef enum ProfileRole {
        ROLE_ACTOR,
        ROLE_TRIGGER,
        ROLE_LOAD,
        _ROLE_MAX,
} ProfileRole;

/* One [Actor], [Trigger] or [Load] section. */
typedef struct ProfileActor {
        char *name;
        ProfileRole role;
        unsigned line; /* of the section header */
        const ActionType *action;
        void *params; /* the action's params struct, params_size bytes */

        /* [Actor] */
        uint64_t instances;
        Range interval; /* pause before each step, ns */
        uint64_t iterations; /* per instance; 0 = unbounded */
        bool ends_run;       /* EndsRun=: when this actor has done its iterations, the run ends */

        /* [Trigger] */
        uint64_t at_ns;            /* fire this long after the run starts; 0 = unset */
        uint64_t every_ns;         /* fire again this often; 0 = once */
        uint64_t after_iterations; /* fire once the run has done this many steps; 0 = unset */
        char *align_actor;         /* AlignWith=ACTOR:PHASE — fire with that actor's step */
        char *align_phase;
} ProfileActor;

typedef struct ProfileEvidence {
        /* Kinds that end the run at once (bit per EvidenceKind). */
        uint64_t stop_on;
        /* Kinds recorded but not counted against the verdict. */
        uint64_t ignore;
        /* Kinds counted although by default they are only recorded (oom, gap). */
        uint64_t count;
        /* Count splats written by userspace to /dev/kmsg (tests only). */
        bool kmsg_user;
} ProfileEvidence;

/* Recorded but not counted unless [Evidence] Count= names them: an OOM kill of some other workload, or a
 * kmsg overrun on a busy host, is not a kernel bug by itself. */
#define EVIDENCE_DEFAULT_UNCOUNTED ((1ULL << EVIDENCE_OOM) | (1ULL << EVIDENCE_GAP))

typedef struct Profile {
        char *path;
        char *text; /* the file as read: the run keeps a copy */
        size_t text_len;

        char *description;
        uint64_t duration_ns; /* 0 = unset; UINT64_MAX = infinity */
        uint64_t iterations;  /* total steps across all actors; 0 = unbounded */
        uint64_t seed;
        bool seed_set;
        bool destructive; /* the profile says it means it */
        uint64_t reboots; /* end the run once this many planned reboots have happened; 0 = no such limit */

        ProfileActor *actors; /* actors, triggers and loads, in file order */
        size_t n_actors;
        ProfileEvidence evidence;
} Profile;

/* Parses and validates; errors (all of them) land in errs. Returns -EINVAL on profile errors. */
int profile_load(const char *path, Profile **ret, ConfErrors *errs);
int profile_parse_text(const char *path, const char *text, size_t len, Profile **ret, ConfErrors *errs);
Profile *profile_free(Profile *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Profile *, profile_free);

/* True if any section needs the destructive opt-in; *why names the first one. */
bool profile_is_destructive(const Profile *p, const char **why);
/* The actor of that name, or NULL. */
const ProfileActor *profile_find_actor(const Profile *p, const char *name);
/* Prints the plan --dry-run shows: actors, instances, intervals, triggers, seed. */
void profile_print_plan(const Profile *p, uint64_t seed, uint64_t duration_ns, FILE *f);
const char *profile_role_to_string(ProfileRole r);
/* Every key a section of that role allows (common keys, then the action's), for help and suggestions. */
void profile_print_keys(FILE *f);
