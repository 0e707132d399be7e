import Foundation

/// Recycles tensor buffers. A forward pass allocates the same activation sizes layer after
/// layer, and a training step the same sizes step after step; reusing them avoids the page
/// faults and kernel zeroing of fresh allocations, which otherwise cost more than the
/// arithmetic of element-wise ops.
///
/// Idle memory hardly raises the peak: live + idle bytes stay within 1/16 (at least 256 MiB)
/// of the most live bytes there have ever been (the high-water mark), so when a fresh buffer
/// is needed near the peak (the end of a forward pass), idle buffers are given back to the
/// system first, largest first. Below the peak the pool may hold most of a step's buffers,
/// so that a training loop allocates little after its first step. A request with no idle
/// buffer of its size is cut from the smallest idle buffer up to twice its size (the surplus
/// pages go back to the system). Buffers of 256 KiB and more are mapped pages of their own,
/// returned to the system as soon as they are freed; from malloc's heap, freed large buffers
/// can stay resident, scattered between live ones, and raise the peak well above what is in
/// use.
///
/// `limitBytes` caps idle memory outright; `drain()` gives it all back (finetuning does so
/// when it returns).
public final class BufferPool: @unchecked Sendable {
    public static let shared = BufferPool()

    /// Idle memory kept for reuse, at most (on top of the high-water rule). Default: no cap.
    public var limitBytes = Int.max
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var idleBytes = 0
    private var live = 0
    /// The most live bytes so far (never reset).
    private var highWater = 0
    private var peakLive = 0, peakTotal = 0, freshCount = 0, freshBytes = 0
    private let lock = NSLock()

    /// How far live + idle may go above the high-water mark: 1/16 of it, at least 256 MiB (so
    /// that a small model's training steps and evaluations between them, with their many
    /// buffer sizes, fit without giving buffers back and faulting fresh ones in every step).
    private var slack: Int { max(256 << 20, highWater / 16) }

    /// Buffers of at least this many bytes are mapped pages of their own.
    static let mappedBytes = 256 << 10

    /// Bytes of tensor memory at one moment, the highest figures since `resetPeaks()`, and
    /// how much was allocated from the system.
    public struct Statistics: Sendable {
        /// Held by tensors (owned storage only: borrowed memory, such as a memory-mapped
        /// checkpoint, is not counted).
        public var liveBytes: Int
        /// Kept for reuse.
        public var idleBytes: Int
        public var peakLiveBytes: Int
        /// The highest live + idle: the pool's share of resident memory at its peak.
        public var peakTotalBytes: Int
        /// Buffers allocated from the system rather than reused, and their bytes, so far.
        public var freshAllocations: Int
        public var freshBytes: Int
    }

    public var statistics: Statistics {
        lock.lock(); defer { lock.unlock() }
        return Statistics(liveBytes: live, idleBytes: idleBytes, peakLiveBytes: peakLive, peakTotalBytes: peakTotal,
                          freshAllocations: freshCount, freshBytes: freshBytes)
    }

    /// Starts the peaks of `statistics` again from the current figures.
    public func resetPeaks() {
        lock.lock(); defer { lock.unlock() }
        peakLive = live
        peakTotal = live + idleBytes
    }

    /// A buffer of `count` floats, all zero when `zeroed` (else unspecified).
    func take(_ count: Int, zeroed: Bool) -> UnsafeMutablePointer<Float> {
        let bytes = count * 4
        lock.lock()
        live += bytes
        highWater = max(highWater, live)
        peakLive = max(peakLive, live)
        if var list = free[count], let p = list.popLast() {
            free[count] = list.isEmpty ? nil : list
            idleBytes -= bytes
            lock.unlock()
            if zeroed { p.update(repeating: 0, count: count) }
            return p
        }
        if bytes >= Self.mappedBytes,
           let size = free.keys.filter({ $0 > count && $0 <= 2 * count }).min(),
           var list = free[size], let p = list.popLast() {
            free[size] = list.isEmpty ? nil : list
            idleBytes -= size * 4
            lock.unlock()
            let keep = Self.pageRounded(bytes), had = Self.pageRounded(size * 4)
            if had > keep { munmap(UnsafeMutableRawPointer(p) + keep, had - keep) }
            if zeroed { p.update(repeating: 0, count: count) }
            return p
        }
        var evicted: [(UnsafeMutablePointer<Float>, Int)] = []
        while live + idleBytes > highWater + slack, let size = free.keys.max(), var list = free[size], let p = list.popLast() {
            free[size] = list.isEmpty ? nil : list
            idleBytes -= size * 4
            evicted.append((p, size))
        }
        peakTotal = max(peakTotal, live + idleBytes)
        freshCount += 1
        freshBytes += bytes
        lock.unlock()
        for (p, size) in evicted { Self.release(p, size) }
        let (p, isZero) = Self.allocate(count)
        if zeroed && !isZero { p.update(repeating: 0, count: count) }
        return p
    }

    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        let bytes = count * 4
        lock.lock()
        live -= bytes
        if bytes >= 4096 && idleBytes + bytes <= limitBytes {
            free[count, default: []].append(p)
            idleBytes += bytes
            lock.unlock()
            return
        }
        lock.unlock()
        Self.release(p, count)
    }

    /// Frees every idle buffer.
    public func drain() {
        lock.lock()
        let lists = free
        free = [:]
        idleBytes = 0
        lock.unlock()
        for (count, list) in lists { for p in list { Self.release(p, count) } }
    }

    /// A fresh buffer, 64-byte aligned, and whether it is known to hold zeros (fresh pages do).
    private static func allocate(_ count: Int) -> (UnsafeMutablePointer<Float>, Bool) {
        let size = max(count, 1) * MemoryLayout<Float>.stride
        if size >= mappedBytes {
            guard let raw = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED else {
                fatalError("TensorCore: out of memory mapping \(size) bytes")
            }
            return (raw.bindMemory(to: Float.self, capacity: count), true)
        }
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, size) == 0, let raw else {
            fatalError("TensorCore: out of memory allocating \(size) bytes")
        }
        return (raw.bindMemory(to: Float.self, capacity: max(count, 1)), false)
    }

    private static let pageSize = max(4096, sysconf(Int32(_SC_PAGESIZE)))

    private static func pageRounded(_ bytes: Int) -> Int { (bytes + pageSize - 1) / pageSize * pageSize }

    private static func release(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        let size = max(count, 1) * MemoryLayout<Float>.stride
        if size >= mappedBytes { munmap(p, size) } else { Foundation.free(p) }
    }
}
