#!/usr/bin/env bash
# The HTML report as a person sees it: 2-rank zerod daemons train the tiny Llama for STEPS
# (12) steps on the shipped corpus, `zeroctl report` writes the page, and Debian's
# headless Chromium takes a screenshot of it. Writes OUT_DIR/report_example.html and
# OUT_DIR/report.png (OUT_DIR: docs/). Needs a build (zerod, zeroctl) and chromium
# (`apt-get install -y chromium`; not part of bootstrap.sh, the tests skip without it).
#   tests/tools/report_screenshot.sh [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/docs}" && cd "${1:-$root/docs}" && pwd)
bin=$root/build/bin
command -v chromium >/dev/null || { echo "report_screenshot: no chromium (apt-get install -y chromium)" >&2; exit 2; }
source "$root/scripts/env.sh"
work=$(mktemp -d /tmp/zerod-report-XXXXXX)
"$bin/zerod" --prepare-data --bytes --input "$root/data/corpus/vim_user_manual.txt" \
  --output "$work/corpus.bin" >/dev/null
cat >"$work/ds.json" <<'JSON'
{"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2, "gradient_clipping": 1.0,
 "optimizer": {"type": "AdamW", "params": {"lr": 2e-3}},
 "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
                       "offload_optimizer": {"device": "cpu"}}}
JSON
# Port 0: the daemons pick a free one and print it.
OMP_NUM_THREADS=1 mpirun -np 2 "$bin/zerod" --listen 127.0.0.1:0 >"$work/daemons.log" 2>&1 &
daemons=$!
trap 'kill $daemons 2>/dev/null; wait $daemons 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
  addr=$(sed -n 's/.*coordinator listening on \([^ ]*\).*/\1/p' "$work/daemons.log")
  [ -n "$addr" ] && break
  kill -0 $daemons 2>/dev/null || { cat "$work/daemons.log"; exit 1; }
  sleep 0.2
done
ctl() { "$bin/zeroctl" --addr "$addr" "$@"; }
job=$(ctl submit --model "$root/configs/models/tiny-llama" --ds-config "$work/ds.json" \
  --data "$work/corpus.bin" --seq-len 32 --steps "${STEPS:-12}" --name report-example)
ctl watch "$job"
ctl report "$job" --html "$out/report_example.html"
# Chromium writes its profile under $HOME: a throw-away one.
HOME=$work chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --screenshot="$out/report.png" --window-size=1200,1600 "file://$out/report_example.html" \
  2>"$work/chromium.log" >/dev/null || { cat "$work/chromium.log"; exit 1; }
ctl shutdown >/dev/null
wait $daemons || true
echo "report_screenshot: $out/report_example.html, $out/report.png ($(stat -c %s "$out/report.png") bytes)"
