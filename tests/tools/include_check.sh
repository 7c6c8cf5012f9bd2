#!/usr/bin/env bash
# The include boundary of DESIGN.md ("Torch never meets protobuf in one translation unit"),
# checked over the source text. daemon/, coordinator/, client/ and proto/ compile beside
# protobuf's generated code, so they may include only the engine headers that engine/api.h
# lists on its "include-allowed:" lines. Fails, naming file:line and the header, when
#   (a) a file there includes an engine header the list does not hold, or
#   (b) a listed header includes <torch/...>, <ATen/...>, <c10/...> or <cuda...>, itself
#       or through the engine headers it includes (the chain is printed).
# Every #include line counts, #ifdef'd or not. Runs as CTest's include_check and as the
# default build's include_check target, so a violation fails both.
#   tests/tools/include_check.sh [SOURCE_DIR]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"

mapfile -t allowed < <(sed -n 's#^//[[:space:]]*include-allowed:[[:space:]]*\(engine/[^[:space:]]*\).*#\1#p' \
  engine/api.h)
if ((${#allowed[@]} == 0)); then
  echo "include_check: engine/api.h lists no include-allowed headers"
  exit 1
fi
failed=0

is_allowed() {
  local h
  for h in "${allowed[@]}"; do [[ $h == "$1" ]] && return 0; done
  return 1
}

# (a) Outside the engine: only listed headers.
while IFS= read -r file; do
  while IFS=: read -r line header; do
    if ! is_allowed "$header"; then
      echo "$file:$line: includes \"$header\", which engine/api.h does not list as include-allowed"
      failed=1
    fi
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"engine/' "$file" |
             sed -E 's/^([0-9]+):.*"(engine\/[^"]*)".*/\1:\2/')
done < <(find daemon coordinator client proto -type f \( -name '*.h' -o -name '*.cpp' -o -name '*.cc' \) | sort)

# (b) Every listed header torch-free, through the engine headers it includes.
declare -A seen
walk() {  # HEADER CHAIN
  local h=$1 chain=$2
  [[ -n ${seen[$h]:-} ]] && return 0
  seen[$h]=1
  if [[ ! -f $h ]]; then
    echo "$chain: \"$h\" does not exist"
    failed=1
    return 0
  fi
  local line text
  while IFS=: read -r line text; do
    echo "$h:$line: ${text#"${text%%[![:space:]]*}"} (torch or CUDA in an allowed header: $chain)"
    failed=1
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(torch|ATen|c10|cuda)' "$h" || true)
  local next
  while IFS= read -r next; do
    walk "$next" "$chain -> $next"
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\(engine\/[^"]*\)".*/\1/p' "$h")
}
for h in "${allowed[@]}"; do walk "$h" "$h"; done

if ((failed)); then
  echo "include_check: FAILED (the allowed list and why: engine/api.h; DESIGN.md, The boundaries that matter)"
  exit 1
fi
echo "include_check: ok (${#allowed[@]} allowed headers, ${#seen[@]} engine headers torch-free)"
