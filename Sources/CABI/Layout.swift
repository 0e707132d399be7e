import Foundation

/// The C layout of a struct in include/cleanclip.h, as `cleanclip_struct_layout` and
/// `cleanclip_struct_field` report it to bindings. Swift cannot see the header, so
/// scripts/gen_layouts.py computes every layout from it (Layout+Generated.swift, with one
/// `CStructLayout` type per struct); the C test compares them with `offsetof`.
struct CLayout {
    struct Field {
        let name: StaticString
        let offset: Int
        let size: Int
    }
    let name: String
    let size: Int
    let fields: [Field]

    /// Checks the caller's `struct_size` (the first field) and returns it: at least the
    /// `struct_size` field itself, at most what this library knows.
    func callerSize(_ p: UnsafeRawPointer, _ argument: String) throws -> Int {
        try check(size: p.loadUnaligned(as: Int.self), argument)
    }

    /// Checks a struct size given by the caller (see `callerSize`) and returns it.
    func check(size: Int, _ argument: String) throws -> Int {
        guard size >= MemoryLayout<Int>.size else {
            throw BoundaryError(.invalidArgumentStructSize,
                                "\(argument)->struct_size is \(UInt(bitPattern: size)); set it to sizeof(\(name))")
        }
        guard size <= self.size else {
            throw BoundaryError(.invalidArgumentStructSize,
                                "\(argument)->struct_size is \(size) but this library's \(name) has \(self.size) bytes: the header is newer than libcleanclip (version \(Version.string))")
        }
        return size
    }
}

/// One field of a C struct, holding a `Value`: the Swift type of the same size as the C type
/// (`int32_t` -> Int32, `size_t` -> Int, `const char *` -> UnsafePointer<CChar>?), or
/// `CCharArray` for a `char name[N]`. Fields are generated as stored properties of a
/// `CStructLayout`, so code names them by key path (`\.batch_size`) and the compiler checks
/// both the name and the type: nothing is looked up at run time.
struct CField<Value> {
    let name: StaticString
    let offset: Int
    let size: Int
}

/// The `Value` of a `char name[N]` field: written with `CStruct.writeString`.
enum CCharArray {}

/// A struct of the header: its layout, and its fields as properties of an instance (generated).
protocol CStructLayout {
    static var layout: CLayout { get }
    init()
}

/// A struct the caller owns `size` bytes of: fields that lie beyond are skipped, so a caller
/// compiled against an older (smaller) header is neither read nor written past its end.
struct CStruct<Layout: CStructLayout> {
    let base: UnsafeMutableRawPointer
    let size: Int

    private static var fields: Layout { Layout() }

    /// The field behind a key path (for messages that name it).
    func field<T>(_ key: KeyPath<Layout, CField<T>>) -> CField<T> { Self.fields[keyPath: key] }

    func has<T>(_ key: KeyPath<Layout, CField<T>>) -> Bool {
        let f = field(key)
        return f.offset + f.size <= size
    }

    /// The field's value, or nil when it lies beyond the caller's struct.
    func read<T>(_ key: KeyPath<Layout, CField<T>>) -> T? {
        guard has(key) else { return nil }
        return base.loadUnaligned(fromByteOffset: field(key).offset, as: T.self)
    }

    /// Writes the field when it lies within the caller's struct.
    func write<T>(_ key: KeyPath<Layout, CField<T>>, _ value: T) {
        let f = field(key)
        // The generator pairs every C type with a Swift type of its size, so this only fails on
        // a generator bug; never write past the field even then.
        guard has(key), MemoryLayout<T>.size == f.size else { return }
        base.storeBytes(of: value, toByteOffset: f.offset, as: T.self)
    }

    /// Writes `s` as a NUL-terminated string into a char array field, truncated at a UTF-8
    /// character boundary.
    func writeString(_ key: KeyPath<Layout, CField<CCharArray>>, _ s: String) {
        guard has(key) else { return }
        let f = field(key)
        var bytes = Array(s.utf8)
        if bytes.count > f.size - 1 {
            bytes = Array(bytes[..<(f.size - 1)])
            while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }  // continuation bytes
            if let last = bytes.last, last >= 0xC0 { bytes.removeLast() }  // a lead byte without its tail
        }
        let dst = base + f.offset
        memset(dst, 0, f.size)
        bytes.withUnsafeBytes { src in
            if let p = src.baseAddress { dst.copyMemory(from: p, byteCount: src.count) }
        }
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
