import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `Communicator` over MPI's world communicator, through the plugin `libcleanclip_mpi.so`
/// (`plugins/mpi/cleanclip_mpi.c`, built with mpicc by `scripts/build_mpi_plugin.sh`). The plugin
/// is loaded only here, so a process that is not an MPI rank never loads MPI, and the library
/// builds where MPI is not installed.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    /// The plugin file that was loaded.
    public let pluginPath: String

    private typealias Init = @convention(c) (UnsafeMutablePointer<CChar>?, Int) -> Int32
    private typealias IntFn = @convention(c) () -> Int32
    private typealias Gather = @convention(c) (UnsafePointer<Float>?, Int64, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<CChar>?, Int) -> Int32
    private typealias GatherV = @convention(c) (UnsafePointer<Float>?, Int64, UnsafeMutablePointer<Float>?, UnsafePointer<Int64>?,
                                                UnsafeMutablePointer<CChar>?, Int) -> Int32
    private typealias Reduce = @convention(c) (UnsafeMutablePointer<Float>?, Int64, UnsafeMutablePointer<CChar>?, Int) -> Int32
    private typealias Bcast = @convention(c) (UnsafeMutableRawPointer?, Int64, Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32
    private typealias Barrier = @convention(c) (UnsafeMutablePointer<CChar>?, Int) -> Int32
    private typealias Abort = @convention(c) (Int32) -> Void

    private let gather: Gather, gatherV: GatherV, reduce: Reduce, bcast: Bcast, barrierFn: Barrier
    private let abortFn: Abort, finalizeFn: IntFn
    private var finalized = false

    /// The plugin's file name.
    public static let pluginName = "libcleanclip_mpi.so"

    /// Where the plugin is looked for: `$CLEANCLIP_MPI_PLUGIN` alone when set; otherwise next to
    /// the binary that holds this library (the cleanclip executable, or libcleanclip.so in a C or
    /// Python host), then the dynamic loader's own search (LD_LIBRARY_PATH, ...).
    static func candidatePaths() -> [String] {
        if let explicit = ProcessInfo.processInfo.environment["CLEANCLIP_MPI_PLUGIN"], !explicit.isEmpty { return [explicit] }
        var paths: [String] = []
        var name = [CChar](repeating: 0, count: 4096)
        if ck_image_path(#dsohandle, &name, name.count) == 0 {
            let image = URL(fileURLWithPath: String(cString: name)).resolvingSymlinksInPath()
            paths.append(image.deletingLastPathComponent().appendingPathComponent(pluginName).path)
        }
        paths.append(pluginName)
        return paths
    }

    /// Loads the plugin and joins the job. `launcherSize`: the size the launcher announced (nil
    /// when it does not say), checked against MPI's.
    init(launcherSize: Int?) throws {
        var handle: UnsafeMutableRawPointer?, loaded = ""
        var tried: [String] = []
        for path in Self.candidatePaths() {
            if path.contains("/") && !FileManager.default.fileExists(atPath: path) { tried.append("\(path) (no such file)"); continue }
            // RTLD_GLOBAL: Open MPI's own components resolve libmpi's symbols through the global scope.
            if let h = dlopen(path, RTLD_NOW | RTLD_GLOBAL) { handle = h; loaded = path; break }
            tried.append("\(path) (\(dlerror().map { String(cString: $0) } ?? "not loadable"))")
        }
        pluginPath = loaded
        guard let handle else {
            throw CommunicatorError("started by an MPI launcher (\(launcherSize.map { "\($0) ranks" } ?? "size not stated")) but the "
                + "MPI plugin \(Self.pluginName) could not be loaded; tried: \(tried.joined(separator: "; ")). Build it with "
                + "scripts/build_mpi_plugin.sh (needs mpicc: apt-get install libopenmpi-dev openmpi-bin) or set CLEANCLIP_MPI_PLUGIN",
                kind: .notFound)
        }
        func symbol<T>(_ name: String, _: T.Type) throws -> T {
            guard let p = dlsym(handle, name) else {
                throw CommunicatorError("\(Self.pluginName): no symbol \(name) (a plugin from another cleanclip version?)", kind: .malformedFile)
            }
            return unsafeBitCast(p, to: T.self)
        }
        let version = try symbol("ccmpi_abi_version", IntFn.self)()
        guard version == 1 else { throw CommunicatorError("\(Self.pluginName): interface version \(version), expected 1", kind: .malformedFile) }
        let initFn = try symbol("ccmpi_init", Init.self)
        gather = try symbol("ccmpi_allgather_floats", Gather.self)
        gatherV = try symbol("ccmpi_allgatherv_floats", GatherV.self)
        reduce = try symbol("ccmpi_allreduce_sum_floats", Reduce.self)
        bcast = try symbol("ccmpi_bcast_bytes", Bcast.self)
        barrierFn = try symbol("ccmpi_barrier", Barrier.self)
        abortFn = try symbol("ccmpi_abort", Abort.self)
        finalizeFn = try symbol("ccmpi_finalize", IntFn.self)
        try Self.check { initFn($0, $1) }
        rank = Int(try symbol("ccmpi_rank", IntFn.self)())
        size = Int(try symbol("ccmpi_size", IntFn.self)())
        if let launcherSize, launcherSize != size {
            throw CommunicatorError("the launcher announced \(launcherSize) ranks but MPI has \(size): is the plugin built "
                + "against the MPI that launched this process?")
        }
    }

    /// Runs a plugin call with a message buffer and throws its message on failure.
    private static func check(_ call: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws {
        var buffer = [CChar](repeating: 0, count: 512)
        let rc = buffer.withUnsafeMutableBufferPointer { call($0.baseAddress!, $0.count) }
        guard rc == 0 else { throw CommunicatorError("MPI: " + String(cString: buffer)) }
    }

    public func allGather(_ local: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) throws {
        precondition(output.count == local.count * size, "allGather: \(output.count) floats for \(size) x \(local.count)")
        try Self.check { gather(local.baseAddress, Int64(local.count), output.baseAddress, $0, $1) }
    }

    public func allGather(_ local: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>) throws {
        precondition(counts.count == size && counts[rank] == local.count && output.count == counts.reduce(0, +),
                     "allGather: counts \(counts) for \(local.count) local floats into \(output.count)")
        let c = counts.map { Int64($0) }
        try Self.check { m, n in c.withUnsafeBufferPointer { gatherV(local.baseAddress, Int64(local.count), output.baseAddress, $0.baseAddress, m, n) } }
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try Self.check { reduce(buffer.baseAddress, Int64(buffer.count), $0, $1) }
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        try Self.check { bcast(bytes.baseAddress, Int64(bytes.count), Int32(root), $0, $1) }
    }

    public func barrier() throws { try Self.check { barrierFn($0, $1) } }

    public func abort(code: Int32) -> Never {
        abortFn(code)
        exit(code)
    }

    public func finalize() {
        guard !finalized else { return }
        finalized = true
        _ = finalizeFn()
    }
}
