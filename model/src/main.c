/* main.c: the loopspec-model command line: run, check, ast, dis. */
#define _POSIX_C_SOURCE 200809L
#include "builtins.h"
#include "case.h"
#include "compile.h"
#include "explain.h"
#include "json.h"
#include "loop.h"
#include "vm.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#define EXIT_MALFORMED 2
#define EXIT_RUNTIME 3

#if defined(__SANITIZE_ADDRESS__)
#define LS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LS_ASAN 1
#endif
#endif

static const char *usage_main =
    "usage: loopspec-model COMMAND [OPTIONS] CASE...\n"
    "\n"
    "The loopspec reference model: runs case programs on a model of asyncio's\n"
    "event loop and prints the trace CPython would print.\n"
    "\n"
    "commands:\n"
    "  run [--profile P] CASE        print the case's trace, one line per log()\n"
    "  check [--profile P | --all-profiles] CASE|DIR...\n"
    "                                compare traces with the cases' expect blocks\n"
    "  ast CASE                      the parsed case as JSON (for adapters)\n"
    "  dis CASE                      the compiled bytecode\n"
    "  bench [--repeat K] [--json] CASE...\n"
    "                                time benchmark cases (header 'bench: N')\n"
    "  profiles [--json]             the profiles and the version changes\n"
    "  serve                         answer run and ast requests, JSON lines\n"
    "\n"
    "profiles: one per CPython release followed, asyncio-3.11 (3.11.2),\n"
    "asyncio-3.11.3, asyncio-3.11.7, asyncio-3.12, asyncio-3.13, asyncio-3.14,\n"
    "asyncio-3.15, and eager-3.12 ... eager-3.15 (eager_task_factory);\n"
    "asyncio (the default) and eager name the 3.14 ones.\n"
    "'loopspec-model COMMAND --help' for each command.\n"
    "exit status: 0 ok, 1 check failures, 2 malformed case or usage, 3 the\n"
    "model could not finish the run (it would hang, or ran out of steps or\n"
    "memory).\n";

static const char *usage_run =
    "usage: loopspec-model run [--profile P] [--explain[=json]] [--max-steps N]\n"
    "                          [--max-memory MIB] [--max-trace-lines N]\n"
    "                          [--max-trace-bytes N] [--changes] CASE\n"
    "\n"
    "Runs CASE as asyncio.run(main()) under profile P (see 'profiles';\n"
    "default asyncio, CPython 3.14) and prints its trace: one line per log(),\n"
    "then 'uncaught Name: message' if main raised. --explain prints the\n"
    "schedule instead, iteration by iteration: every handle run and who\n"
    "scheduled it, where each task step resumed and why it suspended, what\n"
    "it scheduled for when, and each log line in place; --explain=json gives\n"
    "the same as one JSON object per event. --max-steps bounds the\n"
    "instructions run (default 4e9); --max-memory the MiB that may stay live\n"
    "(default 1024: a million pending tasks take about 600); the trace may\n"
    "hold --max-trace-lines lines (default 100000) of --max-trace-bytes bytes\n"
    "in all (default 8388608), as the harness allows every implementation.\n"
    "--changes\n"
    "prints on stderr, after the run, each version switch the run depended\n"
    "on ('change: NAME SINCE has it|not yet: the CPython change'), so a\n"
    "difference between two profiles can be traced to its cause. Exit 0 when\n"
    "the case ran, 2 when it is malformed, 3 when the run cannot finish\n"
    "(CPython would block forever, or a budget ran out).\n";

static const char *usage_check =
    "usage: loopspec-model check [--profile P | --all-profiles] [--explain] [-q] CASE|DIR...\n"
    "\n"
    "Runs each case (directories are searched for *.case files) under the\n"
    "profile P (default asyncio), or under every profile the case applies to\n"
    "with --all-profiles, and compares the trace with its expect blocks.\n"
    "--explain also runs it with explanations on and checks that their log\n"
    "lines are the trace, in order.\n"
    "Prints PASS or FAIL with the case id and profile, a unified diff for each\n"
    "failure, and the closing line 'N passed, N failed'. -q prints failures\n"
    "only. Exit 0 iff every run passed.\n";

static const char *usage_ast =
    "usage: loopspec-model ast CASE\n"
    "\n"
    "Prints the case as one JSON object: id, header, the program's text and\n"
    "first line, the expect blocks per profile (unordered groups as\n"
    "{\"unordered\": [...]}), and the program's syntax tree. Exit 2 if the\n"
    "case is malformed.\n";

static const char *usage_bench =
    "usage: loopspec-model bench [--profile P] [--repeat K] [--json] CASE|DIR...\n"
    "\n"
    "Runs each benchmark case (header 'bench: N', the operations one run\n"
    "performs) once to warm up, then K times (default 5), timing the run\n"
    "(not the parse and compile) with the monotonic clock, and prints ns per\n"
    "operation as median, min and max, and the growth of the peak resident\n"
    "set over the first run in bytes per operation. --json prints one JSON\n"
    "object per case instead.\n";

