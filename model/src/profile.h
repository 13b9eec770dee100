/* profile.h: the profiles (one per CPython release the model follows) and
 * the table of scheduling changes between them.
 *
 * A version difference is data: a profile is a CPython version plus the
 * task factory, and every behaviour that differs between versions is one
 * row of LS_CHANGES naming the first release that has it and the CPython
 * change behind it. The C code and the prelude ask ls_since(profile,
 * change) (the prelude as __since("name")); adding a CPython release is a
 * row of LS_PROFILES, and a behaviour it changes is a row of LS_CHANGES. */
#ifndef LS_PROFILE_H
#define LS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#define LS_VER(maj, min, patch) ((maj) * 10000 + (min) * 100 + (patch))

/* X(id, name, version, eager, alias). A version line's profile follows the
 * release observed for it; a patch release that orders differently from
 * its line's observed release has a profile of its own. The order is the
 * order of `check --all-profiles`. */
#define LS_PROFILES(X)                                                \
    X(PY311,    "asyncio-3.11",   LS_VER(3, 11, 2), false, NULL)      \
    X(PY3113,   "asyncio-3.11.3", LS_VER(3, 11, 3), false, NULL)      \
    X(PY3117,   "asyncio-3.11.7", LS_VER(3, 11, 7), false, NULL)      \
    X(PY312,    "asyncio-3.12",   LS_VER(3, 12, 7), false, NULL)      \
    X(EAGER312, "eager-3.12",     LS_VER(3, 12, 7), true,  NULL)      \
    X(PY313,    "asyncio-3.13",   LS_VER(3, 13, 2), false, NULL)      \
    X(EAGER313, "eager-3.13",     LS_VER(3, 13, 2), true,  NULL)      \
    X(ASYNCIO,  "asyncio-3.14",   LS_VER(3, 14, 2), false, "asyncio") \
    X(EAGER,    "eager-3.14",     LS_VER(3, 14, 2), true,  "eager")   \
    X(PY315,    "asyncio-3.15",   LS_VER(3, 15, 0), false, NULL)      \
    X(EAGER315, "eager-3.15",     LS_VER(3, 15, 0), true,  NULL)

typedef enum ls_profile {
#define LS_X(id, name, ver, eager, alias) LS_PROF_##id,
    LS_PROFILES(LS_X)
#undef LS_X
    LS_PROF__COUNT
} ls_profile;

/* X(id, name, since, what and where CPython changed it). `since` is the
 * first release with the new behaviour; profiles of older releases keep
 * the old one. */
