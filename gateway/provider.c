/* The provider call: build, send, record health, verify and parse (provider.h). */
#include "provider.h"

#include <string.h>

#include "gw_limits.h"
#include "gw_time.h"
#include "httpc.h"
#include "request.h"
#include "routing.h"

#include "banned.h"

_Static_assert(GW_ADAPTER_HEADERS_MAX <= GW_HTTPC_HEADERS_MAX,
               "every header an adapter builds fits the client's request");

static gw_httpc_done_fn provider_answer;

/* Sends a request an adapter built on the loop's client, with the provider timeout and the
 * channel's CA file; the answer goes to provider_answer. */
static enum gw_err provider_send(struct gw_httpc *h, const struct gw_adapter_http *req,
                                 const char *ca_file, struct gw_provider_call *c,
                                 struct gw_errbuf *eb)
{
    struct gw_httpc_req hr = { .ca_file = ca_file,
                               .method = req->method,
                               .url = req->url,
                               .content_type = req->content_type,
                               .body = req->body,
                               .body_len = req->body_len,
                               .timeout_ms = GW_PROVIDER_TIMEOUT_MS };
    for (size_t i = 0; i < req->n_headers && i < GW_ADAPTER_HEADERS_MAX; i++, hr.n_headers++) {
        hr.headers[i] = (struct gw_http_header){ req->headers[i].name, req->headers[i].value };
    }
    return gw_httpc_send(h, &hr, provider_answer, c, eb);
}

/* The adapter's verification and parsing of an answer, by the kind of call. */
static enum gw_err provider_parse(const struct gw_provider_call *c,
                                  const struct gw_adapter_input *in, struct gw_provider_answer *ans,
                                  struct gw_errbuf *eb)
{
    const struct gw_adapter_ops *ops = c->ch->ops;
    const struct gw_adapter_config *cfg = &c->ch->adapter;
    switch (c->kind) {
    case GW_CALL_CREATE:
        return ops->create_parse(cfg, in, c->arena, &ans->created, eb);
    case GW_CALL_QUERY:
        return ops->query_parse(cfg, in, c->arena, &ans->pay, eb);
    case GW_CALL_REFUND:
        return ops->refund_parse(cfg, in, c->arena, &ans->refund, eb);
    case GW_CALL_REFUND_QUERY:
        return ops->refund_query_parse(cfg, in, c->arena, &ans->refund, eb);
    }
    return gw_fail(eb, GW_ERR_INTERNAL, "unknown provider call");
}

static void provider_answer(void *arg, const struct gw_httpc_answer *a)
{
    struct gw_provider_call *c = arg;
    struct gw_provider_answer ans;
    memset(&ans, 0, sizeof(ans));
    ans.http_status = a->status;
    ans.err = GW_ERR_IO;
    ans.why = "no answer";
    if (c->abandoned != NULL && *c->abandoned) {
        c->done(c->arg, &ans);
        return;
    }
    int64_t elapsed_ms = gw_now_ms() - c->sent_ms;
    /* A create answered 5xx is not read: it never sends the citizen anywhere. */
    if (a->status == 0 || (c->kind == GW_CALL_CREATE && a->status >= 500)) {
        gw_health_record(c->loop, c->ch, false, elapsed_ms);
        ans.why = a->status == 0 ? "no answer" : "provider 5xx";
        c->done(c->arg, &ans);
        return;
    }
    const char *sig_header = c->ch->ops->signature_header;
    struct gw_adapter_input in = {
        .method = c->kind == GW_CALL_QUERY ? "GET" : "POST",
        .query = "",
        .query_len = 0,
        .body = a->body,
        .body_len = a->body_len,
        .signature_header = sig_header != NULL ? gw_httpc_header(a, sig_header) : NULL,
        .http_status = a->status,
    };
    struct gw_errbuf eb = { .msg = "" };
    ans.answered = true;
    ans.err = provider_parse(c, &in, &ans, &eb);
    ans.why = eb.msg;
    ans.raw = gw_arena_strndup(c->arena, a->body, a->body_len);
    gw_health_record(c->loop, c->ch, ans.err == GW_OK && a->status < 500, elapsed_ms);
    c->done(c->arg, &ans);
}

/* The adapter's request for this call, by its kind. */
static enum gw_err provider_build(const struct gw_provider_call *c, struct gw_adapter_http *req,
                                  struct gw_errbuf *eb)
{
    const struct gw_adapter_ops *ops = c->ch->ops;
    const struct gw_adapter_config *cfg = &c->ch->adapter;
    uint32_t need = c->kind == GW_CALL_CREATE   ? GW_ADAPTER_CAP_CREATE
                    : c->kind == GW_CALL_QUERY  ? GW_ADAPTER_CAP_QUERY
                    : c->kind == GW_CALL_REFUND ? GW_ADAPTER_CAP_REFUND
                                                : GW_ADAPTER_CAP_REFUND_QUERY;
    if (!(ops->caps & need)) {
        return gw_fail(eb, GW_ERR_INVALID, "%s: not supported", ops->name);
    }
    switch (c->kind) {
    case GW_CALL_CREATE:
        return ops->create_build(cfg, c->charge, c->arena, req, eb);
    case GW_CALL_QUERY:
        return ops->query_build(cfg, c->charge, c->arena, req, eb);
    case GW_CALL_REFUND:
        return ops->refund_build(cfg, c->refund, c->arena, req, eb);
    case GW_CALL_REFUND_QUERY:
        return ops->refund_query_build(cfg, c->refund, c->arena, req, eb);
    }
    return gw_fail(eb, GW_ERR_INTERNAL, "unknown provider call");
}

enum gw_err gw_provider_call(struct gw_provider_call *c, struct gw_errbuf *eb)
{
    struct gw_adapter_http req;
    memset(&req, 0, sizeof(req));
    if (provider_build(c, &req, eb) != GW_OK) {
        return GW_ERR_INVALID;
    }
    c->sent_ms = gw_now_ms();
    if (provider_send(c->loop->httpc, &req, c->ch->ca_file, c, eb) != GW_OK) {
        return GW_ERR_IO;
    }
    return GW_OK;
}