static const char *usage_dis =
    "usage: loopspec-model dis CASE\n\nPrints the bytecode the case compiles to.\n";

typedef struct run_result {
    int status;          /* 0 ran, EXIT_MALFORMED, EXIT_RUNTIME */
    char **trace;
    int n;
    uint64_t changes;   /* the LS_CHANGES rows the run consulted */
    char err[LS_ERRMAX];
} run_result;

static void result_free(run_result *r) {
    for (int i = 0; i < r->n; i++) free(r->trace[i]);
    free(r->trace);
    r->trace = NULL;
    r->n = 0;
}

static int run_case_x(const ls_case *c, int profile, uint64_t max_steps, bool echo, int explain,
                      ls_buf *explained, run_result *r);

/* `run --max-memory`, `--max-trace-lines`, `--max-trace-bytes`: the budgets
 * of the runs of this process (0: the defaults). */
static size_t max_memory, max_trace_lines, max_trace_bytes;

/* The memory budget counts what the collector sees; one allocation too
 * big for the machine (a list doubled forty times) would still reach the
 * kernel's OOM killer, so the process's data segment is limited too, to
 * four budgets: malloc fails, and the run stops with a message. Not under
 * ASan, whose shadow memory is data too. */
static void limit_data(const char *path, size_t budget) {
    static char note[512];
    snprintf(note, sizeof note, "%s: a run may use about %zu MiB "
             "(loopspec-model run --max-memory)", path, (budget >> 20) * 4);
    ls_set_oom_note(note);
#ifndef LS_ASAN
    struct rlimit rl;
    if (getrlimit(RLIMIT_DATA, &rl) == 0) {
        rlim_t want = (rlim_t)budget * 4;
        if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) want = rl.rlim_max;
        rl.rlim_cur = want;
        setrlimit(RLIMIT_DATA, &rl);
    }
#endif
}

static int run_case(const ls_case *c, int profile, uint64_t max_steps, bool echo, run_result *r) {
    return run_case_x(c, profile, max_steps, echo, LS_EXPLAIN_OFF, NULL, r);
}

/* serve's "fitness": true: where run_case_x writes the summary (a JSON
 * object) the fuzzer judges a program by, instead of the explanations. */
static ls_buf *fitness_out;

static void fitness_json(ls_buf *b, ls_vm *vm) {
    ls_buf_printf(b, "{\"leftovers\":%d,\"unfinished\":[", vm->leftovers);
    bool first = true;
    for (ls_task *t = vm->loop.pending_head; t; t = t->next)
        if (t->made) {
            ls_buf_printf(b, "%s\"Task-%lld\"", first ? "" : ",", (long long)t->id);
            first = false;
        }
    ls_buf_puts(b, "],\"deadlines\":[");
    for (int i = 0; i < vm->ndeadlines; i++) ls_buf_printf(b, "%s%.9g", i ? "," : "", vm->deadlines[i]);
    ls_buf_printf(b, "],\"end_time\":%.9g}", vm->loop.now);
}

static int run_case_x(const ls_case *c, int profile, uint64_t max_steps, bool echo, int explain,
                      ls_buf *explained, run_result *r) {
    memset(r, 0, sizeof *r);
    ls_error e = {0};
    ls_program *prog = ls_compile(c, &e);
    if (!prog) {
        snprintf(r->err, sizeof r->err, "%s", e.msg);
        return r->status = EXIT_MALFORMED;
    }
    ls_vm vm;
    int rc = ls_vm_init(&vm, prog, profile);
    vm.echo = echo;
    vm.explain = explain;
    vm.fitness = fitness_out != NULL;
    if (max_steps) vm.max_steps = max_steps;
    if (max_memory) vm.max_bytes = max_memory;
    if (max_trace_lines) vm.max_trace_lines = max_trace_lines;
    if (max_trace_bytes) vm.max_trace_bytes = max_trace_bytes;
    limit_data(c->path, vm.max_bytes);
    if (rc == 0) rc = ls_run_main(&vm);
    if (rc < 0) {
        snprintf(r->err, sizeof r->err, "%s", vm.err.msg);
        r->status = EXIT_RUNTIME;
    }
    r->trace = vm.trace;
    r->n = vm.ntrace;
    r->changes = vm.changes_used;
    vm.trace = NULL;
    vm.ntrace = 0;
    if (explained) {
        *explained = vm.explain_out;
        memset(&vm.explain_out, 0, sizeof vm.explain_out);
    }
    if (fitness_out && rc == 0) fitness_json(fitness_out, &vm);
    ls_vm_free(&vm);
    ls_program_free(prog);
    return r->status;
}

