import Foundation

/// Recycles tensor buffers. A forward pass allocates the same activation sizes layer after
/// layer, and a training step the same sizes step after step; reusing them avoids the page
/// faults and kernel zeroing of fresh allocations, which otherwise cost more than the
/// arithmetic of element-wise ops.
///
/// Idle memory hardly raises the peak: live + idle bytes stay within 1/32 (at least 128 MiB)
/// of the most live bytes there have ever been (the high-water mark), so when a fresh buffer
/// is needed near the peak (the end of a forward pass), idle buffers are given back to the
/// system first, largest first. Below the peak the pool may hold most of a step's buffers,
/// so that a training loop allocates little after its first step.
///
/// Sizes are rounded up to size classes a sixteenth of an octave apart (at most 6.25% more), so
/// that the similar but not identical sizes of successive steps (text batches trimmed to their
/// longest caption) share buffers. Kept by exact size instead, the small buffers of every
/// caption length piled up idle until they crowded out the big ones every step needs: the
/// demo's model then mapped 70 MB of fresh pages per step, a quarter of its time in the kernel.
///
/// Buffers of 256 KiB and more are mapped pages of their own: from malloc's heap, freed large
/// buffers can stay resident, scattered between live ones, and raise the peak well above what
/// is in use (of a mapping, only the pages a tensor writes become resident: 4 KiB ones, or 2 MiB
/// ones in mappings of 2 MiB and more, which ask for huge pages). A request may also take an idle
/// mapping of up to twice its class.
/// Idle buffers are never cut or grown to fit another size: that kept faulting pages in and
/// throwing them away step after step (the demo's model faulted 37 MB per step that way; it
/// now faults none after its first step).
///
/// `limitBytes` caps idle memory outright; `drain()` gives it all back (finetuning does so
/// when it returns).
public final class BufferPool: @unchecked Sendable {
    public static let shared = BufferPool()

    /// Idle memory kept for reuse, at most (on top of the high-water rule). Default: no cap.
    public var limitBytes = Int.max
    /// Idle heap buffers by size class in floats, and idle mappings by size class in pages.
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var freeMapped: [Int: [UnsafeMutableRawPointer]] = [:]
    /// The page count of every live mapping (it may hold more pages than its tensor needs).
    private var mappedPages: [UnsafeMutableRawPointer: Int] = [:]
    private var idleBytes = 0
    private var live = 0
    /// The most live bytes so far (never reset).
    private var highWater = 0
    private var peakLive = 0, peakTotal = 0, freshCount = 0, freshBytes = 0
    private let lock = NSLock()

    /// How far live + idle may go above the high-water mark: 1/32 of it, at least 128 MiB (so
    /// that a small model's training steps and evaluations between them, with their many
    /// buffer sizes, fit without giving buffers back and faulting fresh ones in every step).
    private var slack: Int { max(minimumSlack, highWater / 32) }
    private let minimumSlack: Int

