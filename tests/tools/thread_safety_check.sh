#!/usr/bin/env bash
# The locking contracts (ABSL_GUARDED_BY, ABSL_EXCLUSIVE_LOCKS_REQUIRED) checked by the
# compiler: g++ builds zerod and ignores them, so this recompiles each file that holds a
# mutex with clang's -Wthread-safety as errors, using the build's own compile command.
# Fails naming file:line when a guarded member is touched without its mutex.
#   tests/tools/thread_safety_check.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: thread_safety_check.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
clang=$(command -v clang++ || command -v clang++-14 || true)
if [ -z "$clang" ]; then
  echo "thread_safety_check: SKIPPED: no clang++ (apt-get install clang)"
  exit 0
fi
# Every file that declares a mutex, and its header's .cpp.
files=$(grep -rl "absl::Mutex" "$root"/engine "$root"/coordinator "$root"/daemon "$root"/client \
  --include=*.h --include=*.cpp | sed 's/\.h$/.cpp/' | sort -u)
failed=0
for f in $files; do
  [ -f "$f" ] || continue
  # The build's command for this file, with g++'s precompiled header and flags dropped.
  cmd=$(python3 - "$build/compile_commands.json" "$f" <<'PY'
import json, shlex, sys
for e in json.load(open(sys.argv[1])):
    if e["file"] == sys.argv[2]:
        args = shlex.split(e["command"])
        out, skip = [], False
        for a in args[1:]:
            if skip: skip = False; continue
            if a in ("-o", "-MF", "-MT", "-MQ"): skip = True; continue
            if a == "-include" : skip = True; continue
            if a.startswith("-Winvalid-pch") or a in ("-c", "-MD") or a.endswith(".cpp"): continue
            if "ccache" in a or a.startswith("CCACHE_") or a in ("env", "-E") or a.endswith("cmake"): continue
            out.append(a)
        print(e["directory"] + "\t" + shlex.join(out))
        break
PY
)
  if [ -z "$cmd" ]; then
    echo "thread_safety_check: $f is not in $build/compile_commands.json"
    failed=1
    continue
  fi
  dir=${cmd%%$'\t'*}
  flags=${cmd#*$'\t'}
  if out=$(cd "$dir" && eval "$clang" "$flags" -fsyntax-only -Wno-unknown-warning-option \
        -Wthread-safety -Werror=thread-safety "$f" 2>&1); then
    echo "thread_safety_check: ${f#$root/}: ok"
  else
    echo "$out" | grep -E "error" | head -20
    echo "thread_safety_check: ${f#$root/}: FAILED"
    failed=1
  fi
done
exit $failed
