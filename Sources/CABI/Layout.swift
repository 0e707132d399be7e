import Foundation

/// The C layout of a struct in include/cleanclip.h. Swift cannot see the header, so each
/// struct is read and written through raw pointers at these offsets; bindings compare their
/// mirrors against them (`cleanclip_struct_layout`), and the C test compares them with
/// `offsetof` computed by the C compiler.
struct CLayout {
    struct Field {
        let name: StaticString
        let offset: Int
        let size: Int
    }
    let name: String
    let size: Int
    let fields: [Field]

    func field(_ name: String) -> Field {
        // Names below are literals of this file; a miss is a typo caught by the tests.
        fields.first { "\($0.name)" == name }!
    }

    /// Checks the caller's `struct_size` (the first field) and returns it: at least the
    /// `struct_size` field itself, at most what this library knows.
    func callerSize(_ p: UnsafeRawPointer, _ argument: String) throws -> Int {
        try check(size: p.loadUnaligned(as: Int.self), argument)
    }

    /// Checks a struct size given by the caller (see `callerSize`) and returns it.
    func check(size: Int, _ argument: String) throws -> Int {
        guard size >= MemoryLayout<Int>.size else {
            throw BoundaryError(.invalidArgument, "\(argument)->struct_size is \(UInt(bitPattern: size)); set it to sizeof(\(name))")
        }
        guard size <= self.size else {
            throw BoundaryError(.invalidArgument,
                                "\(argument)->struct_size is \(size) but this library's \(name) has \(self.size) bytes: the header is newer than libcleanclip (version \(Version.string))")
        }
        return size
    }

    static let modelOptions = CLayout(name: "cleanclip_model_options", size: 16, fields: [
        Field(name: "struct_size", offset: 0, size: 8),
        Field(name: "activation", offset: 8, size: 4),
        Field(name: "num_threads", offset: 12, size: 4),
    ])

    static let modelInfo = CLayout(name: "cleanclip_model_info", size: 96, fields: [
        Field(name: "struct_size", offset: 0, size: 8),
        Field(name: "architecture", offset: 8, size: 64),
        Field(name: "embed_dim", offset: 72, size: 4),
        Field(name: "image_size", offset: 76, size: 4),
        Field(name: "context_length", offset: 80, size: 4),
        Field(name: "vocab_size", offset: 84, size: 4),
        Field(name: "logit_scale", offset: 88, size: 4),
        Field(name: "temperature", offset: 92, size: 4),
    ])

    /// Passed to progress callbacks (written by the library; `struct_size` tells the caller
    /// which fields exist).
    static let progress = CLayout(name: "cleanclip_progress", size: 88, fields: [
        Field(name: "struct_size", offset: 0, size: 8),
        Field(name: "phase", offset: 8, size: 8),
        Field(name: "done", offset: 16, size: 8),
        Field(name: "total", offset: 24, size: 8),
        Field(name: "epoch", offset: 32, size: 4),
        Field(name: "epochs", offset: 36, size: 4),
        Field(name: "batch", offset: 40, size: 4),
        Field(name: "batches_per_epoch", offset: 44, size: 4),
        Field(name: "loss", offset: 48, size: 4),
        Field(name: "clip_loss", offset: 52, size: 4),
        Field(name: "inmodal_loss", offset: 56, size: 4),
        Field(name: "lr", offset: 60, size: 4),
        Field(name: "seconds", offset: 64, size: 8),
        Field(name: "eta_seconds", offset: 72, size: 8),
        Field(name: "pairs_per_second", offset: 80, size: 8),
    ])

    static let finetuneOptions = CLayout(name: "cleanclip_finetune_options", size: 72, fields: [
        Field(name: "struct_size", offset: 0, size: 8),
        Field(name: "inmodal", offset: 8, size: 4),
        Field(name: "batch_size", offset: 12, size: 4),
        Field(name: "epochs", offset: 16, size: 4),
        Field(name: "warmup_steps", offset: 20, size: 4),
        Field(name: "clip_weight", offset: 24, size: 4),
        Field(name: "inmodal_weight", offset: 28, size: 4),
        Field(name: "lr", offset: 32, size: 4),
        Field(name: "weight_decay", offset: 36, size: 4),
        Field(name: "beta1", offset: 40, size: 4),
        Field(name: "beta2", offset: 44, size: 4),
        Field(name: "eps", offset: 48, size: 4),
        Field(name: "max_grad_norm", offset: 52, size: 4),
        Field(name: "seed", offset: 56, size: 8),
        Field(name: "wordnet_dir", offset: 64, size: 8),
    ])

