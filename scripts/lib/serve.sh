# Sourced by the bench scripts that run `iops` in the background (bench-serve.sh,
# bench-dashboard.sh): the release binary, a temporary work directory removed at exit, and one
# background process started, waited for and stopped by its PID (never by name).
# The sourcing script sets ROOT and `set -euo pipefail`. Functions:
#   bg_init NAME SIGNAL  WORK=a fresh temporary directory; at exit, stop the process with
#                        SIGNAL (TERM, INT, ...) and remove WORK. NAME prefixes error messages.
#   build_iops           cargo build --release -p iops-cli; BIN=the binary.
#   bg_start CMD...      runs CMD in the background, stdout to $WORK/bg.out, stderr to
#                        $WORK/bg.err; BG_PID=its PID.
#   bg_wait SECS REGEX WHAT
#                        waits until a line of $WORK/bg.out matches REGEX (grep -E); exits
#                        non-zero with the process's stderr if it exits first, or saying
#                        "did not WHAT within SECS s" after SECS seconds.
#   bg_stop              sends SIGNAL and waits for the process to end.

bg_init() {
    BG_NAME="$1"
    BG_SIGNAL="$2"
    BG_PID=""
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/iops-$BG_NAME.XXXXXX")"
    trap 'bg_stop; rm -rf "$WORK"' EXIT
}

build_iops() {
    echo "==> cargo build --release -p iops-cli" >&2
    cargo build --release -p iops-cli >&2
    BIN="$ROOT/target/release/iops"
}

bg_start() {
    "$@" >"$WORK/bg.out" 2>"$WORK/bg.err" &
    BG_PID=$!
}

bg_wait() {
    local secs="$1" regex="$2" what="$3" n
    for ((n = 0; n < secs * 10; n++)); do
        grep -qE "$regex" "$WORK/bg.out" 2>/dev/null && return 0
        if ! kill -0 "$BG_PID" 2>/dev/null; then
            echo "$BG_NAME: the process exited:" >&2
            cat "$WORK/bg.err" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "$BG_NAME: the process did not $what within $secs s" >&2
    exit 1
}

bg_stop() {
    if [[ -n "$BG_PID" ]] && kill -0 "$BG_PID" 2>/dev/null; then
        kill "-$BG_SIGNAL" "$BG_PID" 2>/dev/null || true
        wait "$BG_PID" 2>/dev/null || true
    fi
    BG_PID=""
}
