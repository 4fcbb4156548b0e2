#!/usr/bin/env bash
# Follows the README as a new user would, and nothing else: in an empty folder outside the repository, runs the
# README's install block (the one under the "package check" comment) against the packed packages, replaces
# Program.cs with the README's quick start, then runs it and expects its "lost 0" line.
# Usage: scripts/quickstart-check.sh <packages folder> <empty work folder>
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
packages="$(cd "$1" && pwd)"
work="$(mkdir -p "$2" && cd "$2" && pwd)"
case "$work" in "$repo"/*) echo "the work folder must be outside the repository (its build files would apply)" >&2; exit 2;; esac

# A package cache of its own, so a copy of the same version packed earlier cannot stand in for this one.
export NUGET_PACKAGES="$work/nuget-packages"

python3 - "$repo/README.md" "$work" "$packages" <<'PY'
import re, sys, pathlib
readme, work, packages = pathlib.Path(sys.argv[1]).read_text(), pathlib.Path(sys.argv[2]), sys.argv[3]
install = re.search(r"<!-- package check:[^>]*-->\n```bash\n(.*?)```", readme, re.S)
quick = re.search(r"## Quick start[^\n]*\n.*?```csharp\n(.*?)```", readme, re.S)
if not install or not quick:
    sys.exit("README: the package-check install block or the quick start's C# block is missing")
placeholder = "/path/to/MessagingPatterns/artifacts/packages"
if placeholder not in install.group(1):
    sys.exit(f"README: the install block no longer names {placeholder}")
(work / "install.sh").write_text(install.group(1).replace(placeholder, packages))
(work / "Program.cs").write_text(quick.group(1))
PY

cd "$work"
echo "-- the README's install block"
cat install.sh
# The block ends inside the new project's folder (it cds there); note that folder for the next step.
{ echo 'set -euo pipefail'; cat install.sh; echo 'pwd > "$WORK/project.path"'; } > run-install.sh
WORK="$work" bash run-install.sh
project="$(cat project.path)"
cp Program.cs "$project/Program.cs"
echo "-- the README's quick start, in $project"
if ! output="$(cd "$project" && dotnet run -c Release 2>&1)"; then
  echo "$output"
  echo "the README's quick start did not build or run" >&2
  exit 1
fi
echo "$output" | tail -n 3
echo "$output" | grep -q "lost 0$" || { echo "the quick start did not end with 'lost 0'" >&2; exit 1; }
