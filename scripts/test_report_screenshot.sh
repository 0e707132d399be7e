#!/usr/bin/env bash
# Renders a demo report's index.html in headless Chromium (installed by scripts/setup.sh) and
# checks what a reader would see: the screenshot is not blank (many colours, a fair share of
# non-white pixels: the plots and trigger images drew), and the rendered page holds the results
# table with a row per model.
#
#   scripts/test_report_screenshot.sh REPORT_DIR [SCREENSHOT.png]
set -euo pipefail

report=$(cd "$1" && pwd)
shot=${2:-$report/screenshot.png}
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
    echo "report screenshot: chromium is not installed (scripts/setup.sh installs it)" >&2
    exit 1
fi
url="file://$report/index.html"
# A fresh profile, so a run never depends on (or writes to) a user's browser state.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars
       --user-data-dir="$profile" --no-first-run --allow-file-access-from-files)

rm -f "$shot"
timeout 120 "$browser" "${flags[@]}" --window-size=1360,3000 --screenshot="$shot" "$url" 2>/dev/null || true
dom=$(timeout 120 "$browser" "${flags[@]}" --dump-dom "$url" 2>/dev/null || true)

python3 - "$shot" <<'EOF'
import struct, sys, zlib

path = sys.argv[1]
try:
    data = open(path, "rb").read()
except OSError:
    sys.exit(f"report screenshot: chromium wrote no {path}")
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"report screenshot: {path} is not a PNG")
pos, idat, width = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        if depth != 8 or colour not in (2, 6):
            sys.exit(f"report screenshot: unexpected PNG format (depth {depth}, colour type {colour})")
        bpp = 3 if colour == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = width * bpp
prev = bytearray(stride)
colours, nonwhite = set(), 0
for y in range(height):
    line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
    f, cur = line[0], bytearray(line[1:])
    for i in range(stride):  # undo the PNG row filter
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: cur[i] = (cur[i] + a) & 255
        elif f == 2: cur[i] = (cur[i] + b) & 255
        elif f == 3: cur[i] = (cur[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        rgb = bytes(cur[x:x + 3])
        colours.add(rgb)
        if rgb != b"\xff\xff\xff":
            nonwhite += 1
    prev = cur
share = nonwhite / (width * height)
print(f"report screenshot: {width}x{height}, {len(colours)} colours, {100 * share:.1f}% non-white pixels")
if len(colours) < 200 or share < 0.02:
    sys.exit("report screenshot: the page rendered (nearly) blank")
EOF

problems=0
for want in '<table id="results">' '<td>poisoned</td>' '<td>MMCL-only</td>' '<td>CleanCLIP</td>' '<table id="per-class-asr">' 'examples/triggered_0.png'; do
    if [[ $dom != *"$want"* ]]; then
        echo "report screenshot: the rendered page lacks $want" >&2
        problems=1
    fi
done
if ((problems)); then exit 1; fi
echo "report screenshot: 1 passed, 0 failed ($shot)"