static int parse_profile(const char *s) {
    int p = ls_profile_parse(s, strlen(s));
    if (p < 0) fprintf(stderr, "loopspec-model: unknown profile '%s' (%s)\n", s, ls_profile_list());
    return p;
}

static bool wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
    return false;
}

/* The budget options of run and serve: --max-steps N, --max-memory MIB,
 * --max-trace-lines N, --max-trace-bytes N. 1 when argv[*i] was one (and
 * its value consumed), 0 when it is another option, -1 on a bad value. */
static int budget_option(int argc, char **argv, int *i, uint64_t *steps) {
    const char *opt = argv[*i];
    bool is_steps = strcmp(opt, "--max-steps") == 0, is_mem = strcmp(opt, "--max-memory") == 0;
    bool is_lines = strcmp(opt, "--max-trace-lines") == 0, is_bytes = strcmp(opt, "--max-trace-bytes") == 0;
    if (!(is_steps || is_mem || is_lines || is_bytes)) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "loopspec-model: %s takes a value\n", opt);
        return -1;
    }
    char *end;
    unsigned long long v = strtoull(argv[++*i], &end, 10);
    if (*end || !v || (is_mem && v > ((size_t)-1 >> 22))) {
        fprintf(stderr, "loopspec-model: %s takes a positive number%s\n", opt, is_mem ? " of MiB" : "");
        return -1;
    }
    if (is_steps) *steps = v;
    else if (is_mem) max_memory = (size_t)v << 20;
    else if (is_lines) max_trace_lines = (size_t)v;
    else max_trace_bytes = (size_t)v;
    return 1;
}

static int cmd_run(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        fputs(usage_run, stdout);
        return 0;
    }
    int profile = LS_PROF_ASYNCIO, explain = LS_EXPLAIN_OFF;
    uint64_t steps = 0;
    bool changes = false;
    int b;
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--changes") == 0) {
            changes = true;
        } else if (strcmp(argv[i], "--explain") == 0 || strcmp(argv[i], "--explain=text") == 0) {
            explain = LS_EXPLAIN_TEXT;
        } else if (strcmp(argv[i], "--explain=json") == 0) {
            explain = LS_EXPLAIN_JSON;
        } else if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
            if ((profile = parse_profile(argv[++i])) < 0) return EXIT_MALFORMED;
        } else if (strncmp(argv[i], "--profile=", 10) == 0) {
            if ((profile = parse_profile(argv[i] + 10)) < 0) return EXIT_MALFORMED;
        } else if ((b = budget_option(argc, argv, &i, &steps)) != 0) {
            if (b < 0) return EXIT_MALFORMED;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "loopspec-model run: unknown option '%s'\n%s", argv[i], usage_run);
            return EXIT_MALFORMED;
        } else if (!path) {
            path = argv[i];
        } else {
            fprintf(stderr, "loopspec-model run: one case at a time\n");
            return EXIT_MALFORMED;
        }
    }
    if (!path) {
        fputs(usage_run, stderr);
        return EXIT_MALFORMED;
    }
    ls_case c;
    ls_error e = {0};
    if (ls_case_load(&c, path, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        ls_case_free(&c);
        return EXIT_MALFORMED;
    }
    run_result r;
    ls_buf explained = {0};
    int st = run_case_x(&c, profile, steps, explain == LS_EXPLAIN_OFF, explain, &explained, &r);
    if (explained.len) fwrite(explained.p, 1, explained.len, stdout);
    ls_buf_free(&explained);
    fflush(stdout);
    if (st) fprintf(stderr, "%s\n", r.err);
    if (changes) {
        /* One line a version switch the run depended on: what the
         * profile's CPython does there, and the change it follows. */
        for (int ch = 0; ch < LS_CH__COUNT; ch++) {
            if (!(r.changes >> ch & 1)) continue;
            int v = ls_change_since(ch);
            fprintf(stderr, "change: %s %d.%d.%d %s: %s\n", ls_change_name(ch), v / 10000,
                    v / 100 % 100, v % 100, ls_since(profile, ch) ? "has it" : "not yet",
                    ls_change_why(ch));
        }
    }
    result_free(&r);
    ls_case_free(&c);
    return st;
}

/* Collects case files: a directory contributes its *.case files, sorted. */
typedef struct paths { char **v; int n, cap; } paths;

static void paths_add(paths *p, const char *s) {
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->v = ls_xrealloc(p->v, (size_t)p->cap * sizeof *p->v);
    }
    p->v[p->n++] = ls_xstrndup(s, strlen(s));
}

