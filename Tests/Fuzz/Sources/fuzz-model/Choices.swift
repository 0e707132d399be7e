/// The fuzzer's bytes read as the choices of a mutation program. Past the end every choice is
/// 0, so any input is a complete program and libFuzzer's byte mutations become edits.
struct Choices {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var exhausted: Bool { position >= bytes.count }

    mutating func byte() -> Int {
        defer { position += 1 }
        return position < bytes.count ? Int(bytes[position]) : 0
    }

    /// A number in 0..<n (n up to 65536).
    mutating func below(_ n: Int) -> Int {
        guard n > 1 else { return 0 }
        return n <= 256 ? byte() % n : (byte() << 8 | byte()) % n
    }

    mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }

    /// A tensor dimension: mostly small (0 included), sometimes one of CLIP's sizes or an
    /// absurd one (such a dimension only fits the element cap beside a 0).
    mutating func dimension() -> Int {
        let b = byte()
        if b < 192 { return b % 48 }
        return [64, 65, 77, 128, 255, 256, 1 << 16, 1 << 31, 1 << 40, Int.max / 3, Int.max][b % 11]
    }
}
