import CleanCLIP
import Foundation

/// The BLAS section of include/cleanclip.h: which kernel runs the matrix products, and how fast.

@_cdecl("cleanclip_blas_kernel")
public func cleanclip_blas_kernel() -> UnsafePointer<CChar> { BLASStrings.kernel }

@_cdecl("cleanclip_blas_description")
public func cleanclip_blas_description() -> UnsafePointer<CChar> { BLASStrings.description }

@_cdecl("cleanclip_blas_measure_gflops")
public func cleanclip_blas_measure_gflops(_ seconds: Double, _ gflops: UnsafeMutablePointer<Double>?) -> Int32 {
    boundary {
        let out = try nonNull(gflops, "gflops")
        guard seconds.isFinite, seconds > 0, seconds <= 60 else {
            throw BoundaryError(.invalidArgument, "seconds \(seconds) must be in (0, 60]")
        }
        out.pointee = BLASBackend.measureSGEMM(seconds: seconds)
    }
}

/// The status never changes once OpenBLAS is loaded, so its strings are made once and live as
/// long as the process (the header promises static strings).
private enum BLASStrings {
    static let kernel: UnsafePointer<CChar> = UnsafePointer(strdup(BLASBackend.status.kernel)!)
    static let description: UnsafePointer<CChar> = UnsafePointer(strdup(BLASBackend.status.description)!)
}
