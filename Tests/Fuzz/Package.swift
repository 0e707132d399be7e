// swift-tools-version:6.0
import Foundation
import PackageDescription

// libFuzzer targets for every parser of outside data (run.sh builds and runs them; see the
// README's "Fuzzing" section). A package of its own, so that the library's build never sees
// executables without a main: these link libFuzzer's, and only build with
// `-Xswiftc -sanitize=fuzzer,address`. One executable per folder Sources/fuzz-<name>.
let fuzzers = ((try? FileManager.default.contentsOfDirectory(atPath: Context.packageDirectory + "/Sources")) ?? [])
    .filter { $0.hasPrefix("fuzz-") }.sorted()

let package = Package(
    name: "CleanCLIPFuzz",
    dependencies: [.package(name: "CleanCLIP", path: "../..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "CleanCLIP", package: "CleanCLIP")]),
    ] + fuzzers.map { name in
        .executableTarget(name: name, dependencies: ["FuzzSupport"])
    },
    swiftLanguageModes: [.v5]
)