static int cmpstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect(paths *p, const char *path, int depth) {
    struct stat st;
    if (depth > 20 || stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        paths_add(p, path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        paths_add(p, path);
        return;
    }
    paths sub = {0};
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.') continue;
        size_t n = strlen(path) + strlen(ent->d_name) + 2;
        char *full = ls_xmalloc(n);
        snprintf(full, n, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", ent->d_name);
        struct stat s2;
        if (stat(full, &s2) == 0 && S_ISDIR(s2.st_mode)) paths_add(&sub, full);
        else if (strlen(ent->d_name) > 5 && strcmp(ent->d_name + strlen(ent->d_name) - 5, ".case") == 0)
            paths_add(&sub, full);
        free(full);
    }
    closedir(d);
    if (sub.n) qsort(sub.v, (size_t)sub.n, sizeof *sub.v, cmpstr);
    for (int i = 0; i < sub.n; i++) {
        collect(p, sub.v[i], depth + 1);
        free(sub.v[i]);
    }
    free(sub.v);
}

/* Whether the JSON explanation's log events are exactly the trace. */
static bool explain_agrees(const ls_buf *x, char **trace, int n, char *why, size_t whyn) {
    int k = 0;
    const char *p = x->p ? x->p : "";
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        static const char tag[] = "{\"event\":\"log\",";
        if (len > sizeof tag && strncmp(p, tag, sizeof tag - 1) == 0) {
            if (k >= n) {
                snprintf(why, whyn, "the explanation logs more lines than the trace");
                return false;
            }
            ls_buf want = {0};
            ls_buf_puts(&want, ",\"text\":");
            ls_buf_json(&want, trace[k], strlen(trace[k]));
            ls_buf_putc(&want, ',');
            bool hit = false;
            for (const char *q = p; q + want.len <= p + len && !hit; q++)
                hit = memcmp(q, want.p, want.len) == 0;
            ls_buf_free(&want);
            if (!hit) {
                snprintf(why, whyn, "explanation log line %d differs from the trace: %.200s", k + 1, trace[k]);
                return false;
            }
            k++;
        }
        p += len + (eol ? 1 : 0);
    }
    if (k != n) {
        snprintf(why, whyn, "the explanation logs %d lines, the trace %d", k, n);
        return false;
    }
    return true;
}

