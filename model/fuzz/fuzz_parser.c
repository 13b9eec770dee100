/* fuzz_parser.c: libFuzzer target for the case parser and the compiler.
 * Any input must give a case or a positioned error: never a crash, a
 * leak or a hang. */
#include "case.h"
#include "compile.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ls_case c;
    ls_error e = {0};
    if (ls_case_parse(&c, "fuzz.case", (const char *)data, size, &e) == 0) {
        ls_program *p = ls_compile(&c, &e);
        ls_program_free(p);
        ls_buf b = {0};
        ls_case_json(&b, &c);
        ls_buf_free(&b);
    }
    ls_case_free(&c);
    return 0;
}
