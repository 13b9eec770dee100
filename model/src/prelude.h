/* prelude.h: the asyncio prelude, case-language source compiled with
 * every program: asyncio's locks, queues, wait, wait_for, shield, timeout
 * and TaskGroup, transliterated from CPython (see prelude.aio). */
#ifndef LS_PRELUDE_H
#define LS_PRELUDE_H

#include <stddef.h>

#define LS_PRELUDE_PATH "<prelude>"

extern const char ls_prelude_src[];
extern const size_t ls_prelude_len;

#endif