static int cmd_check(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        fputs(usage_check, stdout);
        return 0;
    }
    int profile = LS_PROF_ASYNCIO;
    bool all = false, quiet = false, explain = false;
    paths files = {0};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--explain") == 0) {
            explain = true;
        } else if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
            if ((profile = parse_profile(argv[++i])) < 0) return EXIT_MALFORMED;
        } else if (strncmp(argv[i], "--profile=", 10) == 0) {
            if ((profile = parse_profile(argv[i] + 10)) < 0) return EXIT_MALFORMED;
        } else if (strcmp(argv[i], "--all-profiles") == 0) {
            all = true;
        } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "loopspec-model check: unknown option '%s'\n%s", argv[i], usage_check);
            return EXIT_MALFORMED;
        } else {
            collect(&files, argv[i], 0);
        }
    }
    if (!files.n) {
        fputs(usage_check, stderr);
        return EXIT_MALFORMED;
    }
    int passed = 0, failed = 0;
    for (int i = 0; i < files.n; i++) {
        ls_case c;
        ls_error e = {0};
        if (ls_case_load(&c, files.v[i], &e) < 0) {
            printf("FAIL %s: %s\n", files.v[i], e.msg);
            failed++;
            ls_case_free(&c);
            continue;
        }
        for (int p = 0; p < LS_PROF__COUNT; p++) {
            if (all ? !(c.profiles >> p & 1) : p != profile) continue;
            if (!all && !(c.profiles >> p & 1)) continue;
            const ls_expect *x = ls_case_expect(&c, p);
            if (!x) continue;   /* a benchmark without expectations */
            run_result r;
            int st = run_case(&c, p, 0, false, &r);
            bool ok = st == 0 && ls_expect_match(x, r.trace, r.n);
            char why[400] = "";
            if (ok && explain) {
                run_result rx;
                ls_buf ex = {0};
                int sx = run_case_x(&c, p, 0, false, LS_EXPLAIN_JSON, &ex, &rx);
                if (sx) {
                    snprintf(why, sizeof why, "with explanations: %.300s", rx.err);
                    ok = false;
                } else if (!explain_agrees(&ex, r.trace, r.n, why, sizeof why)) {
                    ok = false;
                }
                ls_buf_free(&ex);
                result_free(&rx);
            }
            if (ok) {
                passed++;
                if (!quiet) printf("PASS %s [%s]\n", c.id, ls_profile_name(p));
            } else {
                failed++;
                printf("FAIL %s [%s]\n", c.id, ls_profile_name(p));
                if (st) printf("  %s\n", r.err);
                if (*why) printf("  %s\n", why);
                ls_buf b = {0};
                ls_expect_diff(&b, x, r.trace, r.n, ls_profile_name(p));
                fputs(ls_buf_cstr(&b), stdout);
                ls_buf_free(&b);
            }
            result_free(&r);
        }
        ls_case_free(&c);
    }
    for (int i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long maxrss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int cmpdbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmd_bench(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        fputs(usage_bench, stdout);
        return 0;
    }
    int profile = LS_PROF_ASYNCIO, repeat = 5;
    bool json = false;
    paths files = {0};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
            if ((profile = parse_profile(argv[++i])) < 0) return EXIT_MALFORMED;
        } else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            repeat = atoi(argv[++i]);
            if (repeat < 1 || repeat > 1000) {
                fprintf(stderr, "loopspec-model bench: --repeat takes 1 to 1000\n");
                return EXIT_MALFORMED;
            }
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "loopspec-model bench: unknown option '%s'\n%s", argv[i], usage_bench);
            return EXIT_MALFORMED;
        } else {
            collect(&files, argv[i], 0);
        }
    }
    if (!files.n) {
        fputs(usage_bench, stderr);
        return EXIT_MALFORMED;
    }
    int rc = 0;
    if (!json) printf("%-36s %12s %12s %12s %10s\n", "case", "median ns/op", "min", "max", "rss B/op");
    for (int i = 0; i < files.n; i++) {
        ls_case c;
        ls_error e = {0};
        if (ls_case_load(&c, files.v[i], &e) < 0) {
            fprintf(stderr, "%s\n", e.msg);
            ls_case_free(&c);
            rc = EXIT_MALFORMED;
            continue;
        }
        if (!c.bench) {
            ls_case_free(&c);
            continue;
        }
        ls_program *prog = ls_compile(&c, &e);
        if (!prog) {
            fprintf(stderr, "%s\n", e.msg);
            ls_case_free(&c);
            rc = EXIT_MALFORMED;
            continue;
        }
        double *t = ls_xmalloc((size_t)repeat * sizeof *t);
        double rss_per_op = 0;
        bool ok = true;
        for (int r = -1; r < repeat && ok; r++) {
            ls_vm vm;
            long rss0 = maxrss_kb();
            double t0 = now_ns();
            ok = ls_vm_init(&vm, prog, profile) == 0 && ls_run_main(&vm) == 0;
            double dt = now_ns() - t0;
            if (r < 0) rss_per_op = (double)(maxrss_kb() - rss0) * 1024.0 / (double)c.bench;
            else t[r] = dt / (double)c.bench;
            if (!ok) fprintf(stderr, "%s\n", vm.err.msg);
            ls_vm_free(&vm);
        }
        if (ok) {
            qsort(t, (size_t)repeat, sizeof *t, cmpdbl);
            double med = repeat % 2 ? t[repeat / 2] : (t[repeat / 2 - 1] + t[repeat / 2]) / 2;
            if (json)
                printf("{\"case\": \"%s\", \"impl\": \"model\", \"profile\": \"%s\", \"ops\": %ld, "
                       "\"ns_per_op\": {\"median\": %.2f, \"min\": %.2f, \"max\": %.2f}, "
                       "\"runs\": %d, \"rss_bytes_per_op\": %.1f}\n",
                       c.id, ls_profile_name(profile), c.bench, med, t[0], t[repeat - 1], repeat,
                       rss_per_op);
            else
                printf("%-36s %12.1f %12.1f %12.1f %10.1f\n", c.id, med, t[0], t[repeat - 1], rss_per_op);
            fflush(stdout);
        } else {
            rc = EXIT_RUNTIME;
        }
        free(t);
        ls_program_free(prog);
        ls_case_free(&c);
    }
    for (int i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    return rc;
}

