#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as 128 bits. IPv4 addresses are held as IPv4-mapped IPv6
/// (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), so `::ffff:10.1.2.3` and `10.1.2.3` are the same
/// address and both match `10.0.0.0/8`: a dual-stack socket reports IPv4 clients that way.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address from its four octets.
    public init(ipv4 value: UInt32) {
        self.init(high: 0, low: 0x0000_FFFF_0000_0000 | UInt64(value))
    }

    /// Parses a literal IPv4 (`10.1.2.3`, no leading zeros) or IPv6 (`2001:db8::1`,
    /// `::ffff:10.1.2.3`) address; zone ids (`%eth0`) and anything else are refused.
    public init?(_ text: some StringProtocol) {
        let string = String(text)
        guard !string.isEmpty, string.utf8.count <= 64 else { return nil }
        if string.utf8.contains(UInt8(ascii: ":")) {
            var raw = in6_addr()
            guard inet_pton(AF_INET6, string, &raw) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            var high: UInt64 = 0
            var low: UInt64 = 0
            for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
            for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
            self.init(high: high, low: low)
        } else {
            var raw = in_addr()
            guard inet_pton(AF_INET, string, &raw) == 1 else { return nil }
            // s_addr is in network byte order.
            self.init(ipv4: UInt32(bigEndian: raw.s_addr))
        }
    }

    /// Whether this is an IPv4 address (including one written as IPv4-mapped IPv6).
    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }

    public var description: String {
        if isIPv4 {
            let value = UInt32(truncatingIfNeeded: low)
            return "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
        }
        var raw = in6_addr()
        withUnsafeMutableBytes(of: &raw) { bytes in
            for index in 0..<8 { bytes[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(index))) }
            for index in 0..<8 { bytes[8 + index] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(index))) }
        }
        var buffer = [CChar](repeating: 0, count: 64)
        guard inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A CIDR block such as `10.0.0.0/8` or `2001:db8::/32`. IPv4 blocks are stored as their
/// IPv4-mapped IPv6 block (prefix + 96), so one comparison serves both families.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    /// The prefix length over 128 bits.
    public let prefixLength: Int
    /// As written in the policy (`10.0.0.0/8`), for reasons and summaries.
    public let text: String

    private let maskHigh: UInt64
    private let maskLow: UInt64

    public enum ParseError: Error, Equatable {
        case invalid
        /// Host bits are set: `10.1.2.3/8` is almost always a typo for `10.1.2.3/32` or `10.0.0.0/8`.
        case hostBitsSet(network: String)
    }

    /// Parses `ADDRESS/PREFIX`, or a bare address as a single-host network (/32 or /128).
    public static func parse(_ text: String) -> Result<IPNetwork, ParseError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let address = IPAddress(parts[0]) else { return .failure(.invalid) }
        let ipv4 = !parts[0].contains(":")
        let familyBits = ipv4 ? 32 : 128
        var prefix = familyBits
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(parts[1]), value <= familyBits, !(parts[1].count > 1 && parts[1].first == "0")
            else { return .failure(.invalid) }
            prefix = value
        }
        let total = ipv4 ? prefix + 96 : prefix
        let (maskHigh, maskLow) = Self.mask(total)
        let networkAddress = IPAddress(high: address.high & maskHigh, low: address.low & maskLow)
        let canonical = "\(networkAddress)/\(prefix)"
        guard networkAddress == address else { return .failure(.hostBitsSet(network: canonical)) }
        return .success(IPNetwork(address: address, prefixLength: total, text: text, maskHigh: maskHigh, maskLow: maskLow))
    }

    public init?(_ text: String) {
        guard case .success(let network) = Self.parse(text) else { return nil }
        self = network
    }

    private init(address: IPAddress, prefixLength: Int, text: String, maskHigh: UInt64, maskLow: UInt64) {
        self.address = address
        self.prefixLength = prefixLength
        self.text = text
        self.maskHigh = maskHigh
        self.maskLow = maskLow
    }

    private static func mask(_ bits: Int) -> (UInt64, UInt64) {
        let high: UInt64 = bits >= 64 ? .max : (bits == 0 ? 0 : ~0 << UInt64(64 - bits))
        let low: UInt64 = bits <= 64 ? 0 : (bits >= 128 ? .max : ~0 << UInt64(128 - bits))
        return (high, low)
    }

    @inline(__always)
    public func contains(_ candidate: IPAddress) -> Bool {
        candidate.high & maskHigh == address.high && candidate.low & maskLow == address.low
    }

    public var description: String { text }
}

/// A named list of CIDR blocks (`corp-vpn: [10.8.0.0/16, 2001:db8:8::/48]`), or one block
/// written inline in a role; `name` is what reasons print.
public struct NetworkSet: Sendable, Hashable {
    public let name: String
    public let networks: [IPNetwork]

    public init(name: String, networks: [IPNetwork]) {
        self.name = name
        self.networks = networks
    }

    @inline(__always)
    public func contains(_ address: IPAddress) -> Bool {
        for network in networks where network.contains(address) { return true }
        return false
    }
}
