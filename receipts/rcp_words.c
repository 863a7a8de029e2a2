/* The amount in Vietnamese words, as docs/receipts.md#amount-in-words describes it (Northern usage
 * of invoices): groups of three from the right with nghìn and triệu, "tỷ" after every block of nine
 * digits that has something above it (10^12 "một nghìn tỷ", 10^18 "một tỷ tỷ"), zero groups skipped
 * with their scale, inner groups read in full ("không trăm", "linh"), mười/mươi, mốt, tư, lăm.
 * Iterative (no recursion), into the caller's buffer. */
#include <string.h>

#include "rcp.h"

#include "banned.h"

static const char *const digit_word[10] = { "không", "một", "hai", "ba",  "bốn",
                                            "năm",   "sáu", "bảy", "tám", "chín" };

struct words_out {
    char *p;
    size_t cap;
    size_t len;
    bool full;
};

static void put(struct words_out *w, const char *word)
{
    size_t n = strlen(word);
    size_t sep = w->len > 0 ? 1 : 0;
    if (w->full || w->len + sep + n >= w->cap) {
        w->full = true;
        return;
    }
    if (sep) {
        w->p[w->len++] = ' ';
    }
    memcpy(w->p + w->len, word, n);
    w->len += n;
    w->p[w->len] = '\0';
}

/* The units digit after "mươi" (20-90): mốt, tư (or bốn), lăm; nothing for 0. */
static const char *unit_after_muoi(unsigned u, unsigned flags)
{
    if (u == 1) {
        return "mốt";
    }
    if (u == 4) {
        return (flags & RCP_WORDS_BON) != 0 ? "bốn" : "tư";
    }
    if (u == 5) {
        return "lăm";
    }
    return u == 0 ? NULL : digit_word[u];
}

/* One group of three digits. full: an inner group, read with its hundreds even when zero
 * ("không trăm"); otherwise the leading group, read without padding. */
static void put_group(struct words_out *w, unsigned g, bool full, unsigned flags)
{
    unsigned h = g / 100;
    unsigned t = g / 10 % 10;
    unsigned u = g % 10;
    bool hundreds = full || h > 0;
    if (hundreds) {
        put(w, digit_word[h]);
        put(w, "trăm");
    }
    if (t == 0) {
        if (u == 0) {
            return;
        }
        if (hundreds) {
            put(w, "linh"); /* linh một, linh bốn, linh năm */
        }
        put(w, digit_word[u]);
    } else if (t == 1) {
        put(w, "mười");
        if (u != 0) {
            put(w, u == 5 ? "lăm" : digit_word[u]); /* mười một, mười bốn, mười lăm */
        }
    } else {
        put(w, digit_word[t]);
        put(w, "mươi");
        const char *unit = unit_after_muoi(u, flags);
        if (unit != NULL) {
            put(w, unit);
        }
    }
}

enum gw_err rcp_words(uint64_t n, unsigned flags, char *out, size_t cap, struct gw_errbuf *eb)
{
    if (out == NULL || cap == 0) {
        return gw_fail(eb, GW_ERR_INVALID, "no room for the words");
    }
    struct words_out w = { .p = out, .cap = cap, .len = 0, .full = false };
    out[0] = '\0';
    if (n == 0) {
        put(&w, digit_word[0]);
        return w.full ? gw_fail(eb, GW_ERR_NOMEM, "the words do not fit in %zu bytes", cap) : GW_OK;
    }
    /* groups[0] is the units group; UINT64_MAX has 7 groups. */
    unsigned groups[7];
    int n_groups = 0;
    for (uint64_t v = n; v > 0 && n_groups < 7; v /= 1000) {
        groups[n_groups++] = (unsigned)(v % 1000);
    }
    static const char *const scale[3] = { NULL, "nghìn", "triệu" };
    bool started = false;
    for (int i = n_groups - 1; i >= 0; i--) {
        if (groups[i] != 0) {
            put_group(&w, groups[i], started, flags);
            started = true;
            if (scale[i % 3] != NULL) {
                put(&w, scale[i % 3]);
            }
        }
        /* The "tỷ" closing a block of nine digits, said when anything above it is non-zero
         * (the recursion "words(n / 10^9) tỷ words(n % 10^9)", unrolled). */
        if (i % 3 == 0 && i > 0 && started) {
            put(&w, "tỷ");
        }
    }
    if (w.full) {
        return gw_fail(eb, GW_ERR_NOMEM, "the words do not fit in %zu bytes", cap);
    }
    return GW_OK;
}

enum gw_err rcp_words_vnd(int64_t amount_vnd, unsigned flags, char *out, size_t cap,
                          struct gw_errbuf *eb)
{
    if (amount_vnd < 0) {
        return gw_fail(eb, GW_ERR_INVALID, "a negative amount has no words on a receipt");
    }
    enum gw_err err = rcp_words((uint64_t)amount_vnd, flags, out, cap, eb);
    if (err != GW_OK) {
        return err;
    }
    static const char dong[] = " đồng";
    size_t len = strlen(out);
    if (len + sizeof(dong) > cap) {
        return gw_fail(eb, GW_ERR_NOMEM, "the words do not fit in %zu bytes", cap);
    }
    memcpy(out + len, dong, sizeof(dong));
    /* Every first word (không, một ... chín, mười) starts with an ASCII letter, so the
     * capital is one byte; the assertion-free check keeps it honest. */
    if (out[0] >= 'a' && out[0] <= 'z') {
        out[0] = (char)(out[0] - 'a' + 'A');
    }
    return GW_OK;
}