static int cmd_ast(int argc, char **argv, bool dis) {
    if (wants_help(argc, argv)) {
        fputs(dis ? usage_dis : usage_ast, stdout);
        return 0;
    }
    if (argc != 1 || argv[0][0] == '-') {
        fputs(dis ? usage_dis : usage_ast, stderr);
        return EXIT_MALFORMED;
    }
    ls_case c;
    ls_error e = {0};
    if (ls_case_load(&c, argv[0], &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        ls_case_free(&c);
        return EXIT_MALFORMED;
    }
    ls_buf b = {0};
    int rc = 0;
    if (dis) {
        ls_program *prog = ls_compile(&c, &e);
        if (!prog) {
            fprintf(stderr, "%s\n", e.msg);
            rc = EXIT_MALFORMED;
        } else {
            ls_program_dump(&b, prog);
            ls_program_free(prog);
        }
    } else {
        /* The model's compiler is part of the gate: what it rejects, no
         * implementation runs. */
        ls_program *prog = ls_compile(&c, &e);
        if (!prog) {
            fprintf(stderr, "%s\n", e.msg);
            rc = EXIT_MALFORMED;
        } else {
            ls_program_free(prog);
            ls_case_json(&b, &c);
            ls_buf_putc(&b, '\n');
        }
    }
    if (b.len) fwrite(b.p, 1, b.len, stdout);
    ls_buf_free(&b);
    ls_case_free(&c);
    return rc;
}

static const char *usage_serve =
    "usage: loopspec-model serve [--max-steps N] [--max-memory MIB]\n"
    "                            [--max-trace-lines N] [--max-trace-bytes N]\n"
    "\n"
    "Answers requests for many cases in one process: one JSON object a line\n"
    "on stdin, one reply a line on stdout, in order (the adapter protocol of\n"
    "harness/ADAPTERS.md), after a ready line. A request names the case by\n"
    "\"path\" (a case file) or by \"program\" and \"line\" (the program text and\n"
    "the file line it starts on), and a \"profile\"; the reply is {\"id\",\n"
    "\"case\", \"trace\"} as `run` prints it, or {\"id\", \"case\", \"error\"} with\n"
    "the message `run` would print (a malformed case, a run that cannot\n"
    "finish, a budget) and \"exit\", the status `run` would exit with. With \"ast\": true the reply is {\"id\", \"case\", \"ast\"}\n"
    "holding what `ast` prints: the gate, without a process per case; with\n"
    "\"fitness\": true the reply adds \"fitness\": {\"leftovers\", \"unfinished\",\n"
    "\"deadlines\", \"end_time\"}: the tasks asyncio.run cancelled after main,\n"
    "the tasks still pending after it, every timer's deadline and the clock\n"
    "at the end (what the fuzzer reads from the explanations otherwise). With\n"
    "\"explain\": true the reply adds \"explain\", the events of\n"
    "`run --explain=json` as an array; \"max_steps\" sets the step budget and\n"
    "\"limits\" ({\"max_trace_lines\", \"max_trace_bytes\", \"max_memory_mib\"},\n"
    "the adapter's cap, of which the model takes half) the others. Each\n"
    "request starts from nothing, a program and runtime of its own, under\n"
    "the budgets of `run`. Exit 0 at end of input.\n";

static void reply_start(ls_buf *b, const ls_json_object *req) {
    const ls_json_member *id = ls_json_get(req, "id");
    ls_buf_puts(b, "{\"id\":");
    if (id) ls_buf_putn(b, id->raw, id->rawlen);
    else ls_buf_puts(b, "null");
    const char *cs = ls_json_str(req, "case");
    ls_buf_puts(b, ",\"case\":");
    if (cs) ls_buf_json(b, cs, strlen(cs));
    else ls_buf_puts(b, "null");
}

static void reply_error(ls_buf *b, const char *msg) {
    ls_buf_puts(b, ",\"error\":");
    ls_buf_json(b, msg, strlen(msg));
}

/* A request's case: its file, or its program text placed at its line of a
 * case file (so messages name the request's lines). 0, or -1 with e. */
static int request_case(const ls_json_object *req, ls_case *c, ls_error *e) {
    const char *path = ls_json_str(req, "path");
    if (path && *path) return ls_case_load(c, path, e);
    const char *program = ls_json_str(req, "program");
    if (!program) {
        memset(c, 0, sizeof *c);
        snprintf(e->msg, sizeof e->msg, "request has neither 'path' nor 'program'");
        e->set = true;
        return -1;
    }
    long long line = 5;
    ls_json_int(req, "line", &line);
    if (line < 5) line = 5;   /* below the synthetic header's four lines */
    if (line > 1000000) line = 1000000;
    const char *cs = ls_json_str(req, "case");
    ls_buf text = {0};
    ls_buf_puts(&text, "---\ntitle: request\nsource: request\n---\n");
    for (long long i = 5; i < line; i++) ls_buf_putc(&text, '\n');
    ls_buf_puts(&text, program);
    ls_buf_puts(&text, "\nexpect:\n");
    char name[300];
    snprintf(name, sizeof name, "%s.case", cs && *cs ? cs : "request");
    int rc = ls_case_parse(c, ls_xstrndup(name, strlen(name)), text.p, text.len, e);
    ls_buf_free(&text);
    return rc;
}

static void serve_one(ls_buf *b, const char *line, size_t n, uint64_t steps) {
    ls_json_object req;
    char err[256];
    if (ls_json_parse(line, n, &req, err, sizeof err) < 0) {
        ls_buf_puts(b, "{\"id\":null,\"error\":");
        char msg[300];
        snprintf(msg, sizeof msg, "bad request: %s", err);
        ls_buf_json(b, msg, strlen(msg));
        ls_buf_puts(b, "}\n");
        ls_json_free(&req);
        return;
    }
    reply_start(b, &req);
    int profile = LS_PROF_ASYNCIO;
    const char *pname = ls_json_str(&req, "profile");
    ls_case c;
    ls_error e = {0};
    bool synthetic = !ls_json_str(&req, "path");
    if (pname && (profile = ls_profile_parse(pname, strlen(pname))) < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "unknown profile '%.60s' (%s)", pname, ls_profile_list());
        reply_error(b, msg);
    } else if (ls_json_true(&req, "bench")) {
        reply_error(b, "bench requests: the model adapter times them with `loopspec-model bench`, "
                       "one process per case");
    } else if (request_case(&req, &c, &e) < 0) {
        reply_error(b, e.msg);
        if (synthetic) free((char *)c.path);
        ls_case_free(&c);
    } else if (ls_json_true(&req, "ast")) {
        ls_program *prog = ls_compile(&c, &e);
        if (!prog) {
            reply_error(b, e.msg);
        } else {
            ls_program_free(prog);
            ls_buf_puts(b, ",\"ast\":");
            ls_case_json(b, &c);
        }
        const char *p = c.path;
        ls_case_free(&c);
        if (synthetic) free((char *)p);
    } else {
        run_result r;
        long long max = 0;
        if (ls_json_int(&req, "max_steps", &max) && max > 0) steps = (uint64_t)max;
        /* The request's limits (ADAPTERS.md): the trace limits as they are,
         * and half the adapter's memory cap as the model's budget (the
         * model counts what is live after a collection, the cap all of it),
         * so that the model's own message comes before the cap. */
        size_t saved[3] = {max_trace_lines, max_trace_bytes, max_memory};
        const ls_json_member *lim = ls_json_get(&req, "limits");
        ls_json_object lo;
        lo.n = 0;
        char lerr[64];
        if (lim && !lim->str && ls_json_parse(lim->raw, lim->rawlen, &lo, lerr, sizeof lerr) == 0) {
            long long v;
            if (ls_json_int(&lo, "max_trace_lines", &v) && v > 0) max_trace_lines = (size_t)v;
            if (ls_json_int(&lo, "max_trace_bytes", &v) && v > 0) max_trace_bytes = (size_t)v;
            if (ls_json_int(&lo, "max_memory_mib", &v) && v > 0)
                max_memory = (size_t)(v / 2 > 16 ? v / 2 : 16) << 20;
        }
        ls_json_free(&lo);
        bool explain = ls_json_true(&req, "explain");
        ls_buf ex = {0}, fit = {0};
        if (ls_json_true(&req, "fitness")) fitness_out = &fit;
        int st = run_case_x(&c, profile, steps, false, explain ? LS_EXPLAIN_JSON : LS_EXPLAIN_OFF,
                            explain ? &ex : NULL, &r);
        fitness_out = NULL;
        if (fit.len) {
            ls_buf_puts(b, ",\"fitness\":");
            ls_buf_putn(b, fit.p, fit.len);
        }
        ls_buf_free(&fit);
        if (explain) {
            /* `run --explain=json`'s events, one object each, as an array;
             * sent with an error reply too (a run that hangs says where). */
            ls_buf_puts(b, ",\"explain\":[");
            for (size_t i = 0; i < ex.len; i++) {
                if (ex.p[i] != '\n') ls_buf_putc(b, ex.p[i]);
                else if (i + 1 < ex.len) ls_buf_putc(b, ',');
            }
            ls_buf_putc(b, ']');
            ls_buf_free(&ex);
        }
        if (st == 0) {
            ls_buf_puts(b, ",\"trace\":[");
            for (int i = 0; i < r.n; i++) {
                if (i) ls_buf_putc(b, ',');
                ls_buf_json(b, r.trace[i], strlen(r.trace[i]));
            }
            ls_buf_putc(b, ']');
        } else {
            /* What `run` prints on stderr, and the trace up to the stop. */
            ls_buf msg = {0};
            ls_buf_puts(&msg, r.err);
            if (r.n && st == EXIT_RUNTIME) {
                ls_buf_printf(&msg, "; trace before: %d line%s, the last: ", r.n, r.n == 1 ? "" : "s");
                ls_buf_puts(&msg, r.trace[r.n - 1]);
            }
            reply_error(b, ls_buf_cstr(&msg));
            ls_buf_printf(b, ",\"exit\":%d", st);   /* run's status: 2 malformed, 3 cannot finish */
            ls_buf_free(&msg);
        }
        result_free(&r);
        max_trace_lines = saved[0], max_trace_bytes = saved[1], max_memory = saved[2];
        const char *p = c.path;
        ls_case_free(&c);
        if (synthetic) free((char *)p);
    }
    ls_buf_puts(b, "}\n");
    ls_json_free(&req);
}

