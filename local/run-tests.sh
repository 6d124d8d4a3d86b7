#!/usr/bin/env bash
# Every test of the workspace, its test binaries TESTS_AT_ONCE at a time (default 3), longest
# first, with the doc tests as one more job; each binary's output printed whole when it ends,
# with cargo's own `test result:` lines, so the counts read as `cargo test`'s. Exits non-zero
# when any binary failed; never stops at the first.
#
#   run-tests.sh [--test NAME]...   only the integration test binaries NAME (and no doc tests)
#
# Why not `cargo test --workspace`: it runs one binary after another, and most of their time is
# waiting, on real-time expiries, Redis and DynamoDB Local, not computing; side by side, a
# cold `make test`'s tests take half the time. The tests already isolate themselves by unique IDs
# and key prefixes, as they do between the threads of one binary. Built first by
# local/debug-build.sh (this builds nothing: the same selection, so cargo finds it fresh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source local/cargo-env.sh

only=()
while (($#)); do
  case "$1" in
    --test) only+=("$2"); shift 2 ;;
    *) echo "run-tests: unknown argument $1" >&2; exit 2 ;;
  esac
done

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

# The test binaries (path, the package's folder to run in, as cargo test does, and a label), as
# cargo lists them; the slow ones first so that the last to start is a short one.
cargo test --workspace --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, os, sys
slow = ["queue", "holds", "faults", "balance", "stream", "tickets", "payments", "invariants", "cluster"]
only = sys.argv[1:]
jobs = []
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable") or not m["profile"]["test"]:
        continue
    name, kind = m["target"]["name"], m["target"]["kind"][0]
    if only and (kind != "test" or name not in only):
        continue
    rank = slow.index(name) if kind == "test" and name in slow else len(slow)
    label = name if kind == "test" else f"{name} ({kind})"
    jobs.append((rank, label, m["executable"], os.path.dirname(m["manifest_path"])))
for rank, label, exe, folder in sorted(jobs):
    print(f"{exe}\t{folder}\t{label}")
' "${only[@]}" >"$results/jobs"
[[ -s "$results/jobs" ]] || { echo "run-tests: no test binary found (built?)" >&2; exit 2; }
((${#only[@]})) || printf 'doc\t.\tdoc tests\n' >>"$results/jobs"

run_one() { # EXE FOLDER LABEL RESULTS
  local id
  id="$(printf '%s' "$3" | tr -c 'A-Za-z0-9_-' _)"
  local t0=$SECONDS rc=0
  if [[ "$1" == doc ]]; then
    cargo test --workspace --doc >"$4/$id.out" 2>&1 || rc=$?
  else
    (cd "$2" && "$1") >"$4/$id.out" 2>&1 || rc=$?
  fi
  {
    flock 9
    echo "     Running $3 ($((SECONDS - t0)) s, exit $rc)"
    cat "$4/$id.out"
  } 9>"$4/.lock"
  echo "$rc" >"$4/$id.rc"
}
export -f run_one
tr '\n' '\0' <"$results/jobs" |
  xargs -0 -n 1 -P "${TESTS_AT_ONCE:-3}" bash -c 'IFS=$'"'"'\t'"'"' read -r exe folder label <<<"$0"; run_one "$exe" "$folder" "$label" '"$results" || true
failed=0
for rc in "$results"/*.rc; do
  [[ "$(cat "$rc")" == 0 ]] || failed=$((failed + 1))
done
ran="$(wc -l <"$results/jobs")"
done_count="$(ls "$results"/*.rc 2>/dev/null | wc -l)"
((done_count == ran)) || { echo "run-tests: $((ran - done_count)) of $ran jobs never ended" >&2; exit 1; }
((failed == 0)) || { echo "run-tests: $failed of $ran test binaries failed" >&2; exit 1; }
