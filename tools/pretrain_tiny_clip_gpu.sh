#!/usr/bin/env bash
# Stage one of the demo on a GPU machine that has torch but not the rest of
# the stack, and no network (docs/demo.md, "Stage one on a GPU"):
#
#   bash tools/pretrain_tiny_clip_gpu.sh OUT_DIR [more pretrain_tiny_clip.py arguments]
#
# Installs the wheels of .whl/ (if there are any; see docs/design.md, "Installing on a
# GPU machine") into a temporary folder, then runs tools/pretrain_tiny_clip.py
# with the GPU recipe: batch 512, bf16 autocast, scenes rendered by one worker
# process per core but two, at most MINUTES (8) of training. Writes
# OUT_DIR/tiny_clip_synthetic.pt (fp16 open_clip state dict), its provenance
# .json and pretrain.log. Arguments after OUT_DIR override the recipe's
# (argparse keeps the last); DEVICE, BATCH, STEPS, MINUTES and WORKERS set it,
# WHEELS another wheel folder.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT_DIR=${1:?usage: bash tools/pretrain_tiny_clip_gpu.sh OUT_DIR [args]}
shift
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT_DIR"

shopt -s nullglob
wheels=("${WHEELS:-$ROOT/.whl}"/*.whl)
if ((${#wheels[@]})); then
  site=$(mktemp -d)
  "$PYTHON" -m pip install -q --no-index --no-deps --target "$site" "${wheels[@]}"
  export PYTHONPATH="$site:$ROOT/projects${PYTHONPATH:+:$PYTHONPATH}"
  echo "[gpu] installed ${#wheels[@]} wheels from ${WHEELS:-$ROOT/.whl} into $site"
else
  export PYTHONPATH="$ROOT/projects${PYTHONPATH:+:$PYTHONPATH}"
  echo "[gpu] no wheels in .whl/: using this Python's packages"
fi

cores=$(nproc)
WORKERS=${WORKERS:-$((cores > 3 ? cores - 2 : 1))}
"$PYTHON" -c 'import torch; print("[gpu] torch", torch.__version__, "cuda",
  torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available()
  else "(no GPU)")'
PYTHONUNBUFFERED=1 "$PYTHON" "$ROOT/tools/pretrain_tiny_clip.py" \
  --device "${DEVICE:-cuda}" --amp --batch-size "${BATCH:-512}" \
  --steps "${STEPS:-2000}" --max-train-minutes "${MINUTES:-8}" \
  --workers "$WORKERS" --log-every 20 \
  --out "$OUT_DIR/tiny_clip_synthetic.pt" "$@" 2>&1 | tee "$OUT_DIR/pretrain.log"