    static let evaluateOptions = CLayout(name: "cleanclip_evaluate_options", size: 88, fields: [
        Field(name: "struct_size", offset: 0, size: 8),
        Field(name: "classes", offset: 8, size: 8),
        Field(name: "classes_file", offset: 16, size: 8),
        Field(name: "templates_file", offset: 24, size: 8),
        Field(name: "trigger", offset: 32, size: 8),
        Field(name: "target", offset: 40, size: 8),
        Field(name: "location", offset: 48, size: 8),
        Field(name: "patch_size", offset: 56, size: 4),
        Field(name: "batch_size", offset: 60, size: 4),
        Field(name: "seed", offset: 64, size: 8),
        Field(name: "image_column", offset: 72, size: 8),
        Field(name: "label_column", offset: 80, size: 8),
    ])

    static let poisonOptions = CLayout(name: "cleanclip_poison_options", size: 72, fields: [
        Field(name: "struct_size", offset: 0, size: 8),
        Field(name: "trigger", offset: 8, size: 8),
        Field(name: "location", offset: 16, size: 8),
        Field(name: "patch_size", offset: 24, size: 4),
        Field(name: "label_consistent", offset: 28, size: 4),
        Field(name: "seed", offset: 32, size: 8),
        Field(name: "size_train_data", offset: 40, size: 8),
        Field(name: "image_column", offset: 48, size: 8),
        Field(name: "caption_column", offset: 56, size: 8),
        Field(name: "output_name", offset: 64, size: 8),
    ])

    static let scoreSamplesOptions = CLayout(name: "cleanclip_score_samples_options", size: 32, fields: [
        Field(name: "struct_size", offset: 0, size: 8),
        Field(name: "k", offset: 8, size: 4),
        Field(name: "batch_size", offset: 12, size: 4),
        Field(name: "image_column", offset: 16, size: 8),
        Field(name: "backdoor_column", offset: 24, size: 8),
    ])

    static let all = [modelOptions, modelInfo, progress, finetuneOptions, evaluateOptions, poisonOptions,
                      scoreSamplesOptions]
}

/// A struct the caller owns `size` bytes of: fields that lie beyond are skipped.
struct CStruct {
    let base: UnsafeMutableRawPointer
    let size: Int
    let layout: CLayout

    func has(_ field: String) -> Bool {
        let f = layout.field(field)
        return f.offset + f.size <= size
    }

    func read<T>(_ field: String, as: T.Type) -> T? {
        guard has(field) else { return nil }
        return base.loadUnaligned(fromByteOffset: layout.field(field).offset, as: T.self)
    }

    func write<T>(_ field: String, _ value: T) {
        guard has(field) else { return }
        let f = layout.field(field)
        assert(MemoryLayout<T>.size == f.size, "\(f.name): writing \(T.self)")
        guard MemoryLayout<T>.size == f.size else { return }  // a bug in this file; never write past the field
        base.storeBytes(of: value, toByteOffset: f.offset, as: T.self)
    }

    /// Writes `s` as a NUL-terminated string into a char array field, truncated at a UTF-8
    /// character boundary.
    func writeString(_ field: String, _ s: String) {
        guard has(field) else { return }
        let f = layout.field(field)
        var bytes = Array(s.utf8)
        if bytes.count > f.size - 1 {
            bytes = Array(bytes[..<(f.size - 1)])
            while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }  // continuation bytes
            if let last = bytes.last, last >= 0xC0 { bytes.removeLast() }  // a lead byte without its tail
        }
        let dst = base + f.offset
        memset(dst, 0, f.size)
        bytes.withUnsafeBytes { dst.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }
}

@_cdecl("cleanclip_struct_layout")
public func cleanclip_struct_layout(_ name: UnsafePointer<CChar>?, _ size: UnsafeMutablePointer<Int>?,
                                    _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let layout = try lookupLayout(name)
        try nonNull(size, "size").pointee = layout.size
        try nonNull(count, "n_fields").pointee = layout.fields.count
    }
}

@_cdecl("cleanclip_struct_field")
public func cleanclip_struct_field(_ name: UnsafePointer<CChar>?, _ index: Int,
                                   _ fieldName: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                   _ offset: UnsafeMutablePointer<Int>?, _ size: UnsafeMutablePointer<Int>?) -> Int32 {
    boundary {
        let layout = try lookupLayout(name)
        let fieldName = try nonNull(fieldName, "field_name")
        let offset = try nonNull(offset, "offset"), size = try nonNull(size, "size")
        guard index >= 0, index < layout.fields.count else {
            throw BoundaryError(.invalidArgument, "\(layout.name) has \(layout.fields.count) fields; index \(UInt(bitPattern: index)) is out of range")
        }
        let f = layout.fields[index]
        fieldName.pointee = UnsafeRawPointer(f.name.utf8Start).assumingMemoryBound(to: CChar.self)
        offset.pointee = f.offset
        size.pointee = f.size
    }
}

private func lookupLayout(_ name: UnsafePointer<CChar>?) throws -> CLayout {
    let n = try string(name, "struct_name")
    guard let layout = CLayout.all.first(where: { $0.name == n }) else {
        throw BoundaryError(.invalidArgument, "unknown struct '\(n)' (known: \(CLayout.all.map(\.name).joined(separator: ", ")))")
    }
    return layout
}
