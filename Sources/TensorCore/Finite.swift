/// Finding NaN and infinite values, e.g. in weights as they are loaded or in embeddings before
/// they are handed out.
extension UnsafeBufferPointer where Element == Float {
    /// The index of the first NaN or infinite element, or nil when every element is finite.
    ///
    /// A float is non-finite exactly when its exponent bits are all ones, i.e. when its bits
    /// without the sign are at least 0x7F80_0000. The fast pass takes the maximum of those bits
    /// (an integer reduction the compiler vectorises); only when it finds one does a second pass
    /// look for its index.
    package func firstNonFiniteIndex() -> Int? {
        guard let base = baseAddress else { return nil }
        let bits = UnsafeRawPointer(base).assumingMemoryBound(to: UInt32.self)
        var largest: UInt32 = 0
        for i in 0..<count { largest = Swift.max(largest, bits[i] & 0x7FFF_FFFF) }
        guard largest >= 0x7F80_0000 else { return nil }
        return firstIndex { !$0.isFinite }
    }
}

extension Tensor {
    /// The index of the first NaN or infinite element, or nil when every element is finite.
    package func firstNonFiniteIndex() -> Int? {
        UnsafeBufferPointer(start: data, count: count).firstNonFiniteIndex()
    }
}
