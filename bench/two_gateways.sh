# shellcheck shell=bash
# bench/two_gateways.sh: the two-gateway mode of bench/run.sh (BENCH_GATEWAYS=2), sourced by
# it; uses its functions and variables. HAProxy on 127.0.0.1 (the configuration of
# docs/operations.md#two-gateways-behind-haproxy, checks on /readyz) in front of one gateway,
# then of two gateways on the same database, the same simulator and sink; in each: the
# /healthz rate through HAProxy (HTTP only) and the full payment path (the first
# BENCH_CHANNELS entry, closed loop, then its drain); then both side by side, a ledger check
# and one JSON line. docs/benchmarks.md#two-gateways-behind-haproxy says what it shows.

write_haproxy_cfg() { # phase(one|two) file
    # shellcheck disable=SC2153 # GW_PORT is run.sh's
    local servers="    server gw1 127.0.0.1:$GW_PORT check"
    [ "$1" = two ] && servers="$servers
    server gw2 127.0.0.1:$GW2_PORT check"
    cat >"$2" <<EOF
# written by bench/two_gateways.sh ($1 gateway(s))
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
    default-server inter 2s fall 2 rise 2
frontend feegate
    bind 127.0.0.1:$HP_PORT
    maxconn 4096
    use_backend feegate_api if { path_beg /v1/ }
    default_backend feegate_pages
backend feegate_api
    balance roundrobin
    option httpchk GET /readyz
    http-error status 502 content-type application/json string '{"error":{"code":"unavailable","message":"the gateway did not answer: retry with the same Idempotency-Key"}}'
    http-error status 503 content-type application/json string '{"error":{"code":"unavailable","message":"no gateway is available: retry with the same Idempotency-Key"}}'
    http-error status 504 content-type application/json string '{"error":{"code":"unavailable","message":"the gateway did not answer in time: retry with the same Idempotency-Key"}}'
    http-after-response set-status 503 if { status 502 } || { status 504 }
$servers
backend feegate_pages
    balance roundrobin
    option httpchk GET /readyz
$servers
EOF
}

start_haproxy() { # phase
    write_haproxy_cfg "$1" "$WORK/haproxy-$1.cfg"
    haproxy -c -q -f "$WORK/haproxy-$1.cfg" >"$WORK/haproxy-$1.log" 2>&1 ||
        die "haproxy refuses its configuration: $(tail -n 5 "$WORK/haproxy-$1.log")"
    haproxy -db -f "$WORK/haproxy-$1.cfg" >>"$WORK/haproxy-$1.log" 2>&1 &
    HP_PID=$!
    wait_until 15 haproxy "$HP_PID" http_ok "$LG_URL/readyz" ||
        die "haproxy did not start: $(tail -n 5 "$WORK/haproxy-$1.log")"
}

start_gateway2() {
    sed "s/^listen = .*/listen = 127.0.0.1:$GW2_PORT/" "$WORK/feegate.ini" >"$WORK/feegate2.ini"
    "$FEEGATE" serve -c "$WORK/feegate2.ini" >"$WORK/gateway2.log" 2>&1 &
    GW2_PID=$!
    wait_until 30 gateway2 "$GW2_PID" http_ok "http://127.0.0.1:$GW2_PORT/readyz" ||
        die "second gateway did not start: $(tail -n 5 "$WORK/gateway2.log")"
}

# One phase: /healthz through HAProxy, then the full path and its drain; its lines kept in
# $WORK/PHASE-*.jsonl.
run_phase() { # phase
    local f
    start_haproxy "$1"
    for f in results cpu 'done'; do : >"$WORK/$f.jsonl"; done
    say "$1 gateway(s) behind HAProxy: /healthz"
    run_loadgen healthz sandbox
    say "$1 gateway(s) behind HAProxy: full payment path through ${CHANNELS%%,*} (closed loop)"
    run_full "${CHANNELS%%,*}"
    for f in results cpu 'done'; do cp "$WORK/$f.jsonl" "$WORK/$1-$f.jsonl"; done
    stop_pid "$HP_PID" haproxy
    HP_PID=""
}

two_value() { # phase file(results|cpu|done) mode key
    local line
    line=$(grep "\"mode\":\"$3\"" "$WORK/$1-$2.jsonl" | tail -n 1 || true)
    case $4 in
        p99_ms) step_ms payment p99 "$line" ;;
        gateway_ms | postgres_ms | machine_ms)
            sed -n "s/.*\"${4%_ms}\":\([0-9.]*\).*/\1/p" <<<"$line" | head -n 1 ;;
        *) json_num "$4" "$line" ;;
    esac
}

