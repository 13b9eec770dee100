/* testutil.h: helpers shared by the model's unit tests: write a case to a
 * temporary file, load it, run it, and get the trace as one string. */
#ifndef LS_TESTUTIL_H
#define LS_TESTUTIL_H

#define _GNU_SOURCE

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "case.h"
#include "compile.h"
#include "loop.h"
#include "vm.h"

/* Writes text to a fresh temporary .case file; the caller unlinks it. */
static inline char *tu_write(const char *text) {
    char *path = strdup("/tmp/lscaseXXXXXX.case");
    int fd = mkstemps(path, 5);
    ck_assert_int_ge(fd, 0);
    size_t n = strlen(text);
    ck_assert_int_eq((int)write(fd, text, n), (int)n);
    close(fd);
    return path;
}

/* A case around a program, with an empty default expect block. */
static inline char *tu_case(const char *program) {
    size_t n = strlen(program) + 128;
    char *text = malloc(n);
    snprintf(text, n, "---\ntitle: t\nsource: unit test\n---\n%s\nexpect:\n", program);
    char *path = tu_write(text);
    free(text);
    return path;
}

/* Loads a case; returns 0, or -1 with the message in err. */
static inline int tu_load(const char *text, ls_case *c, char *err, size_t errn) {
    char *path = tu_write(text);
    ls_error e = {0};
    int rc = ls_case_load(c, path, &e);
    if (rc < 0) snprintf(err, errn, "%s", strstr(e.msg, "error:") ? strstr(e.msg, "error:") : e.msg);
    unlink(path);
    /* c->path points into path: keep it alive for the case's lifetime. */
    if (rc == 0) c->path = "case";
    free(path);
    return rc;
}

/* Runs a program under a profile; returns the trace joined by '|', or
 * "ERROR: message" for a compile or run error. Caller frees. */
static inline char *tu_run(const char *program, int profile) {
    char *path = tu_case(program);
    ls_case c;
    ls_error e = {0};
    char *out;
    if (ls_case_load(&c, path, &e) < 0) {
        size_t n = strlen(e.msg) + 8;
        out = malloc(n);
        snprintf(out, n, "ERROR: %s", e.msg);
        ls_case_free(&c);
        unlink(path);
        free(path);
        return out;
    }
    ls_program *p = ls_compile(&c, &e);
    if (!p) {
        size_t n = strlen(e.msg) + 8;
        out = malloc(n);
        snprintf(out, n, "ERROR: %s", e.msg);
    } else {
        ls_vm vm;
        int rc = ls_vm_init(&vm, p, profile);
        if (rc == 0) rc = ls_run_main(&vm);
        ls_buf b = {0};
        if (rc < 0) {
            ls_buf_printf(&b, "ERROR: %s", vm.err.msg);
        } else {
            for (int i = 0; i < vm.ntrace; i++) {
                if (i) ls_buf_putc(&b, '|');
                ls_buf_puts(&b, vm.trace[i]);
            }
        }
        out = strdup(ls_buf_cstr(&b));
        ls_buf_free(&b);
        ls_vm_free(&vm);
        ls_program_free(p);
    }
    ls_case_free(&c);
    unlink(path);
    free(path);
    return out;
}

#define TU_RUN_EQ(prog, profile, want)                                         \
    do {                                                                       \
        char *got_ = tu_run(prog, profile);                                    \
        ck_assert_str_eq(got_, want);                                          \
        free(got_);                                                            \
    } while (0)

#define TU_MAIN(suite_fn)                                                      \
    int main(void) {                                                           \
        SRunner *sr = srunner_create(suite_fn());                              \
        srunner_run_all(sr, CK_ENV);                                           \
        int failed = srunner_ntests_failed(sr);                                \
        srunner_free(sr);                                                      \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                           \
    }

#endif
