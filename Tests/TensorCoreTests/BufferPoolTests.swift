import Foundation
import Testing
import TensorCore

/// The pool's reuse rules, on pools of their own (not the shared one the other tests use).
@Suite struct BufferPoolTests {
    /// Takes buffers of the given sizes (bytes) at once, then gives them all back.
    func cycle(_ pool: BufferPool, _ sizes: [Int]) {
        let taken = sizes.map { (pool.take($0 / 4, zeroed: false), $0 / 4) }
        for (p, n) in taken { pool.give(p, n) }
    }

    @Test func similarSizesShareASizeClass() {
        #expect(BufferPool.sizeClass(32) == 32 && BufferPool.sizeClass(33) == 34 && BufferPool.sizeClass(1025) == 1088)
        #expect(BufferPool.sizeClass(3000) == 3072 && BufferPool.sizeClass(2990) == 3072)
        let pool = BufferPool()
        cycle(pool, [12_000])
        let fresh = pool.statistics.freshAllocations
        cycle(pool, [11_960])  // 2990 floats: the class of 3000
        #expect(pool.statistics.freshAllocations == fresh)
        let p = pool.take(2990, zeroed: true)  // a reused buffer comes back zeroed when asked
        #expect((0..<2990).allSatisfy { p[$0] == 0 })
        pool.give(p, 2990)
    }

    /// A training loop whose text batches vary in length from step to step: after the first
    /// steps, requests are served from idle buffers (a size class first seen late aside). Kept by exact size, the buffers of each
    /// caption length piled up until the big ones were given back and mapped afresh every step
    /// (the demo's model mapped 70 MB of fresh pages per step that way).
    @Test func aSteadyTrainingLoopAllocatesNothingNew() {
        let mib = 1 << 20
        let pool = BufferPool(minimumSlack: 24 * mib)
        var rng = SeededRandom(seed: 7)
        func step() {
            // Activations of a text batch, with its longest caption and a number of tokens that
            // vary from step to step (all below 256 KiB: heap buffers).
            let length = 5 + Int(rng.next() % 10)
            let small = (0..<12).map { _ in 64 * 64 * 3 * length + 4 * Int(rng.next() % 64) }
            cycle(pool, Array(repeating: 3 * mib, count: 6) + small)
        }
        for _ in 0..<100 { step() }
        let fresh = pool.statistics.freshBytes
        for _ in 0..<200 { step() }
        // Measured: 0.4 MB over these 200 steps (about 4 GB asked for); by exact size, 208 MB.
        #expect(pool.statistics.freshBytes - fresh < 4 * mib)
    }

    /// Big buffers are mapped with transparent huge pages asked for: where the kernel gives them
    /// only on request (`enabled` = madvise, Debian's default), the mapping is eligible only if
    /// the pool asked. Read back from /proc/self/smaps.
    @Test func bigBuffersAskForHugePages() throws {
        let mode = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? "[never]"
        let pool = BufferPool()
        let count = 8 << 18  // 8 MiB
        let p = pool.take(count, zeroed: false)
        defer { pool.give(p, count) }
        p.update(repeating: 1, count: count)
        let address = UInt(bitPattern: p)
        var eligible: Bool?
        var inside = false
        // procfs files report size 0: read to the end rather than by size.
        let smaps = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps")).readToEnd() ?? Data()
        for line in String(decoding: smaps, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= address && address < bounds[1]
            } else if inside, fields.first == "THPeligible:" {
                eligible = fields.last == "1"
            }
        }
        #expect(eligible != nil, "the buffer's mapping is in /proc/self/smaps")
        if !mode.contains("[never]") { #expect(eligible == true, "THP mode \(mode)") }
    }
}
