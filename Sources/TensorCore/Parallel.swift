import CKernels
import Foundation

/// How many cores the tensor core uses: the worker pool that runs parallel loops and splits
/// matrix products (OpenBLAS itself runs single-threaded; see CKernels/include/ck_pool.h).
public enum Threads {
    /// The most threads `count` takes (larger values are clamped to it).
    public static let maximum = 1024

    /// The number of threads, the calling one included (default: the cores this process may
    /// run on), clamped to 1...maximum. Process-wide; set it before starting work, not while
    /// other threads compute.
    public static var count: Int {
        get { Int(ck_threads()) }
        set { ck_set_threads(Int32(min(max(1, newValue), maximum))) }
    }
}

/// Runs `body` over `0..<n` split into contiguous chunks across the worker threads.
/// Work smaller than `grain` items runs inline on the calling thread. `body` must be safe to
/// run concurrently on disjoint ranges.
@inline(__always)
package func parallelFor(_ n: Int, grain: Int = 16_384, _ body: (Range<Int>) -> Void) {
    let workers = min(Threads.count, n / max(grain, 1))
    if workers <= 1 {
        body(0..<n)
        return
    }
    let chunk = (n + workers - 1) / workers
    withoutActuallyEscaping(body) { body in
        var job = ParallelJob(body: body, n: n, chunk: chunk)
        withUnsafeMutablePointer(to: &job) { p in
            ck_pool_run(workers, { context, task in
                let job = context!.assumingMemoryBound(to: ParallelJob.self).pointee
                let start = task * job.chunk
                let end = min(job.n, start + job.chunk)
                if start < end { job.body(start..<end) }
            }, p)
        }
    }
}

private struct ParallelJob {
    let body: (Range<Int>) -> Void
    let n: Int
    let chunk: Int
}
