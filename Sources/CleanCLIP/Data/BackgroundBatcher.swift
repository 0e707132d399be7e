import Foundation

/// Produces batches on a background thread ahead of the consumer, keeping at most `capacity`
/// finished batches queued (so memory stays bounded while the model trains on the current one).
///
/// `make` receives a batch's indices and a function telling whether `close()` was called (to
/// skip the rest of the work). The first error a batch raises is queued in its place and ends production; the consumer
/// receives it from `next()`. `close()` stops production and waits for the thread to finish.
final class BackgroundBatcher<Batch>: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Result<Batch, Error>] = []
    private var finished = false
    private var cancelled = false
    private let capacity: Int

    /// Whether `close()` was called (batch makers check it to skip remaining work).
    var isCancelled: Bool { condition.lock(); defer { condition.unlock() }; return cancelled }

    init(batches: [[Int]], capacity: Int, make: @escaping @Sendable (_ indices: [Int], _ isCancelled: () -> Bool) throws -> Batch) {
        self.capacity = max(1, capacity)
        let thread = Thread { [self] in self.produce(batches, make) }
        thread.name = "CleanCLIP batch loader"
        thread.start()
    }

    private func produce(_ batches: [[Int]], _ make: ([Int], () -> Bool) throws -> Batch) {
        for indices in batches {
            condition.lock()
            while queue.count >= capacity && !cancelled { condition.wait() }
            let stop = cancelled
            condition.unlock()
            if stop { break }
            let result = Result { try make(indices, { self.isCancelled }) }
            condition.lock()
            if !cancelled { queue.append(result) }
            condition.broadcast()
            condition.unlock()
            if case .failure = result { break }
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch, waiting for it if needed; nil after the last one (or after an error was delivered).
    func next() throws -> Batch? {
        condition.lock()
        while queue.isEmpty && !finished { condition.wait() }
        guard !queue.isEmpty else { condition.unlock(); return nil }
        let result = queue.removeFirst()
        condition.broadcast()
        condition.unlock()
        return try result.get()
    }

    /// Stops production, drops queued batches and waits until the background thread is done.
    func close() {
        condition.lock()
        cancelled = true
        queue.removeAll()
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}

/// Runs `body(i)` for `0..<count` on all cores and rethrows the error of the lowest failing index.
func parallelFor(_ count: Int, _ body: (Int) throws -> Void) throws {
    let lock = NSLock()
    var firstError: (Int, Error)?
    DispatchQueue.concurrentPerform(iterations: count) { i in
        do { try body(i) } catch {
            lock.lock()
            if firstError == nil || i < firstError!.0 { firstError = (i, error) }
            lock.unlock()
        }
    }
    if let (_, error) = firstError { throw error }
}
