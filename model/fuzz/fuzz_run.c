/* fuzz_run.c: libFuzzer target for a whole model run under every
 * profile, with small step and memory budgets so that no input can hang
 * it or exhaust the machine. */
#include "case.h"
#include "compile.h"
#include "loop.h"
#include "vm.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ls_case c;
    ls_error e = {0};
    if (ls_case_parse(&c, "fuzz.case", (const char *)data, size, &e) == 0) {
        ls_program *p = ls_compile(&c, &e);
        for (int prof = 0; p && prof < LS_PROF__COUNT; prof++) {
            ls_vm vm;
            if (ls_vm_init(&vm, p, prof) == 0) {
                vm.max_steps = 50000;
                vm.max_bytes = 256u << 20;   /* well under -rss_limit_mb */
                ls_run_main(&vm);
            }
            ls_vm_free(&vm);
        }
        ls_program_free(p);
    }
    ls_case_free(&c);
    return 0;
}
