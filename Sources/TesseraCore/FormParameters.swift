/// The parameters of an `application/x-www-form-urlencoded` body (RFC 6749 appendix B).
public struct FormParameters: Sendable {
    /// Parameters that may appear several times (RFC 8707 `resource`, RFC 8693 `audience`);
    /// any other repeated parameter is an error (RFC 6749 §3.2).
    public static let repeatable: Set<String> = ["resource", "audience"]

    private var values: [String: [String]] = [:]

    public init(_ pairs: [(String, String)]) throws(OAuthError) {
        for (name, value) in pairs {
            if values[name] != nil, !Self.repeatable.contains(name) {
                throw .invalidRequest("parameter \"\(name)\" appears more than once")
            }
            values[name, default: []].append(value)
        }
    }

    /// Decodes a form body: `+` is a space, `%XX` a byte, and the result must be UTF-8.
    public init(urlEncoded body: some Collection<UInt8>) throws(OAuthError) {
        // A generic body from another module would be parsed unspecialised, byte by byte
        // through witness tables; one copy into an array lets the concrete parser run.
        try self.init(urlEncodedBytes: body.withContiguousStorageIfAvailable { Array($0) } ?? Array(body))
    }

    init(urlEncodedBytes body: [UInt8]) throws(OAuthError) {
        var pairs: [(String, String)] = []
        for field in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = field.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decode(bytes: parts[0])
            let value = parts.count > 1 ? try Self.decode(bytes: parts[1]) : ""
            pairs.append((name, value))
        }
        try self.init(pairs)
    }

    /// The value of a single-valued parameter; an empty value counts as absent (RFC 6749 §3.1).
    public subscript(name: String) -> String? {
        guard let value = values[name]?.first, !value.isEmpty else { return nil }
        return value
    }

    public func all(_ name: String) -> [String] {
        (values[name] ?? []).filter { !$0.isEmpty }
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Decodes one `application/x-www-form-urlencoded` component.
    public static func decode(_ encoded: some Collection<UInt8>) throws(OAuthError) -> String {
        try decode(bytes: encoded.withContiguousStorageIfAvailable { Array($0)[...] } ?? Array(encoded)[...])
    }

    static func decode(bytes encoded: ArraySlice<UInt8>) throws(OAuthError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encoded.count)
        var index = encoded.startIndex
        while index != encoded.endIndex {
            let byte = encoded[index]
            if byte == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else if byte == UInt8(ascii: "%") {
                let high = encoded.index(after: index)
                guard high != encoded.endIndex else { throw .invalidRequest("malformed percent-encoding in the form body") }
                let low = encoded.index(after: high)
                guard low != encoded.endIndex, let h = hexValue(encoded[high]), let l = hexValue(encoded[low]) else {
                    throw .invalidRequest("malformed percent-encoding in the form body")
                }
                bytes.append(h << 4 | l)
                index = low
            } else {
                bytes.append(byte)
            }
            index = encoded.index(after: index)
        }
        if bytes.allSatisfy({ $0 < 0x80 }) { return String(decoding: bytes, as: UTF8.self) }  // ASCII: valid UTF-8
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw .invalidRequest("the form body is not valid UTF-8")
        }
        return string
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
