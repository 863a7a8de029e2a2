/* Money is int64_t whole VND, never floating point; arithmetic is overflow-checked. */
#ifndef GW_COMMON_GW_MONEY_H
#define GW_COMMON_GW_MONEY_H

#include <stdbool.h>
#include <stdint.h>

/* *out = a + b; false (and *out untouched) on overflow. */
static inline bool gw_vnd_add(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static inline bool gw_vnd_sub(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_sub_overflow(a, b, out);
}

static inline bool gw_vnd_mul(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

#endif
