/*
 * floor: the C floor of a sleep(0) switch, for the loopspec report.
 *
 * The same ping-pong as cases/bench/sleep0-switch.case, with nothing but
 * what a switch needs: two coroutines ("a" and "b", stackless: a resume
 * point and their locals in a struct, as a compiler turns a generator into
 * a state machine), and a FIFO ready queue of handles (callback, argument).
 * A task's step resumes its coroutine; `await sleep(0)` saves the resume
 * point and returns "yielded", and the step puts the task back at the end of
 * the ready queue (call_soon(step)), as asyncio's Task.__step does for a
 * bare yield.  The loop pops handles and calls them until the queue is empty.
 * No interpreter, no allocation per switch, no futures.
 *
 * Two variants:
 *   ring    the ready queue is a ring buffer of (fn, arg) pairs
 *   malloc  the same, but each call_soon allocates its handle with malloc
 *           and the loop frees it after the call (asyncio allocates a
 *           Handle object per call_soon)
 *
 * usage: floor [--ops N] [--repeat K] [--json]
 *   --ops N     switches per run, split between the two tasks (default 4000000)
 *   --repeat K  timed runs after one warm-up (default 5)
 *   --json      one JSON object per variant, like `loopspec-model bench --json`
 *
 * Prints ns per switch (median, min, max over the runs) on CLOCK_MONOTONIC.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct handle {
    void (*fn)(void *);
    void *arg;
} handle;

/* The ready queue: a ring buffer (power-of-two capacity). */
static handle *ring;
static size_t ring_mask, ring_head, ring_tail;
static int use_malloc;

static void call_soon(void (*fn)(void *), void *arg) {
    if (use_malloc) {
        handle *h = malloc(sizeof *h);
        if (!h) {
            perror("floor: malloc");
            exit(1);
        }
        h->fn = fn;
        h->arg = arg;
        ring[ring_tail++ & ring_mask] = (handle){NULL, h};
    } else {
        ring[ring_tail++ & ring_mask] = (handle){fn, arg};
    }
}

static void run_loop(void) {
    while (ring_head != ring_tail) {
        handle h = ring[ring_head++ & ring_mask];
        if (h.fn) {
            h.fn(h.arg);
        } else {
            handle *p = h.arg;
            p->fn(p->arg);
            free(p);
        }
    }
}

/* A task: a stackless coroutine `ping` (resume point + locals). */
typedef struct task {
    int resume;   /* 0: start, 1: after `await sleep(0)` */
    long i, n;
    int done;
} task;

/* async def ping(n): i = 0; while i < n: await sleep(0); i += 1
 * Returns 1 when the coroutine yielded, 0 when it returned. */
__attribute__((noinline)) static int ping_resume(task *t) {
    switch (t->resume) {
    case 0:
        t->i = 0;
        while (t->i < t->n) {
            t->resume = 1;
            return 1;   /* await sleep(0): a bare yield */
    case 1:
            t->i++;
        }
    }
    t->done = 1;
    return 0;
}

/* Task.__step: resume the coroutine; a bare yield reschedules the task. */
__attribute__((noinline)) static void task_step(void *arg) {
    task *t = arg;
    if (ping_resume(t)) call_soon(task_step, t);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One run: two tasks, `ops` switches in all; returns ns per switch. */
static double one_run(long ops) {
    task a = {0, 0, ops / 2, 0}, b = {0, 0, ops - ops / 2, 0};
    ring_head = ring_tail = 0;
    double t0 = now_ns();
    call_soon(task_step, &a);
    call_soon(task_step, &b);
    run_loop();
    double dt = now_ns() - t0;
    if (!a.done || !b.done || a.i + b.i != ops) {
        fprintf(stderr, "floor: the tasks did not finish (%ld + %ld of %ld)\n", a.i, b.i, ops);
        exit(1);
    }
    return dt / (double)ops;
}

static int cmpdbl(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv) {
    long ops = 4000000;
    int repeat = 5, json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            ops = atol(argv[++i]);
        } else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            puts("usage: floor [--ops N] [--repeat K] [--json]\n"
                 "The C floor of a sleep(0) switch between two tasks: two stackless\n"
                 "coroutines and a FIFO ready queue of handles, no interpreter.\n"
                 "Prints ns per switch (median, min, max of K runs after a warm-up)\n"
                 "for a ring-buffer queue and for one malloc'd handle per call_soon.");
            return 0;
        } else {
            fprintf(stderr, "floor: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (ops < 2 || repeat < 1 || repeat > 1000) {
        fprintf(stderr, "floor: --ops needs >= 2, --repeat 1 to 1000\n");
        return 2;
    }
    ring_mask = 15;   /* at most two handles are ever queued */
    ring = calloc(ring_mask + 1, sizeof *ring);
    double *t = calloc((size_t)repeat, sizeof *t);
    if (!ring || !t) {
        perror("floor");
        return 1;
    }
    static const char *variants[] = {"ring", "malloc"};
    if (!json) printf("%-8s %12s %10s %10s\n", "variant", "median ns", "min", "max");
    for (int v = 0; v < 2; v++) {
        use_malloc = v;
        one_run(ops);   /* warm-up */
        for (int r = 0; r < repeat; r++) t[r] = one_run(ops);
        qsort(t, (size_t)repeat, sizeof *t, cmpdbl);
        double med = repeat % 2 ? t[repeat / 2] : (t[repeat / 2 - 1] + t[repeat / 2]) / 2;
        if (json)
            printf("{\"case\": \"floor/sleep0-switch\", \"impl\": \"c-floor\", \"variant\": \"%s\", "
                   "\"ops\": %ld, \"ns_per_op\": {\"median\": %.3f, \"min\": %.3f, \"max\": %.3f}, "
                   "\"runs\": %d}\n", variants[v], ops, med, t[0], t[repeat - 1], repeat);
        else
            printf("%-8s %12.3f %10.3f %10.3f\n", variants[v], med, t[0], t[repeat - 1]);
    }
    free(t);
    free(ring);
    return 0;
}
