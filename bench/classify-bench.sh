#!/usr/bin/env bash
# How fast `streamguardctl classify` splits an audience without MX lookups
# (issue 12 asks for 100,000 rows/s): a CSV of N rows (three columns, 2,000
# institutional domains and the consumer, Yahoo-family and dead-ISP domains
# of the example's lists) split for the example's two streams with --no-mx.
# The baseline, in the same run on the same file: awk copying every row into
# two files (what any split must at least do). Prints rows/s and CPU per row
# for both (steal time does not inflate CPU). See docs/benchmarks.md.
#
#   bench/classify-bench.sh [ROWS]     (default 1000000)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
CTL=$BUILD_DIR/ctl/streamguardctl
[[ -x $CTL ]] || { echo "classify-bench: $CTL not built" >&2; exit 1; }
rows=${1:-1000000}
t=$(mktemp -d /tmp/sg-classify-bench.XXXXXX)
trap 'rm -rf "$t"' EXIT
awk -v n="$rows" 'BEGIN {
  split("gmail.com yahoo.com aol.com outlook.com hotmail.com att.net comcast.net", other, " ")
  print "first_name,email,company"
  srand(1)
  for (i = 0; i < n; i++) {
    d = (i % 10 < 8) ? sprintf("clinic%d.example", i % 2000) : other[1 + i % 7]
    printf "Name%d,user%d@%s,\"Company, %d\"\n", i, i, d, i
  } }' >"$t/in.csv"
report() {  # name wall user sys
  awk -v name="$1" -v n="$rows" -v w="$2" -v u="$3" -v s="$4" 'BEGIN {
    printf "%-9s %d rows in %.2f s: %.0f rows/s; CPU %.2f us per row\n", name, n, w, n / w, (u + s) / n * 1e6 }'
}
/usr/bin/time -f "%e %U %S" -o "$t/time" "$CTL" classify --config "$ROOT/deploy/examples/streamguard.toml" \
  "$t/in.csv" --column email --out "$t/out" --no-mx >"$t/summary"
read -r wall user sys <"$t/time"
report classify "$wall" "$user" "$sys"
/usr/bin/time -f "%e %U %S" -o "$t/time" awk -F, -v o="$t/awk" '{ print > (o ".a"); print > (o ".b") }' "$t/in.csv"
read -r wall user sys <"$t/time"
report "awk copy" "$wall" "$user" "$sys"
sed 's/^/  /' "$t/summary"
