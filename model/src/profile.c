/* profile.c: the profiles, the version changes, and which expect block a
 * profile reads. */
#include "profile.h"

#include <stdio.h>
#include <string.h>

typedef struct profile_row {
    const char *name;
    int version;
    bool eager;
    const char *alias;
} profile_row;

static const profile_row profiles[] = {
#define LS_X(id, name, ver, eager, alias) {name, ver, eager, alias},
    LS_PROFILES(LS_X)
#undef LS_X
};

typedef struct change_row {
    const char *name;
    int since;
    const char *why;
} change_row;

static const change_row changes[] = {
#define LS_X(id, name, since, why) {name, since, why},
    LS_CHANGES(LS_X)
#undef LS_X
};

static bool is(const char *name, const char *s, size_t n) {
    return name && strlen(name) == n && memcmp(name, s, n) == 0;
}

const char *ls_profile_name(int p) {
    return p >= 0 && p < LS_PROF__COUNT ? profiles[p].name : "default";
}

int ls_profile_parse(const char *s, size_t n) {
    for (int i = 0; i < LS_PROF__COUNT; i++)
        if (is(profiles[i].name, s, n) || is(profiles[i].alias, s, n)) return i;
    return -1;
}

bool ls_profile_eager(int p) { return profiles[p].eager; }

int ls_profile_version(int p) { return profiles[p].version; }

const char *ls_profile_release(int p, char buf[16]) {
    int v = profiles[p].version;
    snprintf(buf, 16, "%d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    return buf;
}

const char *ls_profile_list(void) {
    static char list[512];
    if (!*list) {
        size_t at = 0;
        for (int i = 0; i < LS_PROF__COUNT && at < sizeof list; i++)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "",
                                   profiles[i].name);
        if (at < sizeof list)
            snprintf(list + at, sizeof list - at, ", asyncio, eager");
    }
    return list;
}

bool ls_since(int p, ls_change c) { return profiles[p].version >= changes[c].since; }

int ls_change_parse(const char *s, size_t n) {
    for (int i = 0; i < LS_CH__COUNT; i++)
        if (is(changes[i].name, s, n)) return i;
    return -1;
}

const char *ls_change_name(int c) { return changes[c].name; }
const char *ls_change_why(int c) { return changes[c].why; }
int ls_change_since(int c) { return changes[c].since; }
const char *ls_profile_alias(int p) { return profiles[p].alias; }

/* ---- expect-block labels ---- */

int ls_label_parse(const char *s, size_t n) {
    if (is("asyncio", s, n)) return LS_KIND_ASYNCIO;
    if (is("eager", s, n)) return LS_KIND_EAGER;
    for (int i = 0; i < LS_PROF__COUNT; i++)
        if (is(profiles[i].name, s, n)) return i;
    return -1;
}

unsigned ls_label_profiles(int name) {
    if (name >= 0) return 1u << name;
    unsigned set = 0;
    for (int i = 0; i < LS_PROF__COUNT; i++)
        if (profiles[i].eager == (name == LS_KIND_EAGER)) set |= 1u << i;
    return set;
}

/* The profile of p's version line: asyncio-3.11 for asyncio-3.11.3. */
static int line_of(int p) {
    for (int i = 0; i < LS_PROF__COUNT; i++)
        if (profiles[i].eager == profiles[p].eager &&
            profiles[i].version / 100 == profiles[p].version / 100)
            return i;
    return p;
}

/* The lazy profile of an eager profile's version. */
static int lazy_of(int p) {
    for (int i = 0; i < LS_PROF__COUNT; i++)
        if (!profiles[i].eager && profiles[i].version == profiles[p].version) return i;
    return -1;
}

int ls_label_rank(int name, int p) {
    if (name == p) return 6;
    if (name >= 0 && name != p && name == line_of(p)) return 5;
    if (profiles[p].eager) {
        if (name == LS_KIND_EAGER) return 4;
        if (name >= 0 && name == lazy_of(p)) return 3;
    }
    if (name == LS_KIND_ASYNCIO && !profiles[p].eager) return 2;
    return 0;
}
_Static_assert(LS_CH__COUNT <= 64, "run.changes_used holds a bit per change");
