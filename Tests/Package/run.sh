#!/usr/bin/env bash
# Proves that this package can be used the way SwiftPM users use packages: as a dependency by
# version. SwiftPM refuses a versioned dependency on a package whose targets use unsafe flags, so
# this fails if one comes back.
#
# Makes a throw-away git repository of this tree (tracked and untracked, not ignored files, so
# uncommitted work is tested too), tags it with the header's version, builds a consumer package
# that depends on it with `from:` and runs the README's Swift example (the ```swift block after
# "From Swift") on a small random model.
#
#   Tests/Package/run.sh          environment: PACKAGE_TEST_DIR (default: a new temp folder)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -n ${PACKAGE_TEST_DIR:-} ]]; then
    work=$PACKAGE_TEST_DIR
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
rm -rf "$work/cleanclip" "$work/consumer"
mkdir -p "$work/cleanclip" "$work/consumer/Sources/consumer"

header="$root/include/cleanclip.h"
version=$(for part in MAJOR MINOR PATCH; do
    sed -n "s/^#define CLEANCLIP_VERSION_$part \([0-9]*\)$/\1/p" "$header"
done | paste -sd.)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "package test: no version in $header" >&2; exit 1; }

(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$work/cleanclip")
(cd "$work/cleanclip" && git init -q && git add -A && git -c user.name=test -c user.email=test@localhost commit -qm snapshot \
    && git tag "$version")

cat > "$work/consumer/Package.swift" <<SWIFT
// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "consumer",
    dependencies: [.package(url: "file://$work/cleanclip", from: "$version")],
    targets: [.executableTarget(name: "consumer", dependencies: [.product(name: "CleanCLIP", package: "cleanclip")])]
)
SWIFT
{
    cat "$root/Tests/Package/prologue.swift"
    echo
    echo "// The README's example:"
    awk '/^From Swift/ { found = 1 } found && /^```swift/ { inside = 1; next } inside && /^```/ { exit } inside' "$root/README.md"
    echo
    echo 'print("images", images.shape, "text", text.shape, "classes", best.count, probabilities.shape)'
} > "$work/consumer/Sources/consumer/main.swift"
grep -q "CLIPModel.load" "$work/consumer/Sources/consumer/main.swift" || { echo "package test: no Swift example in README.md" >&2; exit 1; }

cd "$work/consumer"
swift build -c "${CONFIG:-debug}" 2>&1 | tail -n 20
out=$(cd "$work/consumer" && "$(swift build -c "${CONFIG:-debug}" --show-bin-path)/consumer")
echo "$out"
[[ $out == "images [2, 32] text [1, 32] classes 2 [2, 2]" ]] || { echo "package test: unexpected output from the README's example" >&2; exit 1; }
echo "package test: a package depending on cleanclip $version by version builds and runs the README's Swift example"
