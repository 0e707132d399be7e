import CKernels
import Foundation
import TensorCore
import Testing

/// A feature set with everything up to the given level, as CPUID and XCR0 would report it.
private func cpu(_ vendor: CPUFeatures.Vendor, avx: Bool = true, avx2: Bool = true, avx512: Bool = false,
                 bf16: Bool = false, osAVX: Bool = true, osAVX512: Bool = true, family: Int = 6, model: Int = 0) -> CPUFeatures {
    var f = CPUFeatures()
    f.vendor = vendor
    f.family = family
    f.model = model
    f.avx = avx
    f.fma = avx2
    f.avx2 = avx2
    f.avx512f = avx512; f.avx512cd = avx512; f.avx512bw = avx512; f.avx512dq = avx512; f.avx512vl = avx512
    f.avx512bf16 = bf16
    f.osAVX = osAVX
    f.osAVX512 = osAVX && osAVX512
    return f
}

@Suite("BLAS kernel choice")
struct BLASKernelChoiceTests {
    static let table: [(String, CPUFeatures, String?)] = [
        // The CPU of issue 11: a Xeon (family 6, model 207) that OpenBLAS 0.3.21 does not know.
        ("Xeon 6/207, AVX-512 + BF16", cpu(.intel, avx512: true, bf16: true, model: 207), "Cooperlake"),
        ("Skylake-SP, AVX-512", cpu(.intel, avx512: true, model: 85), "SkylakeX"),
        ("AVX-512 with the ZMM state disabled by the OS", cpu(.intel, avx512: true, bf16: true, osAVX512: false), "Haswell"),
        ("Alder Lake, AVX2", cpu(.intel, model: 151), "Haswell"),
        ("Ivy Bridge, AVX only", cpu(.intel, avx2: false, model: 58), "Sandybridge"),
        ("AVX with the YMM state disabled by the OS", cpu(.intel, avx2: false, osAVX: false), nil),
        ("no AVX", cpu(.intel, avx: false, avx2: false), nil),
        ("Zen 3, AVX2", cpu(.amd, family: 25, model: 33), "Zen"),
        ("Zen 4, AVX-512 + BF16", cpu(.amd, avx512: true, bf16: true, family: 25, model: 17), "Cooperlake"),
        ("Hygon Dhyana, AVX2", cpu(.hygon, family: 24), "Zen"),
        ("unknown vendor, AVX2", cpu(.other), "Haswell"),
    ]

    @Test("feature set -> OpenBLAS core", arguments: table)
    func mapping(name: String, features: CPUFeatures, expected: String?) {
        #expect(BLASBackend.kernel(for: features) == expected, "\(name)")
    }

    @Test("an AVX-512 part missing BW/DQ/VL (Knights Landing) gets the AVX2 kernel")
    func partialAVX512() {
        var f = cpu(.intel, avx512: true)
        f.avx512bw = false
        #expect(BLASBackend.kernel(for: f) == "Haswell")
    }

    @Test("the running kernel is the one this CPU's features choose, unless the user chose")
    func runningKernel() {
        let status = BLASBackend.status
        #expect(!status.kernel.isEmpty)
        switch status.choice {
        case .cpuFeatures:
            let expected = BLASBackend.kernel(for: BLASBackend.cpuFeatures)
            #expect(status.kernel.lowercased() == expected?.lowercased(), "\(status)")
            #expect(status.warning == nil, "\(status)")
        case .environment:
            #expect(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] != nil)
        case .openBLAS, .alreadyLoaded, .notLoaded:
            Issue.record("unexpected kernel choice in the test process: \(status)")
        }
        #expect(BLASBackend.measureSGEMM(m: 64, n: 64, k: 64, seconds: 0.01) > 0)
    }

    @Test("the arithmetic limit uses the widest multiply-add the CPU and OS allow")
    func arithmeticPeak() {
        let f = BLASBackend.cpuFeatures
        let expected = f.avx512f && f.osAVX512 ? "AVX-512 FMA" : f.avx2 && f.fma && f.osAVX ? "AVX2 FMA" : "SSE multiply + add"
        let peak = BLASBackend.measurePeak(seconds: 0.01)
        #expect(peak.instructions == expected)
        #expect(peak.gflops.isFinite && peak.gflops > 0)
    }
}

