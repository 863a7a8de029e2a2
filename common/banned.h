/* Functions that are compile errors in feegate code (git's banned.h, curl's list). Every .c
 * file includes it last, after the system headers (tests/tidy/layout.sh checks that). Allocation
 * outside common/ goes through gw_arena or gw_xmalloc/gw_xfree; memory that a library hands
 * back for free() goes to gw_libc_free(); checks go through GW_ASSERT. */
#ifndef GW_COMMON_BANNED_H
#define GW_COMMON_BANNED_H

/* The banned names are the library's own, lower case. */
/* NOLINTBEGIN(readability-identifier-naming) */

#define GW_BANNED(func) sorry_##func##_is_banned_in_feegate

#undef strcpy
#define strcpy(x, y) GW_BANNED(strcpy)
#undef strcat
#define strcat(x, y) GW_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) GW_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) GW_BANNED(strncat)
#undef sprintf
#define sprintf(...) GW_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) GW_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) GW_BANNED(strtok)
#undef gets
#define gets(x) GW_BANNED(gets)
#undef atoi
#define atoi(x) GW_BANNED(atoi)
#undef atol
#define atol(x) GW_BANNED(atol)
#undef gmtime
#define gmtime(x) GW_BANNED(gmtime)
#undef localtime
#define localtime(x) GW_BANNED(localtime)
#undef ctime
#define ctime(x) GW_BANNED(ctime)
#undef asctime
#define asctime(x) GW_BANNED(asctime)
#undef mktemp
#define mktemp(x) GW_BANNED(mktemp)

#ifndef GW_ALLOW_MALLOC
#undef malloc
#define malloc(n) GW_BANNED(malloc)
#undef calloc
#define calloc(n, m) GW_BANNED(calloc)
#undef realloc
#define realloc(p, n) GW_BANNED(realloc)
#undef free
#define free(p) GW_BANNED(free)
#undef assert
#define assert(x) GW_BANNED(assert)
#endif

/* NOLINTEND(readability-identifier-naming) */

#endif
