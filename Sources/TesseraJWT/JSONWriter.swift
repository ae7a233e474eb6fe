/// Writes compact JSON into a byte buffer. Used on the minting path, where a general encoder
/// would cost as much as a tenth of an ES256 signature.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func key(_ name: String) {
        separate()
        appendString(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String) {
        separate()
        appendString(value)
        needsComma = true
    }

    public mutating func integer(_ value: Int64) {
        separate()
        appendInteger(value)
        needsComma = true
    }

    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null:
            separate(); bytes.append(contentsOf: "null".utf8); needsComma = true
        case .bool(let flag):
            separate(); bytes.append(contentsOf: (flag ? "true" : "false").utf8); needsComma = true
        case .number(let number):
            separate()
            if !number.isFinite {
                // JSON has no NaN or infinity; null is the one faithful "no number" it has.
                bytes.append(contentsOf: "null".utf8)
            } else if number == number.rounded(), abs(number) < 9.007_199_254_740_992e15 {
                bytes.append(contentsOf: String(Int64(number)).utf8)
            } else {
                bytes.append(contentsOf: "\(number)".utf8)
            }
            needsComma = true
        case .string(let text):
            string(text)
        case .array(let elements):
            separate()
            bytes.append(UInt8(ascii: "["))
            needsComma = false
            for element in elements { self.value(element) }
            bytes.append(UInt8(ascii: "]"))
            needsComma = true
        case .object(let members):
            beginObject()
            // Sorted so that the same claims always serialise to the same bytes.
            for name in Self.sortedNames(members.keys) {
                key(name)
                self.value(members[name]!)
            }
            endObject()
        }
    }

    /// Member names in the order of their UTF-8 bytes. Not `sorted()`: `String`'s `<` is not a
    /// total order on the names a token may carry (Swift 6.3: neither `"e\u{301}" < "\u{E9}x"`
    /// nor the reverse, though the two are not equal), so the same members came out in an
    /// order that depended on the dictionary's hashing (found by the JSON fuzzer, Tests/Fuzz).
    /// For ASCII names the order is the same as before.
    public static func sortedNames(_ names: some Sequence<String>) -> [String] {
        names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Digits straight into the buffer: `String(value)` would allocate a string per claim.
    private mutating func appendInteger(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        let start = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        bytes[start...].reverse()
    }

    /// Whether a UTF-8 byte must be escaped inside a JSON string.
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    private mutating func appendString(_ text: String) {
        // Claim values almost never need escaping: copy them in one piece when they do not.
        let copied: Bool? = text.utf8.withContiguousStorageIfAvailable { utf8 in
            guard !utf8.contains(where: Self.needsEscape) else { return false }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: utf8)
            bytes.append(UInt8(ascii: "\""))
            return true
        }
        if copied == true { return }
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30])
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
