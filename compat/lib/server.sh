# Sourced by compat/run: start and stop one fresh crm-server.
#
# start_server BIN [--tls]
#   Starts BIN on 127.0.0.1 with a port the OS picks (--listen 127.0.0.1:0) and a fresh
#   temporary data dir, waits for the last start-up line (`crm-server listening on <url>`,
#   printed after the certificate and webhook lines, once the listener is bound) and sets:
#     SERVER_PID      the server's process id
#     SERVER_WORK     temp dir holding data/ (the --data-dir), stdout.log and stderr.log
#     SERVER_URL      the URL the server printed it listens on (https://127.0.0.1:PORT)
#     SERVER_HOOK     the administrator webhook URL the server printed (ends in /)
#     SERVER_CERT     the printed certificate path (only with --tls, else empty)
#   Returns non-zero (and prints why) when the server does not come up in time.
# stop_server
#   SIGTERM, waits for a clean exit (SIGKILL after 40 s), removes the temp dir.
#   Sets SERVER_EXIT to the server's exit status (0 after a clean SIGTERM shutdown).

SERVER_PID=""
SERVER_WORK=""
SERVER_URL=""
SERVER_HOOK=""
SERVER_CERT=""
SERVER_EXIT=""

start_server() {
    local bin=$1 tls=${2:-}
    # --control: the clients' scenarios inject faults and read the journal (/_crm/).
    local args=(--listen 127.0.0.1:0 --log warn --control)
    SERVER_WORK=$(mktemp -d "${TMPDIR:-/tmp}/crm-compat.XXXXXX")
    SERVER_URL=""
    SERVER_HOOK=""
    SERVER_CERT=""
    SERVER_EXIT=""
    mkdir -p "$SERVER_WORK/data"
    args+=(--data-dir "$SERVER_WORK/data")
    if [[ $tls == --tls ]]; then
        args+=(--tls-self-signed)
    fi
    : >"$SERVER_WORK/stdout.log"
    : >"$SERVER_WORK/stderr.log"
    "$bin" "${args[@]}" >"$SERVER_WORK/stdout.log" 2>"$SERVER_WORK/stderr.log" &
    SERVER_PID=$!

    local i listening=""
    for ((i = 0; i < 300; i++)); do
        listening=$(sed -n 's/^crm-server listening on \(http[^ ]*\)$/\1/p' \
            "$SERVER_WORK/stdout.log" | head -n 1)
        if [[ -n $listening ]]; then
            break
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "crm-server exited during start-up:" >&2
            cat "$SERVER_WORK/stdout.log" "$SERVER_WORK/stderr.log" >&2
            wait "$SERVER_PID" 2>/dev/null || true
            SERVER_PID=""
            return 1
        fi
        sleep 0.1
    done
    if [[ -z $listening ]]; then
        echo "crm-server printed no \"listening\" line within 30 s:" >&2
        cat "$SERVER_WORK/stdout.log" "$SERVER_WORK/stderr.log" >&2
        stop_server
        return 1
    fi
    SERVER_URL=$listening
    SERVER_HOOK=$(sed -n 's/^Administrator webhook (shown once, keep it): \(http[^ ]*\)$/\1/p' \
        "$SERVER_WORK/stdout.log" | head -n 1)
    if [[ $SERVER_HOOK != "$listening/rest/1/"* ]]; then
        echo "crm-server printed no administrator webhook URL under $listening:" >&2
        cat "$SERVER_WORK/stdout.log" >&2
        stop_server
        return 1
    fi
    if [[ $tls == --tls ]]; then
        SERVER_CERT=$(sed -n 's/^TLS certificate (trust it in clients): \(.*\)$/\1/p' \
            "$SERVER_WORK/stdout.log" | head -n 1)
        if [[ -z $SERVER_CERT || ! -f $SERVER_CERT ]]; then
            echo "crm-server printed no usable TLS certificate path:" >&2
            cat "$SERVER_WORK/stdout.log" >&2
            stop_server
            return 1
        fi
        if [[ $SERVER_HOOK != https://* ]]; then
            echo "with --tls-self-signed the webhook URL should start with https: $SERVER_HOOK" >&2
            stop_server
            return 1
        fi
    fi
    return 0
}

# True while the started server is still running.
server_alive() {
    [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null
}

stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 400; i++)); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "crm-server did not stop within 40 s of SIGTERM; killing it" >&2
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
        SERVER_EXIT=0
        wait "$SERVER_PID" 2>/dev/null || SERVER_EXIT=$?
        SERVER_PID=""
    fi
    if [[ -n $SERVER_WORK && -d $SERVER_WORK ]]; then
        rm -rf "$SERVER_WORK"
    fi
    SERVER_WORK=""
    SERVER_URL=""
}