    /// `minimumSlack`: the least idle memory allowed above the high-water mark (tests shrink it).
    package init(minimumSlack: Int = 128 << 20) {
        self.minimumSlack = minimumSlack
    }

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
        /// Buffers allocated from the system rather than reused, and the bytes of fresh pages
        /// (new buffers), so far.
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
    package func take(_ count: Int, zeroed: Bool) -> UnsafeMutablePointer<Float> {
        if count * 4 >= Self.mappedBytes { return takeMapped(count, zeroed: zeroed) }
        let floats = Self.sizeClass(max(count, 1)), bytes = floats * 4
        lock.lock()
        grow(by: bytes)
        if var list = free[floats], let p = list.popLast() {
            free[floats] = list.isEmpty ? nil : list
            idleBytes -= bytes
            lock.unlock()
            if zeroed { p.update(repeating: 0, count: count) }
            return p
        }
        let evicted = evictForGrowth()
        freshCount += 1
        freshBytes += bytes
        lock.unlock()
        release(evicted)
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("TensorCore: out of memory allocating \(bytes) bytes")
        }
        let p = raw.bindMemory(to: Float.self, capacity: floats)
        if zeroed { p.update(repeating: 0, count: count) }
        return p
    }

    /// A mapped buffer: the smallest idle one of its size class up to twice that, else fresh
    /// pages (which hold zeros).
    private func takeMapped(_ count: Int, zeroed: Bool) -> UnsafeMutablePointer<Float> {
        let pages = Self.sizeClass(Self.pages(count * 4))
        lock.lock()
        var taken: (pointer: UnsafeMutableRawPointer, pages: Int)?
        if let size = freeMapped.keys.filter({ $0 >= pages }).min(), size <= 2 * pages {
            taken = (popMapped(size), size)
        }
        let held = taken?.pages ?? pages
        grow(by: held * Self.pageSize)
        let evicted = evictForGrowth()
        if taken == nil {
            freshCount += 1
            freshBytes += pages * Self.pageSize
        }
        lock.unlock()
        release(evicted)
        let p: UnsafeMutableRawPointer
        if let taken {
            p = taken.pointer
            if zeroed { p.initializeMemory(as: Float.self, repeating: 0, count: count) }
        } else {
            guard let raw = mmap(nil, pages * Self.pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                  raw != MAP_FAILED else {
                fatalError("TensorCore: out of memory mapping \(pages * Self.pageSize) bytes")
            }
            Self.adviseHugePages(raw, bytes: pages * Self.pageSize)
            p = raw  // fresh pages hold zeros
        }
        lock.lock()
        mappedPages[p] = held
        lock.unlock()
        return p.bindMemory(to: Float.self, capacity: count)
    }

    package func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        lock.lock()
        if count * 4 >= Self.mappedBytes {
            let raw = UnsafeMutableRawPointer(p)
            let pages = mappedPages.removeValue(forKey: raw) ?? Self.sizeClass(Self.pages(count * 4)), bytes = pages * Self.pageSize
            live -= bytes
            guard idleBytes + bytes <= limitBytes else {
                lock.unlock()
                munmap(raw, bytes)
                return
            }
            freeMapped[pages, default: []].append(raw)
            idleBytes += bytes
            lock.unlock()
            return
        }
        let floats = Self.sizeClass(max(count, 1)), bytes = floats * 4
        live -= bytes
        guard bytes >= 4096 && idleBytes + bytes <= limitBytes else {
            lock.unlock()
            Foundation.free(p)
            return
        }
        free[floats, default: []].append(p)
        idleBytes += bytes
        lock.unlock()
    }

    /// Frees every idle buffer.
    public func drain() {
        lock.lock()
        let lists = free, mappedLists = freeMapped
        free = [:]
        freeMapped = [:]
        idleBytes = 0
        lock.unlock()
        for (_, list) in lists { for p in list { Foundation.free(p) } }
        for (pages, list) in mappedLists { for p in list { munmap(p, pages * Self.pageSize) } }
    }

    /// Under the lock: counts `bytes` more live memory.
    private func grow(by bytes: Int) {
        live += bytes
        highWater = max(highWater, live)
        peakLive = max(peakLive, live)
    }

    /// Under the lock: removes one idle mapping of `pages` pages.
    private func popMapped(_ pages: Int) -> UnsafeMutableRawPointer {
        var list = freeMapped[pages]!
        let p = list.removeLast()
        freeMapped[pages] = list.isEmpty ? nil : list
        idleBytes -= pages * Self.pageSize
        return p
    }

    /// A buffer given back to the system: a heap block, or a mapping of that many bytes.
    private enum Evicted {
        case heap(UnsafeMutablePointer<Float>)
        case mapping(UnsafeMutableRawPointer, bytes: Int)
    }

    /// Under the lock: idle buffers to give back so that live + idle (counting a buffer about
    /// to be allocated) stays within the slack above the high-water mark, largest first.
    private func evictForGrowth() -> [Evicted] {
        var evicted: [Evicted] = []
        while live + idleBytes > highWater + slack {
            let mapped = freeMapped.keys.max().map { $0 * Self.pageSize } ?? 0, heap = (free.keys.max() ?? 0) * 4
            if mapped == 0 && heap == 0 { break }
            if mapped >= heap {
                evicted.append(.mapping(popMapped(mapped / Self.pageSize), bytes: mapped))
            } else {
                let count = heap / 4
                var list = free[count]!
                evicted.append(.heap(list.removeLast()))
                free[count] = list.isEmpty ? nil : list
                idleBytes -= heap
            }
        }
        peakTotal = max(peakTotal, live + idleBytes)
        return evicted
    }

    private func release(_ evicted: [Evicted]) {
        for e in evicted {
            switch e {
            case .heap(let p): Foundation.free(p)
            case .mapping(let p, let bytes): munmap(p, bytes)
            }
        }
    }

    private static let pageSize = max(4096, sysconf(Int32(_SC_PAGESIZE)))

    /// Asks for transparent huge pages on a fresh mapping of at least 2 MiB. Debian's kernels
    /// give them only where asked (`enabled` = madvise), and 4 KiB pages cost one fault each on
    /// first touch: ViT-B/32's `bench --training --iterations 2` (set-up, a warm-up step, two
    /// timed steps; the first step touches AdamW's moments and every weight gradient) faulted
    /// 1.43 million times, with 14.1 of its 44 CPU seconds in the kernel under KVM. With huge
    /// pages: 210,000 faults and 10.3 s, at the same peak RSS. Where the kernel has no huge
    /// pages the advice fails and nothing changes.
    private static func adviseHugePages(_ p: UnsafeMutableRawPointer, bytes: Int) {
        guard bytes >= 2 << 20 else { return }
        _ = madvise(p, bytes, MADV_HUGEPAGE)
    }

    private static func pages(_ bytes: Int) -> Int { max(1, (bytes + pageSize - 1) / pageSize) }

    /// `units` rounded up to 16, 17, ..., 31 times a power of two (up to 32 they stay as they are).
    package static func sizeClass(_ units: Int) -> Int {
        guard units > 32 else { return units }
        let shift = (Int.bitWidth - units.leadingZeroBitCount) - 5  // keep the top 5 bits
        let top = (units + (1 << shift) - 1) >> shift
        return top << shift
    }
}
