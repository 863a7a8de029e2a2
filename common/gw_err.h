/* Error codes shared by every module, and the fixed-size buffer that carries the message.
 * Fallible functions return enum gw_err (GW_OK is 0) and put a human sentence, PostgreSQL
 * style (lower case, no final period), into the caller's struct gw_errbuf. */
#ifndef GW_COMMON_GW_ERR_H
#define GW_COMMON_GW_ERR_H

#include <stddef.h>

#define GW_MUST_CHECK     __attribute__((warn_unused_result))
#define GW_PRINTF(fi, ai) __attribute__((format(printf, fi, ai)))
/* strerror is not thread-safe; the GNU strerror_r (_GNU_SOURCE is set for the whole build,
 * <string.h> declares it) returns the message, in a compound literal that lives until the
 * end of the enclosing block: use it inside the call that prints it. */
#define GW_STRERROR(e)    strerror_r((e), (char[128]){ 0 }, 128)

enum gw_err {
    GW_OK = 0,
    GW_ERR_NOMEM,       /* an allocation or a bounded buffer is full */
    GW_ERR_INVALID,     /* input does not follow its grammar or rules */
    GW_ERR_NOT_FOUND,   /* the thing named does not exist (or is not the caller's) */
    GW_ERR_CONFLICT,    /* the request clashes with the current state */
    GW_ERR_AUTH,        /* a signature, key or identity does not check out */
    GW_ERR_LIMIT,       /* a named limit would be exceeded */
    GW_ERR_IO,          /* a system call, file or socket failed */
    GW_ERR_DB,          /* PostgreSQL refused or failed */
    GW_ERR_UNAVAILABLE, /* a dependency is down or a pool is exhausted: retry later */
    GW_ERR_TIMEOUT,     /* no answer in time: the outcome is unknown, never a failure */
    GW_ERR_PROTOCOL,    /* a peer answered outside its protocol */
    GW_ERR_INTERNAL,    /* a bug; also logged */
};

#define GW_ERRBUF_BYTES 256

struct gw_errbuf {
    char msg[GW_ERRBUF_BYTES];
};

/* Formats the message into eb (truncating) and returns err, so callers can write
 * `return gw_fail(eb, GW_ERR_INVALID, "amount_vnd must be positive");`. eb may be NULL. */
enum gw_err gw_fail(struct gw_errbuf *eb, enum gw_err err, const char *fmt, ...) GW_PRINTF(3, 4);

/* A short stable name for an error code, for logs ("invalid", "db", ...). */
const char *gw_err_name(enum gw_err err);

#endif
