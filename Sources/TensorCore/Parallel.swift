import CBLAS
import Foundation

/// How many cores the tensor core uses (BLAS and element-wise loops alike).
public enum Threads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current = ProcessInfo.processInfo.activeProcessorCount

    /// The most worker threads `count` takes (larger values are clamped to it).
    public static let maximum = 1024

    /// The number of worker threads, clamped to 1...maximum. Setting it also sets OpenBLAS's
    /// thread count. Process-wide; set it before starting work, not while other threads compute.
    public static var count: Int {
        get { lock.lock(); defer { lock.unlock() }; return current }
        set {
            let n = min(max(1, newValue), maximum)
            lock.lock(); current = n; lock.unlock()
            openblas_set_num_threads(Int32(n))
        }
    }
}

/// Runs `body` over `0..<n` split into contiguous chunks across the worker threads.
/// Work smaller than `grain` items runs inline on the calling thread. `body` must be safe to
/// run concurrently on disjoint ranges.
@inline(__always)
public func parallelFor(_ n: Int, grain: Int = 16_384, _ body: (Range<Int>) -> Void) {
    let workers = min(Threads.count, n / max(grain, 1))
    if workers <= 1 {
        body(0..<n)
        return
    }
    let chunk = (n + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let start = w * chunk
        let end = min(n, start + chunk)
        if start < end { body(start..<end) }
    }
}