static int cmd_serve(int argc, char **argv) {
    uint64_t steps = 0;
    for (int i = 0; i < argc; i++) {
        int b;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_serve, stdout);
            return 0;
        } else if ((b = budget_option(argc, argv, &i, &steps)) != 0) {
            if (b < 0) return EXIT_MALFORMED;
        } else {
            fprintf(stderr, "loopspec-model serve: unknown argument '%s'\n%s", argv[i], usage_serve);
            return EXIT_MALFORMED;
        }
    }
    ls_buf b = {0};
    ls_buf_puts(&b, "{\"ready\":true,\"impl\":\"loopspec-model\",\"version\":\"model\",\"python\":null,"
                    "\"eager\":false,\"profile\":\"");
    ls_buf_puts(&b, ls_profile_name(LS_PROF_ASYNCIO));
    ls_buf_puts(&b, "\",\"profiles\":[");
    for (int p = 0; p < LS_PROF__COUNT; p++) ls_buf_printf(&b, "%s\"%s\"", p ? "," : "", ls_profile_name(p));
    /* The gate refuses what the model does not run before a case gets
     * here, so it claims every feature. */
    ls_buf_puts(&b, "],\"loop\":\"model\",\"tasks\":\"model\",\"features\":[\"*\"]}\n");
    fwrite(b.p, 1, b.len, stdout);
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        size_t k = 0;
        while (k < (size_t)n && (line[k] == ' ' || line[k] == '\t')) k++;
        if (k == (size_t)n) continue;
        b.len = 0;
        serve_one(&b, line, (size_t)n, steps);
        fwrite(b.p, 1, b.len, stdout);
        fflush(stdout);
    }
    free(line);
    ls_buf_free(&b);
    return 0;
}