@Suite("portable GEMM")
struct PortableGEMMTests {
    @Test("equals OpenBLAS for every transpose case, alpha, beta and odd sizes",
          arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matchesOpenBLAS(transA: Bool, transB: Bool) {
        var rng = SeededRandom(seed: 5)
        for (m, n, k) in [(1, 1, 1), (7, 13, 300), (33, 600, 5), (64, 65, 257)] {
            let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 2, ldc = n + 1
            let a = Tensor.randomNormal([(transA ? k : m) * lda], std: 1, using: &rng)
            let b = Tensor.randomNormal([(transB ? n : k) * ldb], std: 1, using: &rng)
            let c0 = Tensor.randomNormal([m * ldc], std: 1, using: &rng)
            let ours = c0.copy(), reference = c0.copy()
            ck_sgemm_portable(transA, transB, Int32(m), Int32(n), Int32(k), 0.75, a.data, Int32(lda), b.data, Int32(ldb),
                               0.5, ours.data, Int32(ldc))
            ck_sgemm(transA, transB, Int32(m), Int32(n), Int32(k), 0.75, a.data, Int32(lda), b.data, Int32(ldb),
                      0.5, reference.data, Int32(ldc))
            var worst: Float = 0
            for i in 0..<m { for j in 0..<n { worst = max(worst, abs(ours.data[i * ldc + j] - reference.data[i * ldc + j])) } }
            #expect(worst < 1e-4 * Float(k).squareRoot(), "\(m)x\(n)x\(k): \(worst)")
            // Padding columns beyond n are never written.
            for i in 0..<m where ldc > n { #expect(ours.data[i * ldc + n] == c0.data[i * ldc + n]) }
        }
    }

    @Test("k == 0 scales C by beta, and beta == 0 overwrites NaN")
    func degenerate() {
        let c = Tensor([1, .nan, 3, 4], shape: [4])
        let a = Tensor([2], shape: [1])
        ck_sgemm_portable(false, false, 2, 2, 0, 1, a.data, 1, a.data, 2, 2, c.data, 2)
        #expect(c.data[0] == 2 && c.data[2] == 6 && c.data[3] == 8)
        ck_sgemm_portable(false, false, 2, 2, 0, 1, a.data, 1, a.data, 2, 0, c.data, 2)
        #expect(c.array == [0, 0, 0, 0])
    }
}

@Suite("GEMM with a bias")
struct BiasGEMMTests {
    // The reference is ck_sgemm on the same shape: OpenBLAS's rounding depends on how a
    // product is split, so the split must be the same for the results to be equal bit for bit.
    @Test("bias + product equals writing the bias first and accumulating with beta 1, bit for bit",
          arguments: [(64, 256, 160), (256, 64, 160), (5, 7, 3), (100, 33, 700)])
    func matchesBetaOne(m: Int, n: Int, k: Int) {
        var rng = SeededRandom(seed: 9)
        let ldc = n + 3
        let a = Tensor.randomNormal([m * k], std: 1, using: &rng)
        let w = Tensor.randomNormal([n * k], std: 1, using: &rng)
        let bias = Tensor.randomNormal([n], std: 1, using: &rng)
        let fused = Tensor(zeros: [m * ldc]), reference = Tensor(zeros: [m * ldc]), plain = Tensor(zeros: [m * ldc])
        for i in 0..<m { (fused.data + i * ldc + n).update(repeating: 7, count: 3) }
        for i in 0..<m { (reference.data + i * ldc).update(from: bias.data, count: n) }
        ck_sgemm_bias(false, true, Int32(m), Int32(n), Int32(k), a.data, Int32(k), w.data, Int32(k), bias.data,
                      fused.data, Int32(ldc))
        ck_sgemm(false, true, Int32(m), Int32(n), Int32(k), 1, a.data, Int32(k), w.data, Int32(k), 1,
                 reference.data, Int32(ldc))
        for i in 0..<m {
            for j in 0..<n { #expect(fused.data[i * ldc + j] == reference.data[i * ldc + j], "(\(i), \(j))") }
            // Padding columns beyond n are never written.
            for j in n..<ldc { #expect(fused.data[i * ldc + j] == 7) }
        }
        // Without a bias: C = A W^T, whatever C held.
        plain.data.update(repeating: .nan, count: m * ldc)
        ck_sgemm_bias(false, true, Int32(m), Int32(n), Int32(k), a.data, Int32(k), w.data, Int32(k), nil,
                      plain.data, Int32(ldc))
        ck_sgemm(false, true, Int32(m), Int32(n), Int32(k), 1, a.data, Int32(k), w.data, Int32(k), 0,
                 reference.data, Int32(ldc))
        for i in 0..<m { for j in 0..<n { #expect(plain.data[i * ldc + j] == reference.data[i * ldc + j]) } }
    }
}
