/// Base64url without padding (RFC 4648 §5), as JOSE uses it. Decoding is strict: padding,
/// whitespace, characters outside the alphabet and non-zero trailing bits are rejected, so each
/// byte string has exactly one accepted encoding.
///
/// The generic entry points hand contiguous bytes to the concrete loops below: a generic,
/// non-inlinable loop called from another module runs unspecialised (an iterator call through
/// witness tables per byte), which cost more than the ES256 signature's overhead budget.
public enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    private static let decodeTable = Base64Decoding.table(alphabet)

    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out = [UInt8]()
        encode(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the encoding to `out`; the token minter builds a JWS in one buffer this way.
    public static func encode<Bytes: Collection>(_ bytes: Bytes, into out: inout [UInt8]) where Bytes.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { encode(buffer: $0, into: &out) }
        if done == nil { Array(bytes).withUnsafeBufferPointer { encode(buffer: $0, into: &out) } }
    }

    private static func encode(buffer input: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        let outputCount = (input.count * 4 + 2) / 3
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: outputCount))
        alphabet.withUnsafeBufferPointer { table in
            out.withUnsafeMutableBufferPointer { output in
                var read = 0
                var write = start
                while input.count - read >= 3 {
                    let chunk = UInt32(input[read]) << 16 | UInt32(input[read + 1]) << 8 | UInt32(input[read + 2])
                    output[write] = table[Int(chunk >> 18)]
                    output[write + 1] = table[Int(chunk >> 12 & 0x3F)]
                    output[write + 2] = table[Int(chunk >> 6 & 0x3F)]
                    output[write + 3] = table[Int(chunk & 0x3F)]
                    read += 3
                    write += 4
                }
                let remaining = input.count - read
                if remaining > 0 {
                    let chunk = UInt32(input[read]) << 16 | (remaining == 2 ? UInt32(input[read + 1]) << 8 : 0)
                    output[write] = table[Int(chunk >> 18)]
                    output[write + 1] = table[Int(chunk >> 12 & 0x3F)]
                    if remaining == 2 { output[write + 2] = table[Int(chunk >> 6 & 0x3F)] }
                }
            }
        }
    }

    public static func decode(_ text: String) -> [UInt8]? {
        decode(utf8: Array(text.utf8))
    }

    public static func decode<Bytes: Collection>(utf8 input: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        if let decoded = input.withContiguousStorageIfAvailable({ decode(buffer: $0) }) { return decoded }
        return Array(input).withUnsafeBufferPointer { decode(buffer: $0) }
    }

    private static func decode(buffer input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        Base64Decoding.decode(input, table: decodeTable)
    }
}

/// Base64 with padding in the standard alphabet (RFC 4648 §4), as HTTP Basic credentials carry
/// it (RFC 7617). Strict like `Base64URL`: the length is a multiple of four, `=` only as the
/// padding, no whitespace, and the trailing bits are zero.
public enum Base64 {
    private static let decodeTable = Base64Decoding.table(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8))

    public static func decode<Bytes: Collection>(utf8 input: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        if let decoded = input.withContiguousStorageIfAvailable({ decode(buffer: $0) }) { return decoded }
        return Array(input).withUnsafeBufferPointer { decode(buffer: $0) }
    }

    private static func decode(buffer input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard input.count % 4 == 0 else { return nil }
        var end = input.count
        if end > 0, input[end - 1] == UInt8(ascii: "=") { end -= 1 }
        if end > 0, input[end - 1] == UInt8(ascii: "="), input.count - end == 1 { end -= 1 }
        return Base64Decoding.decode(UnsafeBufferPointer(rebasing: input[..<end]), table: decodeTable)
    }
}

/// The decoding loop both alphabets share.
enum Base64Decoding {
    static func table(_ alphabet: [UInt8]) -> [UInt8] {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        return table
    }

    /// `input` without padding; nil for a character outside the alphabet, a length no encoding
    /// has, or non-zero trailing bits (two strings would otherwise decode to the same bytes).
    static func decode(_ input: UnsafeBufferPointer<UInt8>, table decodeTable: [UInt8]) -> [UInt8]? {
        if input.count % 4 == 1 { return nil }
        return decodeTable.withUnsafeBufferPointer { table -> [UInt8]? in
            var out = [UInt8]()
            out.reserveCapacity(input.count * 3 / 4)
            var accumulator: UInt32 = 0
            var bitCount = 0
            for character in input {
                let value = table[Int(character)]
                if value == 0xFF { return nil }
                accumulator = (accumulator << 6) | UInt32(value)
                bitCount += 6
                if bitCount >= 8 {
                    bitCount -= 8
                    out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bitCount)))
                }
            }
            if bitCount > 0, accumulator & ((1 << UInt32(bitCount)) - 1) != 0 { return nil }
            return out
        }
    }
}
