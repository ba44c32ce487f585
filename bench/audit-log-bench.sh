#!/usr/bin/env bash
# How fast `streamguardctl audit-log` reads a Postfix log (issue 12 asks
# for 200,000 lines/s): the audit corpus (tests/data/maillog/audit/
# two-streams.log, 18 lines: both streams, staff, cron, a suspended
# transport's retry, three breaches)
# repeated with fresh queue ids into a log of N copies, plain and gzip'ed,
# each read once. Prints lines, seconds, lines/s and CPU seconds per
# million lines (steal time does not inflate CPU). See docs/benchmarks.md.
#
#   bench/audit-log-bench.sh [COPIES]     (default 120000: 2,040,000 lines)
#   BUILD_DIR=build-bench bench/audit-log-bench.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
CTL=$BUILD_DIR/ctl/streamguardctl
[[ -x $CTL ]] || { echo "audit-log-bench: $CTL not built" >&2; exit 1; }
copies=${1:-120000}
t=$(mktemp -d /tmp/sg-audit-bench.XXXXXX)
trap 'rm -rf "$t"' EXIT
# Each copy's queue ids: the corpus's first four characters, then the copy
# number in hex (so every message is its own).
awk -v n="$copies" '{ line[NR] = $0 } END {
  for (i = 0; i < n; i++) for (j = 1; j <= NR; j++) {
    l = line[j]; p = match(l, /: [0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]: /)  # mawk: no {8}
    if (p) l = substr(l, 1, p + 5) sprintf("%06X", i) substr(l, p + 10)
    print l } }' "$ROOT/tests/data/maillog/audit/two-streams.log" >"$t/postfix.log"
gzip -c "$t/postfix.log" >"$t/postfix.log.gz"
lines=$(wc -l <"$t/postfix.log")
for f in postfix.log postfix.log.gz; do
  /usr/bin/time -f "%e %U %S %M" -o "$t/time" "$CTL" audit-log \
    --config "$ROOT/deploy/examples/streamguard.toml" --log "$t/$f" >"$t/out" || true
  read -r wall user sys kb < <(tail -n 1 "$t/time")  # after "exited with status 1"
  awk -v f="$f" -v n="$lines" -v w="$wall" -v u="$user" -v s="$sys" -v kb="$kb" 'BEGIN {
    printf "%-15s %d lines in %.2f s: %.0f lines/s; CPU %.2f s per million lines; peak RSS %.0f MB\n",
      f, n, w, n / w, (u + s) / n * 1e6, kb / 1024 }'
done
grep -q "delivery result(s) through the wrong path" "$t/out" || { echo "audit-log-bench: the breaches were not found" >&2; exit 1; }
