/* prelude.c: the text of prelude.aio, embedded at build time. */
#include "prelude.h"

const char ls_prelude_src[] =
#include "prelude.inc"
    ;
const size_t ls_prelude_len = sizeof ls_prelude_src - 1;
