#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a while, starting from the committed seeds.
#
# usage: fuzz/run.sh [seconds per target]   (default 60)
#
# Needs a nightly toolchain (for the AddressSanitizer build of cargo-fuzz); without one it says so and
# exits 0. Installs cargo-fuzz if it is missing. New corpus entries go to fuzz/corpus/<target>/ and
# crash inputs to fuzz/artifacts/<target>/ (both git-ignored); replay one with
#   cargo +nightly fuzz run --fuzz-dir fuzz <target> fuzz/artifacts/<target>/<file>
# and FUZZ_DEBUG=1 set to print what the input decodes to. Exits non-zero if any target crashes.
set -euo pipefail

secs="${1:-60}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
    echo "usage: $0 [seconds per target]" >&2
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Reads the whole list (no grep -q: it could close the pipe early and fail the pipeline).
if ! rustup toolchain list 2>/dev/null | grep '^nightly-x86_64' >/dev/null; then
    echo "fuzz/run.sh: no nightly-x86_64 toolchain (rustup toolchain list); skipping fuzzing."
    exit 0
fi

if ! cargo fuzz --help >/dev/null 2>&1; then
    echo "fuzz/run.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

ulimit -c 0

targets=(pair rows one_to_many squared_error triplet triplet_indexed normalize mining pairwise)
failed=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t" "fuzz/artifacts/$t"
    echo "=== fuzz/run.sh: $t for ${secs}s"
    if ! cargo +nightly fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -timeout=30 -print_final_stats=1; then
        echo "=== fuzz/run.sh: $t FAILED (a build error, or a crash whose input is under fuzz/artifacts/$t/)"
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz/run.sh: failed: ${failed[*]}"
    exit 1
fi
echo "fuzz/run.sh: all ${#targets[@]} targets ran ${secs}s without a crash."
