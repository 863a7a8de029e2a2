/* Per-request memory (nginx r->pool, h2o req->pool): allocate freely, free once at the end.
 * Also the only place that wraps malloc/free for init code (gw_xmalloc aborts on OOM, as
 * h2o and Redis do: a switch out of memory cannot do anything correct). */
#ifndef GW_COMMON_GW_ARENA_H
#define GW_COMMON_GW_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "gw_err.h"

struct gw_arena_block;

struct gw_arena {
    struct gw_arena_block *head;
    size_t block_bytes; /* size of the next block to allocate */
    size_t used_bytes;  /* sum of all block sizes, bounded by bytes_max */
    size_t bytes_max;
};

/* Initialises an empty arena that may grow to bytes_max; nothing is allocated yet. */
void gw_arena_init(struct gw_arena *a, size_t block_bytes, size_t bytes_max);
/* Frees every block; the arena is empty and reusable afterwards. */
void gw_arena_release(struct gw_arena *a);

/* Returns zeroed, 16-byte aligned memory owned by the arena, or NULL past bytes_max. */
void *gw_arena_alloc(struct gw_arena *a, size_t bytes);
char *gw_arena_strdup(struct gw_arena *a, const char *s);
char *gw_arena_strndup(struct gw_arena *a, const char *s, size_t len);
char *gw_arena_printf(struct gw_arena *a, const char *fmt, ...) GW_PRINTF(2, 3);
char *gw_arena_vprintf(struct gw_arena *a, const char *fmt, va_list ap) GW_PRINTF(2, 0);

/* Heap for init-time objects. Never returns NULL (aborts). gw_xfree(NULL) is a no-op. */
void *gw_xmalloc(size_t bytes);
void *gw_xcalloc(size_t n, size_t bytes);
void *gw_xrealloc(void *p, size_t bytes);
char *gw_xstrdup(const char *s);
void gw_xfree(void *p);
/* For memory that a library returns to be released with free() (jansson dumps, ...). */
void gw_libc_free(void *p);

#endif