report_two() {
    local ledger_rc=0 row what phase key file mode
    echo
    machine_line
    printf 'two-gateway mode: HAProxy %s on 127.0.0.1:%s; each gateway loops=%s conns_per_loop=%s; concurrency=%s duration=%ss\n' \
        "$(haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p')" "$HP_PORT" "$LOOPS" "$CONNS" "$CONC" "$DUR"
    printf '  %-50s %14s %14s\n' "through HAProxy" "one gateway" "two gateways"
    for row in "healthz|results|healthz|per_s|/healthz requests/s" \
        "full|results|full|per_s|full path: payments/s (load generator)" \
        "full|results|full|p99_ms|full path: p99 ms of a whole payment" \
        "done|done|done|done_per_s|done payments/s (signed, webhook verified)" \
        "full|results|full|errors|full path: unexpected answers" \
        "cpu|cpu|cpu|gateway_ms|CPU ms per payment: gateway(s)" \
        "cpu|cpu|cpu|postgres_ms|CPU ms per payment: PostgreSQL" \
        "cpu|cpu|cpu|machine_ms|CPU ms per payment: whole machine"; do
        IFS='|' read -r what file mode key label <<<"$row"
        printf '  %-50s' "$label"
        for phase in one two; do
            printf ' %14s' "$(two_value "$phase" "$file" "$mode" "$key")"
        done
        printf '\n'
        : "$what"
    done
    echo "results (JSON, one line per mode and phase):"
    for phase in one two; do
        sed "s/^{/{\"gateways\":\"$phase\",/" "$WORK/$phase-results.jsonl" "$WORK/$phase-cpu.jsonl" \
            "$WORK/$phase-done.jsonl"
    done
    timeout 300 "$FEEGATE" ledger check >"$WORK/ledger-check.log" 2>&1 || ledger_rc=$?
    echo "ledger check: exit $ledger_rc"
    tail -n 20 "$WORK/ledger-check.log"
    [ "$ledger_rc" -eq 0 ] || LG_RC=4
    printf '{"mode":"two_gateways_summary","healthz_per_s":{"one":%s,"two":%s},"payments_per_s":{"one":%s,"two":%s},"done_per_s":{"one":%s,"two":%s},"backlog_bounded":%s}\n' \
        "$(num_or_null "$(two_value one results healthz per_s)")" "$(num_or_null "$(two_value two results healthz per_s)")" \
        "$(num_or_null "$(two_value one results full per_s)")" "$(num_or_null "$(two_value two results full per_s)")" \
        "$(num_or_null "$(two_value one 'done' 'done' done_per_s)")" "$(num_or_null "$(two_value two 'done' 'done' done_per_s)")" \
        "$BOUNDED" | tee "$WORK/summary.jsonl"
    [ -n "${BENCH_OUT:-}" ] && cat "$WORK"/one-*.jsonl "$WORK"/two-*.jsonl "$WORK/summary.jsonl" >"$BENCH_OUT"
    return 0
}

main_two() {
    command -v haproxy >/dev/null 2>&1 ||
        die "BENCH_GATEWAYS=2 needs haproxy (the Debian package haproxy, in the Makefile's DEBIAN_PACKAGES)"
    GW2_PORT=$(pick_port $((PORT_BASE + 400)))
    HP_PORT=$(pick_port $((PORT_BASE + 500)))
    PUBLIC_URL="http://127.0.0.1:$HP_PORT" # checkout links and callbacks go through HAProxy
    LG_URL=$PUBLIC_URL
    # shellcheck disable=SC2034 # read by run.sh's write_config
    PER_ADDRESS_MAX=4096 # every connection comes from HAProxy's address
    say "two-gateway mode: gateways :$GW_PORT and :$GW2_PORT behind HAProxy :$HP_PORT"
    start_db
    write_config
    start_servers
    start_gateway2
    LG_RC=0
    BOUNDED=true
    : >"$WORK/backlog.txt"
    run_phase one
    run_phase two
    report_two
    case $LG_RC in
        0) say "done" ;;
        4) say "ledger check failed after the run" ;;
        *) say "loadgen exit $LG_RC" ;;
    esac
    return "$LG_RC"
}
