/* Arena allocator and the process's malloc wrappers: the only file that calls malloc. */
#include "gw_arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_assert.h"

struct gw_arena_block {
    struct gw_arena_block *next;
    size_t cap_bytes;
    size_t off_bytes;
    _Alignas(16) unsigned char data[];
};

void gw_arena_init(struct gw_arena *a, size_t block_bytes, size_t bytes_max)
{
    GW_ASSERT(a != NULL);
    GW_ASSERT(block_bytes > 0 && block_bytes <= bytes_max);
    a->head = NULL;
    a->block_bytes = block_bytes;
    a->used_bytes = 0;
    a->bytes_max = bytes_max;
}

void gw_arena_release(struct gw_arena *a)
{
    struct gw_arena_block *b = a->head;
    while (b != NULL) {
        struct gw_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used_bytes = 0;
}

void *gw_arena_alloc(struct gw_arena *a, size_t bytes)
{
    GW_ASSERT(a != NULL);
    size_t need = (bytes + 15u) & ~(size_t)15u;
    if (need < bytes) {
        return NULL;
    }
    struct gw_arena_block *b = a->head;
    if (b == NULL || b->cap_bytes - b->off_bytes < need) {
        size_t cap = a->block_bytes;
        while (cap < need && cap < a->bytes_max) {
            cap *= 2;
        }
        if (cap < need || a->used_bytes + cap > a->bytes_max) {
            return NULL;
        }
        b = malloc(sizeof(*b) + cap);
        if (b == NULL) {
            return NULL;
        }
        b->next = a->head;
        b->cap_bytes = cap;
        b->off_bytes = 0;
        a->head = b;
        a->used_bytes += cap;
    }
    void *p = b->data + b->off_bytes;
    b->off_bytes += need;
    memset(p, 0, bytes);
    GW_DEBUG_ASSERT(((uintptr_t)p & 15u) == 0);
    return p;
}

char *gw_arena_strndup(struct gw_arena *a, const char *s, size_t len)
{
    char *p = gw_arena_alloc(a, len + 1);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *gw_arena_strdup(struct gw_arena *a, const char *s)
{
    return gw_arena_strndup(a, s, strlen(s));
}

char *gw_arena_vprintf(struct gw_arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return NULL;
    }
    char *p = gw_arena_alloc(a, (size_t)n + 1);
    if (p == NULL) {
        return NULL;
    }
    int m = vsnprintf(p, (size_t)n + 1, fmt, ap);
    GW_ASSERT(m == n);
    return p;
}

char *gw_arena_printf(struct gw_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = gw_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

void *gw_xmalloc(size_t bytes)
{
    void *p = malloc(bytes == 0 ? 1 : bytes);
    if (p == NULL) {
        gw_assert_fail(__FILE__, __LINE__, "out of memory");
    }
    return p;
}

void *gw_xcalloc(size_t n, size_t bytes)
{
    void *p = calloc(n == 0 ? 1 : n, bytes == 0 ? 1 : bytes);
    if (p == NULL) {
        gw_assert_fail(__FILE__, __LINE__, "out of memory");
    }
    return p;
}

void *gw_xrealloc(void *p, size_t bytes)
{
    void *q = realloc(p, bytes == 0 ? 1 : bytes);
    if (q == NULL) {
        gw_assert_fail(__FILE__, __LINE__, "out of memory");
    }
    return q;
}

char *gw_xstrdup(const char *s)
{
    size_t n = strlen(s);
    char *p = gw_xmalloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

void gw_xfree(void *p)
{
    free(p);
}

void gw_libc_free(void *p)
{
    free(p);
}
