/// Conversion between the JWS form of an ECDSA P-256 signature (raw `r || s`, 32 bytes each,
/// RFC 7518 §3.4) and the DER `ECDSA-Sig-Value` OpenSSL produces and expects.
///
/// Both directions are strict: the JWS form must be exactly 64 bytes with `0 < r, s < n`,
/// and DER must be minimal with nothing trailing. Written in Swift rather than through
/// `ECDSA_SIG` so the checks are explicit and no big numbers are allocated per token.
public enum ECDSASignature {
    public static let rawByteCount = 64
    static let scalarByteCount = 32

    /// The order `n` of the P-256 group, big-endian.
    static let p256Order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    /// DER for a JWS signature, or an error if the signature could never be valid.
    public static func der(fromRaw raw: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard raw.count == rawByteCount else {
            throw CryptoError(.invalidSignature, "an ES256 signature is 64 bytes, got \(raw.count)")
        }
        let r = raw[0..<scalarByteCount]
        let s = raw[scalarByteCount..<rawByteCount]
        guard isInRange(r), isInRange(s) else {
            throw CryptoError(.invalidSignature, "an ES256 signature component is zero or not below the group order")
        }
        let body = derInteger(r) + derInteger(s)
        // At most 2 * (2 + 33) = 70 bytes, so the short length form always fits.
        return [0x30, UInt8(body.count)] + body
    }

    /// The JWS form of a DER signature OpenSSL produced.
    public static func raw(fromDER der: [UInt8]) throws(CryptoError) -> [UInt8] {
        var reader = DERReader(bytes: der)
        guard reader.read(tag: 0x30), let sequenceLength = reader.readShortLength(), sequenceLength == reader.remaining else {
            throw CryptoError(.invalidSignature, "malformed DER ECDSA signature")
        }
        guard let r = reader.readUnsignedInteger(maxBytes: scalarByteCount),
              let s = reader.readUnsignedInteger(maxBytes: scalarByteCount),
              reader.remaining == 0
        else {
            throw CryptoError(.invalidSignature, "malformed DER ECDSA signature")
        }
        // One allocation: each scalar is right-aligned in its 32-byte half.
        var raw = [UInt8](repeating: 0, count: rawByteCount)
        raw.replaceSubrange((scalarByteCount - r.count)..<scalarByteCount, with: r)
        raw.replaceSubrange((rawByteCount - s.count)..<rawByteCount, with: s)
        return raw
    }

    /// `0 < value < n`, comparing big-endian byte strings of equal length.
    static func isInRange(_ value: ArraySlice<UInt8>) -> Bool {
        guard value.contains(where: { $0 != 0 }) else { return false }
        for (byte, limit) in zip(value, p256Order) where byte != limit {
            return byte < limit
        }
        return false  // equal to n
    }

    private static func derInteger(_ value: ArraySlice<UInt8>) -> [UInt8] {
        var trimmed = value.drop { $0 == 0 }
        if trimmed.isEmpty { trimmed = [0][...] }
        var content = Array(trimmed)
        if content[0] & 0x80 != 0 { content.insert(0, at: 0) }  // keep the integer positive
        return [0x02, UInt8(content.count)] + content
    }
}

/// Just enough strict DER reading for two small INTEGERs in a SEQUENCE.
private struct DERReader {
    let bytes: [UInt8]
    var offset = 0

    var remaining: Int { bytes.count - offset }

    mutating func read(tag: UInt8) -> Bool {
        guard offset < bytes.count, bytes[offset] == tag else { return false }
        offset += 1
        return true
    }

    mutating func readShortLength() -> Int? {
        guard offset < bytes.count, bytes[offset] < 0x80 else { return nil }
        defer { offset += 1 }
        return Int(bytes[offset])
    }

    /// A minimal, non-negative INTEGER of at most `maxBytes` significant bytes (a view into
    /// `bytes`, so reading allocates nothing).
    mutating func readUnsignedInteger(maxBytes: Int) -> ArraySlice<UInt8>? {
        guard read(tag: 0x02), let length = readShortLength(), length > 0, length <= remaining else { return nil }
        var content = bytes[offset..<offset + length]
        offset += length
        if content.first! & 0x80 != 0 { return nil }  // negative
        if content.count > 1, content.first == 0 {
            if content[content.startIndex + 1] & 0x80 == 0 { return nil }  // not minimal
            content = content.dropFirst()
        }
        return content.count <= maxBytes ? content : nil
    }
}
