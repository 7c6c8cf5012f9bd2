#!/usr/bin/env bash
# libFuzzer over zerod's torch-free parsers (tests/fuzz: DeepSpeed config, safetensors
# header, tokenizer.json, checkpoint metadata, JobSpec validation, chat templates).
# Configures build-fuzz/ with clang and -DZEROD_FUZZ=ON (ASan, UBSan and coverage on every
# library; LibTorch's CMake config is read, as by every configuration, but nothing of it is
# built), builds only the fuzz targets (the parsers' sources and zerod_proto), then runs
# each for ZEROD_FUZZ_SECONDS (default 45) from its seeds, tests/fuzz/corpus/<target>/, as
# many at a time as there are cores: about 4 minutes from cold on 2 cores. One line per
# target; exits non-zero if any crashed.
#
# A crash leaves its input in build-fuzz/crashes/<target>/ and the log beside it. Replay it
# with `build-fuzz/bin/fuzz_<target> FILE`; once fixed, copy it into
# tests/fuzz/corpus/<target>/ as crash_<what>: every run replays the corpus first, so it
# stays a regression test. New coverage accumulates in build-fuzz/corpus/<target>/.
#
#   bash tests/tools/fuzz.sh                    # all targets, 45 s each
#   ZEROD_FUZZ_SECONDS=600 bash tests/tools/fuzz.sh tokenizer safetensors
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
seconds=${ZEROD_FUZZ_SECONDS:-45}
targets=("$@")
((${#targets[@]})) || targets=(ds_config safetensors tokenizer checkpoint_meta job_spec chat_template)
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (scripts/bootstrap.sh installs it)"; exit 1; }

if [ ! -f build-fuzz/build.ninja ]; then
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DZEROD_FUZZ=ON \
    -DZEROD_BUILD_TESTS=OFF -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -Wno-dev \
    >build-fuzz.cmake.log 2>&1 || { cat build-fuzz.cmake.log; exit 1; }
fi
ninja -C build-fuzz "${targets[@]/#/fuzz_}" >build-fuzz/ninja.log 2>&1 ||
  { tail -40 build-fuzz/ninja.log; exit 1; }
tail -1 build-fuzz/ninja.log

# UB must stop the run with a stack (the build already aborts on it: -fno-sanitize-recover).
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=abort_on_error=1
results=build-fuzz/results
rm -rf "$results" && mkdir -p "$results"

fuzz_one() {  # target: runs it, writes its one-line result to $results/<target>
  local t=$1 log=$results/$1.log corpus=build-fuzz/corpus/$1 crashes=build-fuzz/crashes/$1
  mkdir -p "$corpus" "$crashes"
  local dict=()
  case $t in
    job_spec) ;;
    chat_template) dict=(-dict=tests/fuzz/jinja.dict) ;;
    *) dict=(-dict=tests/fuzz/json.dict) ;;
  esac
  local rc=0
  # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: the default, said aloud.
  "build-fuzz/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "${dict[@]}" -artifact_prefix="$crashes/" \
    "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  # The log's last words (|| true: a run that died early lacks some of them).
  local runs rate time cov why
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  time=$( (grep -o 'Done [0-9]* runs in [0-9]* second' "$log" || true) | awk '{print $5}')
  cov=$( (grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" || true) | tail -1)
  if [ "$rc" -eq 0 ]; then
    echo "$t: ok, ${runs:-?} runs in ${time:-?} s (${rate:-?}/s), $cov" >"$results/$t"
  else
    cp "$log" "$crashes/"
    why=$(grep -m1 -E 'FUZZ_CHECK|runtime error|what\(\)|ERROR: (Addr|Leak)Sanitizer|ERROR: libFuzzer' \
      "$log" || true)
    echo "$t: CRASH (rc $rc) after ${runs:-?} runs: ${why:-see the log}; input and log in" \
      "$crashes/" >"$results/$t"
  fi
}

# One fuzzer per core: each is single-threaded.
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= $(nproc))); do wait -n || true; done
  fuzz_one "$t" &
done
wait
failed=0
for t in "${targets[@]}"; do
  echo "fuzz $(cat "$results/$t")"
  grep -q ': ok,' "$results/$t" || failed=1
done
exit "$failed"