static const char *usage_profiles =
    "usage: loopspec-model profiles [--json]\n"
    "\n"
    "Lists the profiles (name, the CPython release it follows, eager or not,\n"
    "its short alias) and the scheduling changes between releases that the\n"
    "model follows (name, first release, the CPython change). --json prints\n"
    "{\"profiles\": [...], \"changes\": [...]}.\n";

static int cmd_profiles(int argc, char **argv) {
    bool json = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_profiles, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") != 0) {
            fprintf(stderr, "loopspec-model profiles: unknown option '%s'\n%s", argv[i], usage_profiles);
            return EXIT_MALFORMED;
        }
        json = true;
    }
    char rel[16];
    ls_buf b = {0};
    if (json) ls_buf_puts(&b, "{\"profiles\":[");
    for (int p = 0; p < LS_PROF__COUNT; p++) {
        const char *alias = ls_profile_alias(p);
        if (json)
            ls_buf_printf(&b, "%s{\"name\":\"%s\",\"version\":\"%s\",\"eager\":%s,\"aliases\":[%s%s%s]}",
                          p ? "," : "", ls_profile_name(p), ls_profile_release(p, rel),
                          ls_profile_eager(p) ? "true" : "false", alias ? "\"" : "",
                          alias ? alias : "", alias ? "\"" : "");
        else
            ls_buf_printf(&b, "%-15s CPython %-7s %s%s%s\n", ls_profile_name(p),
                          ls_profile_release(p, rel), ls_profile_eager(p) ? "eager tasks" : "lazy tasks",
                          alias ? ", also named " : "", alias ? alias : "");
    }
    ls_buf_puts(&b, json ? "],\"changes\":[" : "\nchanges (first release: what changed):\n");
    for (int c = 0; c < LS_CH__COUNT; c++) {
        int v = ls_change_since(c);
        if (json) {
            ls_buf_printf(&b, "%s{\"name\":\"%s\",\"since\":\"%d.%d.%d\",\"why\":", c ? "," : "",
                          ls_change_name(c), v / 10000, v / 100 % 100, v % 100);
            ls_buf_json(&b, ls_change_why(c), strlen(ls_change_why(c)));
            ls_buf_putc(&b, '}');
        } else {
            ls_buf_printf(&b, "%d.%d.%-3d %s: %s\n", v / 10000, v / 100 % 100, v % 100,
                          ls_change_name(c), ls_change_why(c));
        }
    }
    if (json) ls_buf_puts(&b, "]}\n");
    fwrite(b.p, 1, b.len, stdout);
    ls_buf_free(&b);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_MALFORMED;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "check") == 0) return cmd_check(argc - 2, argv + 2);
    if (strcmp(cmd, "ast") == 0) return cmd_ast(argc - 2, argv + 2, false);
    if (strcmp(cmd, "dis") == 0) return cmd_ast(argc - 2, argv + 2, true);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 2, argv + 2);
    if (strcmp(cmd, "profiles") == 0) return cmd_profiles(argc - 2, argv + 2);
    if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 2, argv + 2);
    fprintf(stderr, "loopspec-model: unknown command '%s'\n\n%s", cmd, usage_main);
    return EXIT_MALFORMED;
}
