/// Identifiers compared as exact UTF-8 bytes.
///
/// Swift's `String ==`, and the hashing behind `Set<String>` and `[String: T]`, treat
/// canonically equivalent text as equal: `"\u{212A}8s-admins"` (KELVIN SIGN) equals
/// `"K8s-admins"`, and `"Équipe"` equals its decomposed form. That is right for prose and wrong
/// for security identifiers (issuers, audiences, subjects, groups, client ids, scopes, claim
/// values), which must match exactly the bytes an admin wrote (RFC 8725 §3.8 for `iss`/`aud`;
/// RFC 7519 §4.1 compares StringOrURI values without normalisation). Every comparison of an
/// identifier goes through this type or `String.isExactly(_:)`.
public struct ExactString: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let value: String

    public init(_ value: String) { self.value = value }
    public init(stringLiteral value: String) { self.value = value }

    public var description: String { value }

    public static func == (lhs: ExactString, rhs: ExactString) -> Bool { lhs.value.isExactly(rhs.value) }

    public func hash(into hasher: inout Hasher) {
        var bytes = value
        bytes.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(value.utf8.count)
    }
}

extension String {
    /// Byte-for-byte equality of the UTF-8 forms: no Unicode normalisation.
    @inlinable
    public func isExactly(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        let contiguous = utf8.withContiguousStorageIfAvailable { mine in
            other.utf8.withContiguousStorageIfAvailable { theirs in mine.elementsEqual(theirs) }
        }
        return (contiguous ?? nil) ?? utf8.elementsEqual(other.utf8)
    }
}

extension Sequence where Element == String {
    /// Whether some element is exactly `value` (UTF-8 bytes, no normalisation).
    @inlinable
    public func containsExactly(_ value: String) -> Bool { contains { $0.isExactly(value) } }

    /// The first element that is exactly one of `candidates`.
    @inlinable
    public func firstExactly(in candidates: some Sequence<String>) -> String? {
        first { candidates.containsExactly($0) }
    }
}

extension Dictionary where Key == String {
    /// The value stored under exactly `key`. A plain subscript finds a canonically equivalent
    /// key too; this checks the stored key's bytes.
    @inlinable
    public subscript(exactly key: String) -> Value? {
        guard let index = index(forKey: key), self[index].key.isExactly(key) else { return nil }
        return self[index].value
    }
}
