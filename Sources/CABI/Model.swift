import CleanCLIP
import Foundation

/// What a `cleanclip_model *` points to: a retained box around the Swift model.
final class ModelHandle {
    let model: CLIPModel
    init(_ model: CLIPModel) { self.model = model }

    /// Set while cleanclip_finetune updates this model's weights (one run per handle at a time).
    private let lock = NSLock()
    private var finetuning = false

    /// Runs `body` as the only finetuning run of this handle; fails when another one is running.
    func exclusiveFinetune<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        guard !finetuning else {
            lock.unlock()
            throw BoundaryError(.invalidArgument, "this model is already being finetuned by another call")
        }
        finetuning = true
        lock.unlock()
        defer { lock.lock(); finetuning = false; lock.unlock() }
        return try body()
    }

    var opaque: OpaquePointer { OpaquePointer(Unmanaged.passRetained(self).toOpaque()) }

    /// The box behind a handle the caller passed in (not retained: valid for the call).
    static func from(_ p: OpaquePointer?, _ name: String = "model") throws -> ModelHandle {
        let p = try nonNull(p, name)
        return Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }
}

@_cdecl("cleanclip_model_default_options")
public func cleanclip_model_default_options(_ options: UnsafeMutableRawPointer?, _ structSize: Int) -> Int32 {
    boundary {
        try fillDefaults(options, structSize, CModelOptions.self) { _ in }  // every default is 0
    }
}

/// Reads `cleanclip_model_options`, using defaults for fields an older header did not have.
private func loadOptions(_ p: UnsafeRawPointer?) throws -> (CLIPLoadOptions, threads: Int?) {
    guard let p else { return (CLIPLoadOptions(), nil) }
    let size = try CModelOptions.layout.callerSize(p, "options")
    let s = CStruct<CModelOptions>(base: UnsafeMutableRawPointer(mutating: p), size: size)
    var options = CLIPLoadOptions()
    switch s.read(\.activation) ?? 0 {
    case 0: break
    case 1: options.activation = .quickGELU
    case 2: options.activation = .gelu
    case let a: throw BoundaryError(.invalidArgument, "options->activation is \(a); use a cleanclip_activation value (0, 1 or 2)")
    }
    let threads = Int(s.read(\.num_threads) ?? 0)
    guard threads >= 0, threads <= Threads.maximum else {
        throw BoundaryError(.invalidArgument, "options->num_threads is \(threads); use 0 (keep) or a count up to \(Threads.maximum)")
    }
    return (options, threads > 0 ? threads : nil)
}

@_cdecl("cleanclip_model_load")
public func cleanclip_model_load(_ path: UnsafePointer<CChar>?, _ options: UnsafeRawPointer?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    boundary {
        let out = try nonNull(out, "out")
        out.pointee = nil
        let path = try string(path, "path")
        guard !path.isEmpty else { throw BoundaryError(.invalidArgument, "path is empty") }
        let (opts, threads) = try loadOptions(options)
        guard FileManager.default.fileExists(atPath: path) else {
            throw BoundaryError(.ioErrorNotFound, "\(path): no such file or directory")
        }
        if let threads { Threads.count = threads }
        let model = try CLIPModel.load(path: path, options: opts)
        out.pointee = ModelHandle(model).opaque
    }
}

@_cdecl("cleanclip_model_free")
public func cleanclip_model_free(_ model: OpaquePointer?) {
    guard let model else { return }
    Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(model)).release()
}

@_cdecl("cleanclip_model_get_info")
public func cleanclip_model_get_info(_ model: OpaquePointer?, _ info: UnsafeMutableRawPointer?) -> Int32 {
    boundary {
        let m = try ModelHandle.from(model).model
        let p = try nonNull(info, "info")
        let size = try CModelInfo.layout.callerSize(UnsafeRawPointer(p), "info")
        let s = CStruct<CModelInfo>(base: p, size: size)
        let c = m.config
        s.writeString(\.architecture, c.architecture)
        s.write(\.embed_dim, Int32(clamping: c.embedDim))
        s.write(\.image_size, Int32(clamping: c.imageResolution))
        s.write(\.context_length, Int32(clamping: c.contextLength))
        s.write(\.vocab_size, Int32(clamping: c.vocabSize))
        s.write(\.logit_scale, m.logitScale.count == 1 ? m.logitScale.data[0] : Float.nan)
        s.write(\.temperature, m.logitScale.count == 1 ? m.temperature : Float.nan)
        s.write(\.activation, c.activation == .gelu ? 2 : 1)
        s.write(\.activation_assumed, m.activationAssumed ? 1 : 0)
    }
}

@_cdecl("cleanclip_model_save")
public func cleanclip_model_save(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?, _ format: Int32, _ dtype: Int32) -> Int32 {
    boundary {
        let m = try ModelHandle.from(model).model
        let path = try string(path, "path")
        guard !path.isEmpty else { throw BoundaryError(.invalidArgument, "path is empty") }
        let formats: [Int32: ModelFormat?] = [0: nil, 1: .safetensors, 2: .cleanclipPT, 3: .hf]
        guard let chosen = formats[format] else {
            throw BoundaryError(.invalidArgument, "format is \(format); use a cleanclip_save_format value (0 to 3)")
        }
        let dtypes: [Int32: DType] = [0: .f32, 1: .f16]
        guard let dt = dtypes[dtype] else {
            throw BoundaryError(.invalidArgument, "dtype is \(dtype); use a cleanclip_save_dtype value (0 or 1)")
        }
        try m.export(to: path, format: chosen, dtype: dt)
    }
}
