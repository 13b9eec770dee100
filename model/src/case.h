/* case.h: a case file: header, program, expect blocks; and the profiles.
 *
 * ls_case_load reads and validates a whole file (the program is parsed
 * to an AST too), so a malformed case is rejected before anything runs. */
#ifndef LS_CASE_H
#define LS_CASE_H

#include "ast.h"
#include "profile.h"

#define LS_MAX_EXPECT 8

typedef struct ls_expect_line {
    const char *text;   /* stripped */
    int group;          /* 0: in order; k > 0: the k-th unordered group */
    int line;
} ls_expect_line;

#define LS_MAX_LABEL 8

typedef struct ls_expect {
    /* The names in `expect[a, b]:` (profiles or LS_KIND_*); none for the
     * default block. `label` is them joined by ", ", or "default". */
    int names[LS_MAX_LABEL];
    int nnames;
    const char *label;
    int line;
    ls_expect_line *lines;
    int n, cap;
} ls_expect;

typedef struct ls_case {
    const char *path, *id;
    const char *title, *source, *tags, *requires;
    unsigned profiles;          /* bit per ls_profile the case applies to */
    double timeout;             /* seconds */
    long bench;                 /* operations per run, 0 if not a benchmark */
    const char *program;        /* the program's text, inside `text` */
    size_t program_len;
    int program_line;
    ls_node *module;
    ls_expect expect[LS_MAX_EXPECT];
    int nexpect;
    char *text;
    ls_arena arena;
} ls_case;

/* Loads and validates path. Returns 0, or -1 with the message in e. */
int ls_case_load(ls_case *c, const char *path, ls_error *e);
/* The same from text in memory (copied); path names it in messages. */
int ls_case_parse(ls_case *c, const char *path, const char *text, size_t len, ls_error *e);
/* The expect block a profile reads (or NULL): the one whose label names it
 * most closely (ls_label_rank), else the default block. */
const ls_expect *ls_case_expect(const ls_case *c, int profile);
void ls_case_free(ls_case *c);
/* Appends the case as JSON: header, program text, AST, expect blocks. */
void ls_case_json(ls_buf *b, const ls_case *c);

/* Whether trace (n lines) satisfies x, honouring unordered groups. */
bool ls_expect_match(const ls_expect *x, char **trace, int n);
/* Appends a unified diff of expected against actual; groups are shown in
 * the order that best matches the actual trace. */
void ls_expect_diff(ls_buf *b, const ls_expect *x, char **trace, int n,
                    const char *label);

#endif
