#!/usr/bin/env bash
# Fails when a generated file is stale: regenerates into a scratch copy of the tree and compares.
# The work tree itself is never touched.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

# Copy what git knows about (tracked and untracked, not ignored): the tree as it would be committed.
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) |
	(cd "$ROOT" && { xargs -0 cp --parents -t "$SCRATCH" 2>/dev/null || true; })
# Files deleted in the work tree but still in the index make cp fail; they are not needed.

echo ">>> regenerating into a scratch copy to compare"
(cd "$SCRATCH" && bash hack/update-codegen.sh >/dev/null)

status=0
for dir in pkg/apis pkg/generated api charts; do
	if ! diff -ruN "$ROOT/$dir" "$SCRATCH/$dir" >"$SCRATCH.diff" 2>&1; then
		echo "generated code under $dir is stale:" >&2
		head -50 "$SCRATCH.diff" >&2
		status=1
	fi
done
rm -f "$SCRATCH.diff"
if [[ $status -ne 0 ]]; then
	echo "Run hack/update-codegen.sh (make update) and commit the result." >&2
	exit 1
fi
echo ">>> generated code is up to date"