#define LS_CHANGES(X)                                                          \
    X(TIMEOUT_CANCELLING, "timeout_cancelling", LS_VER(3, 11, 3),              \
      "asyncio.timeout records task.cancelling() on entry and turns the "      \
      "CancelledError into TimeoutError unless a newer cancel is pending "     \
      "(gh-102780)")                                                           \
    X(INVALID_STATE_CHECKS, "invalid_state_checks", LS_VER(3, 11, 7),          \
      "Timeout refuses a second entry and reschedule() before entry with "     \
      "RuntimeError; TaskGroup's says it 'has already been entered' "          \
      "(gh-111085)")                                                           \
    X(NEUMAIER_SUM, "neumaier_sum", LS_VER(3, 12, 0),                          \
      "sum() of floats uses Neumaier's compensated summation (gh-100425)")     \
    X(WAIT_FOR_TIMEOUT, "wait_for_timeout", LS_VER(3, 12, 0),                  \
      "wait_for awaits its argument inline inside timeout(), not in a new "    \
      "task through wait() (gh-96764)")                                        \
    X(CREATE_TASK_COROUTINE_ONLY, "create_task_coroutine_only",                \
      LS_VER(3, 12, 0),                                                        \
      "iscoroutine() no longer accepts generator-based coroutines, so "        \
      "create_task refuses them (gh-102748)")                                  \
    X(GATHER_DONE_AT_ONCE, "gather_done_at_once", LS_VER(3, 12, 0),            \
      "gather finishes a child that is already done at once instead of "       \
      "through a done callback (gh-97696, eager tasks)")                       \
    X(SOCKET_IN_ONE_TRANSPORT, "socket_in_one_transport", LS_VER(3, 12, 0),    \
      "_make_socket_transport refuses a socket another open transport uses "   \
      "with RuntimeError (gh-88968)")                                          \
    X(TASKGROUP_DONE_TASK_AT_ONCE, "taskgroup_done_task_at_once",              \
      LS_VER(3, 12, 0),                                                        \
      "TaskGroup.create_task handles a task that is already done (an eager "   \
      "one) at once instead of through a done callback (gh-97696)")            \
    X(FLOAT_MODULO_BY_ZERO, "float_modulo_by_zero", LS_VER(3, 13, 0),          \
      "x % 0.0 says 'float modulo by zero', not 'float modulo'")               \
    X(SLEEP_NAN_VALUE_ERROR, "sleep_nan_value_error", LS_VER(3, 13, 0),        \
      "sleep(nan) raises ValueError; before, NaN went to call_later and the "  \
      "timer was due at once (gh-105331)")                                     \
    X(UNCANCEL_CLEARS_MUST_CANCEL, "uncancel_clears_must_cancel",              \
      LS_VER(3, 13, 0),                                                        \
      "uncancel() down to zero withdraws a cancel not yet delivered "          \
      "(gh-116720)")                                                           \
    X(TASKGROUP_UNCANCELS_AFTER_WAITING, "taskgroup_uncancels_after_waiting",  \
      LS_VER(3, 13, 0),                                                        \
      "TaskGroup.__aexit__ uncancels its parent after its children finish, "   \
      "not before, and re-cancels a parent cancelled from outside "            \
      "(gh-116720)")                                                           \
    X(CONDITION_WAIT_PASSES_ON, "condition_wait_passes_notification_on",       \
      LS_VER(3, 13, 0),                                                        \
      "Condition.wait cancelled after its notify passes the notification on "  \
      "and keeps the CancelledError it caught (gh-112202, gh-111693)")         \
    X(SEMAPHORE_WAKES_ALL, "semaphore_wakes_all_it_can", LS_VER(3, 13, 0),     \
      "Semaphore.acquire wakes as many waiters as the value allows, also "     \
      "after a successful acquire (gh-111693)")                                \
    X(TASKGROUP_ALWAYS_DONE_CALLBACK, "taskgroup_always_done_callback",        \
      LS_VER(3, 13, 2),                                                        \
      "TaskGroup.create_task always adds the done callback, even for a task "  \
      "already done, so an eager failure cancels the parent later "            \
      "(gh-128550)")                                                           \
    X(TASK_FACTORY_SETS_NAME_NONE, "task_factory_sets_name_none",             \
      LS_VER(3, 13, 0),                                                        \
      "loop.create_task calls set_name(name) on a task factory's task even "  \
      "when name is None: create_task() with eager_task_factory names the "    \
      "task 'None' after its first step (gh-112622; reported as gh-130033)")  \
    X(QUEUE_SHUTDOWN, "queue_shutdown", LS_VER(3, 13, 0),                      \
      "Queue.shutdown(immediate=False) and QueueShutDown: put and get raise "  \
      "QueueShutDown once the queue is shut down (gh-96471)")                  \
    X(AS_COMPLETED_ITERATOR, "as_completed_iterator", LS_VER(3, 13, 0),        \
      "as_completed returns an _AsCompletedIterator, set up at the call, "     \
      "instead of a generator set up at its first next() (gh-77714)")          \
    X(TASK_FACTORY_GETS_NAME, "task_factory_gets_name", LS_VER(3, 14, 0),      \
      "loop.create_task passes its keyword arguments to the task factory, "    \
      "so an eager task has its name during its first step (gh-128308; "       \
      "3.13.3 passed it too, 3.13.4 took it back, gh-133745)")                 \
    X(CREATE_TASK_EAGER_START, "create_task_eager_start", LS_VER(3, 14, 0),    \
      "create_task(..., eager_start=...) starts one task eagerly or lazily "   \
      "whatever the task factory (gh-128307)")                                 \
    X(ZERO_DIVISION_MESSAGE, "zero_division_message", LS_VER(3, 14, 0),        \
      "ZeroDivisionError says 'division by zero' for every operator and "      \
      "type (gh-119057)")                                                      \
    X(LIST_INDEX_MESSAGE, "list_index_message", LS_VER(3, 14, 0),              \
      "list.index() of a missing item says 'list.index(x): x not in list', "   \
      "not 'X is not in list'")                                                \
    X(UNPACK_GOT_COUNT, "unpack_got_count", LS_VER(3, 14, 0),                  \
      "unpacking a list or tuple into too few names says how many it got "     \
      "('expected 2, got 3')")                                                 \
    X(TASKGROUP_CANCEL, "taskgroup_cancel", LS_VER(3, 15, 0),                  \
      "TaskGroup.cancel() cancels the children and the body, and the block "   \
      "ends without an exception (gh-108951)")                                 \
    X(CONNECTION_CLOSES_SOCKET, "connection_closes_socket", LS_VER(3, 15, 0),  \
      "create_connection closes the socket when the transport cannot be "      \
      "made (gh-153133; 3.14.7 too, and later releases keep a socket the "     \
      "caller gave open again, gh-155305)")

typedef enum ls_change {
#define LS_X(id, name, since, why) LS_CH_##id,
    LS_CHANGES(LS_X)
#undef LS_X
    LS_CH__COUNT
} ls_change;

const char *ls_profile_name(int p);
/* A profile by its name or alias; -1 if unknown. */
int ls_profile_parse(const char *s, size_t n);
bool ls_profile_eager(int p);
int ls_profile_version(int p);
/* "3.12.7": the release the profile follows. */
const char *ls_profile_release(int p, char buf[16]);
/* The profiles' names for messages: "asyncio-3.11, asyncio-3.11.3, ...". */
const char *ls_profile_list(void);

/* Whether profile p has the behaviour introduced by change c. */
bool ls_since(int p, ls_change c);
/* A change by its name; -1 if unknown. */
int ls_change_parse(const char *s, size_t n);
const char *ls_change_name(int c);
const char *ls_change_why(int c);
int ls_change_since(int c);
const char *ls_profile_alias(int p);   /* "asyncio", "eager" or NULL */

/* Expect-block labels: a block names profiles, or a kind (`asyncio`: every
 * profile with lazy tasks, `eager`: every eager profile). A label is a set
 * of profiles (bit p) and, per profile, how closely it names it. */
#define LS_KIND_ASYNCIO (-2)
#define LS_KIND_EAGER (-3)
/* A name of an expect label or `profiles:` entry: a profile, or one of the
 * kinds above; -1 if unknown. */
int ls_label_parse(const char *s, size_t n);
/* The profiles a label name covers (a bit per profile). */
unsigned ls_label_profiles(int name);
/* How closely label name `name` matches profile p, for choosing its expect
 * block: 0 not at all; higher is closer. The rule, in order: the profile's
 * own name; its version line's profile (asyncio-3.11 for asyncio-3.11.3);
 * for an eager profile, `eager`, then its version's lazy profile; then the
 * kind `asyncio`; then the default block (which matches everything, 1). */
int ls_label_rank(int name, int p);

#endif
