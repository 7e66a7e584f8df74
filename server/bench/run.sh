#!/usr/bin/env bash
# Benchmark of the release server against the mock Responses API.
#
#   server/bench/run.sh [DURATION_SECS]      (default 10)
#
# Needs wrk (Debian: apt-get install wrk), taskset and python3. The server is
# pinned to CPU 0; wrk and the mock upstream share CPU 1. Prints one line
# per measurement. Not part of the test command. The server runs with its
# production logging (JSON lines, one per tool call) sent to /dev/null.
set -euo pipefail

duration="${1:-10}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench="$root/server/bench"
target="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_TARGET_DIR="$target"
cargo build -q -p server --release --bin server --example mock_upstream
server_bin="$target/release/server"
mock_bin="$target/release/examples/mock_upstream"
port=18766
url="http://127.0.0.1:$port/mcp"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

start_mock() { # delay_ms port
    MOCK_DELAY_MS="$1" MOCK_ADDR="127.0.0.1:$2" taskset -c 1 "$mock_bin" 2>/dev/null &
    pids+=($!)
    sleep 0.3
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU time (user + system) of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_sec="$(getconf CLK_TCK)"

start_mock 0 9100
start_mock 100 9101

echo "## binary: $(stat -c %s "$server_bin") bytes"
echo "## cold start and idle RSS (20 starts)"
python3 "$bench/coldstart.py" "$server_bin" "http://127.0.0.1:9100/v1" 20

to_ms() { # wrk duration (950.00us, 102.23ms, 1.02s) -> ms
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
        else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
        else print v }'
}

# run_wrk LABEL SCRIPT CONNECTIONS [URL]; sets p50_ms/p99_ms for the caller.
run_wrk() {
    local out before after
    before="$(cpu_ticks "$server_pid")"
    out="$(taskset -c 1 wrk -t1 -c"$3" -d"${duration}s" --latency -s "$bench/$2" "${4:-$url}")"
    after="$(cpu_ticks "$server_pid")"
    local rps p50 p99 errors requests cpu
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
    p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
    p50_ms="$(to_ms "$p50")"
    p99_ms="$(to_ms "$p99")"
    requests="$(awk '/requests in/ {print $1}' <<<"$out")"
    cpu="$(awk -v t=$((after - before)) -v hz="$ticks_per_sec" -v n="$requests" 'BEGIN {printf "%.3f", t * 1000 / hz / n}')"
    errors="$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ' || true)"
    if [[ -n "${4:-}" ]]; then
        printf '%-28s c=%-3s %10s req/s  p50 %-9s p99 %-9s %s\n' "$1" "$3" "$rps" "$p50" "$p99" "$errors"
    else
        printf '%-28s c=%-3s %10s req/s  p50 %-9s p99 %-9s server CPU %s ms/req %s\n' "$1" "$3" "$rps" "$p50" "$p99" "$cpu" "$errors"
    fi
}

for upstream in 0 100; do
    HOST=127.0.0.1 PORT=$port OPENAI_API_KEY=sk-bench \
        OPENAI_BASE_URL="http://127.0.0.1:$((9100 + upstream / 100))/v1" \
        taskset -c 0 "$server_bin" 2>/dev/null &
    server_pid=$!
    pids+=("$server_pid")
    sleep 0.3
    echo "## upstream delay ${upstream} ms; idle RSS $(rss_kb "$server_pid") kB"
    # Warm-up (not reported): the OpenAI client is built on the first call and
    # its connection pool fills up to the concurrency.
    taskset -c 1 wrk -t1 -c64 -d2s -s "$bench/web_search.lua" "$url" >/dev/null
    for c in 1 8 64; do
        if [[ $upstream == 0 ]]; then run_wrk "tools/list" tools_list.lua "$c"; fi
        run_wrk "web_search (${upstream} ms upstream)" web_search.lua "$c"
        if [[ $upstream == 100 ]]; then
            # Alternate server and baseline runs; report the median of 3 each,
            # so a burst of noise from a neighbour does not decide the figure.
            s50=("$p50_ms") s99=("$p99_ms") b50=() b99=()
            for round in 1 2 3; do
                run_wrk "  upstream alone (baseline)" upstream.lua "$c" "http://127.0.0.1:9101/v1/responses"
                b50+=("$p50_ms") b99+=("$p99_ms")
                if [[ $round -lt 3 ]]; then
                    run_wrk "web_search (${upstream} ms upstream)" web_search.lua "$c"
                    s50+=("$p50_ms") s99+=("$p99_ms")
                fi
            done
            median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
            awk -v a="$(median "${s50[@]}")" -v b="$(median "${b50[@]}")" \
                -v c="$(median "${s99[@]}")" -v d="$(median "${b99[@]}")" \
                'BEGIN {printf "  c=%s medians: server p50 %.2f ms p99 %.2f ms; upstream p50 %.2f ms p99 %.2f ms; added p50 %+.2f ms, p99 %+.2f ms\n", "'"$c"'", a, c, b, d, a - b, c - d}'
        fi
    done
    echo "## RSS after load: $(rss_kb "$server_pid") kB"
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
done
