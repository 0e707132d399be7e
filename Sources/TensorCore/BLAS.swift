import CKernels
import Foundation

/// C = alpha * op(A) * op(B) + beta * C for row-major matrices, through OpenBLAS's sgemm, split
/// over the worker pool when large.
/// op(A) is m x k, op(B) is k x n, C is m x n; lda/ldb/ldc are the row strides as stored.
@inline(__always)
func sgemm(
    transA: Bool = false, transB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    ck_sgemm(transA, transB, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Row-major C = A B^T + bias (one value per column, added to every row), as `nn.Linear`: each
/// part of the split product writes its own block of the bias on its own thread.
@inline(__always)
func sgemmAddingBias(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int,
    bT: UnsafePointer<Float>, ldb: Int,
    bias: UnsafePointer<Float>?,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    ck_sgemm_bias(false, true, Int32(m), Int32(n), Int32(k), a, Int32(lda), bT, Int32(ldb), bias, c, Int32(ldc))
}

/// `sgemm` on the calling thread only, for callers that already run in parallel.
@inline(__always)
func sgemmSerial(
    transA: Bool = false, transB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    ck_sgemm_serial(transA, transB, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The BLAS that runs the matrix products: OpenBLAS, loaded on first use with the kernel
/// ("core") chosen from the CPU's feature bits, unless `OPENBLAS_CORETYPE` is set.
public enum BLASBackend {
    /// How the running kernel was chosen.
    public enum Choice: String, Sendable {
        case cpuFeatures = "chosen from CPU features"
        case environment = "OPENBLAS_CORETYPE set by the user"
        case openBLAS = "OpenBLAS's own detection (no AVX)"
        case alreadyLoaded = "OpenBLAS was already loaded in this process"
        case notLoaded = "OpenBLAS not loaded: portable kernel"
    }

    public struct Status: Sendable {
        /// The kernel in use: `openblas_get_corename()` ("Cooperlake", "Haswell", ...) or "portable".
        public let kernel: String
        public let choice: Choice
        /// The kernel asked for through OPENBLAS_CORETYPE, if any.
        public let requested: String?
        /// `openblas_get_config()`, or "" without OpenBLAS.
        public let config: String
        /// The library file loaded or tried.
        public let library: String
        /// A warning for the user; nil when everything is as it should be.
        public let warning: String?
    }

    /// Loads OpenBLAS if needed and says which kernel runs and why.
    public static var status: Status {
        let s = ck_blas_status()!.pointee
        let choice: Choice = switch s.choice {
        case CK_CHOSEN_BY_USER: .environment
        case CK_CHOSEN_BY_OPENBLAS: .openBLAS
        case CK_ALREADY_LOADED: .alreadyLoaded
        case CK_NOT_LOADED: .notLoaded
        default: .cpuFeatures
        }
        let warning = String(cString: s.message)
        return Status(kernel: String(cString: s.core), choice: choice, requested: s.requested.map { String(cString: $0) },
                      config: String(cString: s.config), library: String(cString: s.library),
                      warning: warning.isEmpty ? nil : warning)
    }

    /// What this CPU and its OS support, as far as kernel choice goes.
    public static var cpuFeatures: CPUFeatures {
        var f = ck_cpu_features()
        ck_detect_cpu(&f)
        return CPUFeatures(f)
    }

    /// The OpenBLAS kernel for a feature set (nil: leave the choice to OpenBLAS).
    public static func kernel(for features: CPUFeatures) -> String? {
        var f = features.raw
        return ck_blas_core_for(&f).map { String(cString: $0) }
    }

    /// Measured single-precision GEMM throughput in GFLOP/s (a multiply-add counts 2) on a
    /// ViT-B/32 MLP shape, 800 x 3072 x 768, with the current thread count: the practical
    /// peak that model figures are compared with.
    public static func measureSGEMM(m: Int = 800, n: Int = 3072, k: Int = 768, seconds: Double = 0.5) -> Double {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k), b = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        for i in 0..<(m * k) { a[i] = Float(i % 7) * 1e-3 }
        for i in 0..<(n * k) { b[i] = Float(i % 5) * 1e-3 }
        func run() { sgemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: c, ldc: n) }
        run()
        var calls = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            run()
            calls += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds
        return 2 * Double(m * n * k) * Double(calls) / elapsed / 1e9
    }

    /// The cores' arithmetic limit with the current thread count: independent multiply-add
    /// chains in registers, with the widest instructions the CPU and the OS support. No kernel
    /// runs faster; the sgemm and model figures are read against it.
    public static func measurePeak(seconds: Double = 0.5) -> ArithmeticPeak {
        let p = ck_measure_peak(seconds)
        return ArithmeticPeak(gflops: p.gflops, instructions: String(cString: p.instructions))
    }
}

/// The cores' arithmetic limit, measured: see `BLASBackend.measurePeak`.
public struct ArithmeticPeak: Sendable {
    /// Single-precision GFLOP/s on all threads (a multiply-add counts 2).
    public let gflops: Double
    /// The instructions that reached it: "AVX-512 FMA", "AVX2 FMA", "SSE multiply + add", ...
    public let instructions: String
}

/// CPU features that decide the OpenBLAS kernel (CPUID leaves 1 and 7, XCR0).
public struct CPUFeatures: Sendable, Equatable {
    public enum Vendor: Int32, Sendable { case other = 0, intel = 1, amd = 2, hygon = 3 }
    public var vendor: Vendor = .other
    public var family = 0, model = 0
    public var avx = false, fma = false, avx2 = false
    public var avx512f = false, avx512cd = false, avx512bw = false, avx512dq = false, avx512vl = false
    public var avx512bf16 = false
    /// The OS saves the YMM state (XCR0 bits 1-2) / also the opmask and ZMM states (bits 5-7).
    public var osAVX = false, osAVX512 = false

    public init() {}

    init(_ f: ck_cpu_features) {
        vendor = Vendor(rawValue: f.vendor) ?? .other
        family = Int(f.family); model = Int(f.model)
        avx = f.avx; fma = f.fma; avx2 = f.avx2
        avx512f = f.avx512f; avx512cd = f.avx512cd; avx512bw = f.avx512bw; avx512dq = f.avx512dq; avx512vl = f.avx512vl
        avx512bf16 = f.avx512_bf16
        osAVX = f.os_avx; osAVX512 = f.os_avx512
    }

    var raw: ck_cpu_features {
        var f = ck_cpu_features()
        f.vendor = vendor.rawValue; f.family = Int32(family); f.model = Int32(model)
        f.avx = avx; f.fma = fma; f.avx2 = avx2
        f.avx512f = avx512f; f.avx512cd = avx512cd; f.avx512bw = avx512bw; f.avx512dq = avx512dq; f.avx512vl = avx512vl
        f.avx512_bf16 = avx512bf16
        f.os_avx = osAVX; f.os_avx512 = osAVX512
        return f
    }

    /// Vendor, family, model and the feature names present, for reports.
    public var summary: String {
        let name = switch vendor { case .intel: "Intel"; case .amd: "AMD"; case .hygon: "Hygon"; case .other: "x86-64" }
        return "\(name) family \(family) model \(model): \(flagList)"
    }

    /// The feature names present ("AVX FMA AVX2 AVX512F ...").
    public var flagList: String {
        let flags: [(Bool, String)] = [(avx, "AVX"), (fma, "FMA"), (avx2, "AVX2"), (avx512f, "AVX512F"), (avx512cd, "AVX512CD"),
                                       (avx512bw, "AVX512BW"), (avx512dq, "AVX512DQ"), (avx512vl, "AVX512VL"),
                                       (avx512bf16, "AVX512_BF16")]
        var s = flags.filter(\.0).map(\.1).joined(separator: " ")
        if avx && !osAVX { s += " (OS disables AVX state)" } else if avx512f && !osAVX512 { s += " (OS disables AVX-512 state)" }
        return s.isEmpty ? "no AVX" : s
    }
}

extension BLASBackend.Status: CustomStringConvertible {
    /// One line for reports: "OpenBLAS 0.3.21 (libopenblas.so.0), kernel Cooperlake, chosen from
    /// CPU features (AVX ... AVX512_BF16)", followed by the warning when there is one.
    public var description: String {
        let version = config.split(separator: " ").prefix(2).joined(separator: " ")
        var s = choice == .notLoaded
            ? "portable built-in GEMM"
            : "\(version.isEmpty ? "OpenBLAS" : version) (\(library)), kernel \(kernel)"
        switch choice {
        case .cpuFeatures: s += ", chosen from CPU features"
        case .environment: s += ", OPENBLAS_CORETYPE=\(requested ?? "") set by the user"
        case .openBLAS: s += ", OpenBLAS's own choice (no AVX)"
        case .alreadyLoaded: s += ", chosen by an OpenBLAS already loaded in this process"
        case .notLoaded: break
        }
        if let warning { s += ". Warning: \(warning)" }
        return s
    }
}
