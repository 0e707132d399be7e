// swift-tools-version:6.0
import PackageDescription

// Layering (each layer knows only the ones below it):
//   ErrorKinds            what kind of failure an error is (ErrorKind), adopted by every error type
//   TensorCore            floats, shapes, BLAS kernels, autodiff
//   Files                 opening regular files without blocking, atomic writes
//   Checkpoint            safetensors / torch zip / pickle -> named raw tensors
//   Tokenizer, ImageIO    CLIP's BPE tokenizer; image decoding + PIL-exact preprocessing
//   CLIP                  configs, towers, weight naming, model loading
//   CleanCLIP             the method: data, augmentation, losses, finetuning, triggers, evaluation
//   Demo                  the embedded demo: generated shapes data set, poison-and-clean runs, report
//   CABI                  the C boundary (libcleanclip.so), mapping handles and statuses
//   cleanclip             the command-line tool
// No target carries unsafe flags: SwiftPM refuses a versioned dependency on a package whose
// targets do, and Tests/Package/run.sh proves the package works as one. (Exclusivity checking
// stays on; its cost is below the noise of `cleanclip bench`, see the README's Performance.)

let package = Package(
    name: "CleanCLIP",
    products: [
        .library(name: "CleanCLIP", targets: ["CleanCLIP"]),
        .library(name: "cleanclip", type: .dynamic, targets: ["CABI"]),
        .executable(name: "cleanclip-cli", targets: ["cleanclip"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // OpenBLAS is loaded at run time (dlopen), after choosing its kernel: see CKernels.
        .target(name: "CKernels", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("pthread")]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]
        ),
        .target(
            name: "CVocab",
            exclude: ["bpe_simple_vocab_16e6.txt.gz", "LICENSE-open_clip.txt"],
            cSettings: [.headerSearchPath(".")]
        ),
        .target(name: "TensorCore", dependencies: ["CKernels"]),
        .target(name: "ErrorKinds"),
        .target(name: "Files", dependencies: ["ErrorKinds"]),
        .target(name: "Checkpoint", dependencies: ["ErrorKinds", "Files", "CZlib"]),
        .target(name: "Tokenizer", dependencies: ["ErrorKinds", "Files", "CVocab", "CZlib"]),
        .target(name: "ImageIO", dependencies: ["ErrorKinds", "Files", "CImageCodecs"]),
        .target(name: "CLIP", dependencies: ["ErrorKinds", "TensorCore", "Checkpoint", "Tokenizer", "ImageIO"]),
        .target(name: "CleanCLIP", dependencies: ["ErrorKinds", "CLIP", "CKernels"]),
        .target(name: "Demo", dependencies: ["CleanCLIP"]),
        .target(name: "CABI", dependencies: ["CleanCLIP"]),
        .executableTarget(
            name: "cleanclip",
            dependencies: ["CleanCLIP", "Demo", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "CKernels"]),
        .testTarget(name: "FilesTests", dependencies: ["ErrorKinds", "Files"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "ErrorKinds"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"]),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO"]),
        .testTarget(name: "CLIPTests", dependencies: ["CleanCLIP"]),
        .testTarget(name: "TrainingTests", dependencies: ["CleanCLIP", "Demo"]),
        .testTarget(name: "AugmentTests", dependencies: ["CleanCLIP"]),
        .testTarget(name: "BackdoorTests", dependencies: ["CleanCLIP"]),
        // Runs the built command-line tool (found next to the test bundle) with hostile flags;
        // the library only writes a small random full-vocabulary model for runs on real captions.
        .testTarget(name: "CLITests", dependencies: ["CleanCLIP"]),
    ],
    swiftLanguageModes: [.v5]
)
