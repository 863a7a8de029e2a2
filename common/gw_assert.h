/* Always-on assertions (Redis serverAssert, git BUG): a broken invariant in a payment switch
 * is a correctness and legal problem, a crash only a liveness one. Never use these on input
 * from clients, citizens or banks: validate that and reject it with an error. */
#ifndef GW_COMMON_GW_ASSERT_H
#define GW_COMMON_GW_ASSERT_H

_Noreturn void gw_assert_fail(const char *file, int line, const char *expr);

#define GW_ASSERT(expr)                                \
    do {                                               \
        if (!(expr))                                   \
            gw_assert_fail(__FILE__, __LINE__, #expr); \
    } while (0)

#ifdef GW_DEBUG
#define GW_DEBUG_ASSERT(expr) GW_ASSERT(expr)
#else
#define GW_DEBUG_ASSERT(expr) ((void)0)
#endif

#endif
