import Foundation

/// The ranks of a data-parallel job and the few collectives it needs. A process started by
/// itself is `SingleProcess` (rank 0 of 1, every collective a no-op or a copy); a process
/// started by an MPI launcher gets `MPICommunicator` from `Communicators.world()`.
///
/// Every rank calls the same collectives in the same order with the same counts. Calls come from
/// one thread at a time.
public protocol Communicator: AnyObject {
    /// This process's rank, 0..<size.
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }
    /// `output[size * local.count]` = every rank's `local`, in rank order.
    func allGather(_ local: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) throws
    /// Every rank's `local` (rank r gives `counts[r]` floats), concatenated in rank order.
    func allGather(_ local: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>) throws
    /// `buffer[i]` = the sum over ranks of `buffer[i]`, in place.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// `bytes` of rank `root` copied to every rank.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Returns once every rank has called it.
    func barrier() throws
    /// Ends every rank of the job with `code` (after an error on this rank; the others would
    /// otherwise wait in their next collective forever). Does not return.
    func abort(code: Int32) -> Never
    /// Ends the job's communication (once, after the last collective, on every rank).
    func finalize()
}

extension Communicator {
    /// Rank 0, the one that writes files and prints.
    public var isRoot: Bool { rank == 0 }

    /// Every rank's `local` (any length per rank), concatenated in rank order.
    public func allGather(_ local: [Float]) throws -> [Float] {
        // Each count as two digits in base 2^20, each summed exactly in float (below 2^24).
        let base = 1 << 20
        var digits = [Float](repeating: 0, count: 2 * size)
        (digits[2 * rank], digits[2 * rank + 1]) = (Float(local.count / base), Float(local.count % base))
        try digits.withUnsafeMutableBufferPointer { try allReduceSum($0) }
        let n = (0..<size).map { Int(digits[2 * $0]) * base + Int(digits[2 * $0 + 1]) }
        var out = [Float](repeating: 0, count: n.reduce(0, +))
        try local.withUnsafeBufferPointer { l in
            try out.withUnsafeMutableBufferPointer { try allGather(l, counts: n, into: $0) }
        }
        return out
    }
}

/// The process alone: rank 0 of 1.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allGather(_ local: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) throws {
        _ = output.initialize(from: local)
    }
    public func allGather(_ local: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>) throws {
        _ = output.initialize(from: local)
    }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {}
    public func barrier() throws {}
    public func abort(code: Int32) -> Never { exit(code) }
    public func finalize() {}
}

/// An error of the job's communication: the plugin missing or not loadable, or a collective that failed.
public struct CommunicatorError: KindedError, Sendable {
    public let description: String
    public let errorKind: ErrorKind
    public init(_ description: String, kind: ErrorKind = .io) {
        self.description = description
        self.errorKind = kind
    }
}

public enum Communicators {
    /// The launcher variables that mark a process as one rank of an MPI job, with the one that
    /// holds the job's size where there is one: Open MPI's mpirun, then PMI (Slurm's srun,
    /// MPICH's Hydra), then PMIx.
    static let launcherSizeVariables = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"]
    static let launcherMarkers = ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"]

    /// The job's size as the launcher states it: nil when the process was not started by an MPI
    /// launcher (or the launcher does not say, then MPI itself is asked).
    package static func launchedSize(_ env: [String: String]) -> Int?? {
        let launched = (launcherSizeVariables + launcherMarkers).contains { env[$0] != nil }
        guard launched else { return nil }
        return .some(launcherSizeVariables.lazy.compactMap { env[$0].flatMap { Int($0) } }.first)
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var shared: Communicator?

    /// The communicator `world()` made, nil before its first call (so a command that never asked
    /// for one has nothing to finalize or abort).
    public static var made: Communicator? {
        lock.lock()
        defer { lock.unlock() }
        return shared
    }

    /// This process's communicator, made once: `SingleProcess` unless the process was started by
    /// an MPI launcher for more than one rank, then an `MPICommunicator` over the plugin
    /// (`MPICommunicator.pluginPath`). Throws when started under a launcher and the plugin
    /// cannot be found or loaded, rather than running N copies of a single-process job.
    public static func world() throws -> Communicator {
        lock.lock()
        defer { lock.unlock() }
        if let shared { return shared }
        let made: Communicator
        switch launchedSize(ProcessInfo.processInfo.environment) {
        case nil, .some(.some(1)): made = SingleProcess()
        case .some(let size): made = try MPICommunicator(launcherSize: size)
        }
        shared = made
        return made
    }
}
