/// Which header the trusted proxies write. Only that one is read: a proxy that appends to
/// `X-Forwarded-For` passes a client's own `Forwarded` header through untouched, so reading
/// both would let the client choose its address (the reason nginx has `real_ip_header`).
public enum ForwardedHeader: String, Sendable, Hashable, CaseIterable {
    case xForwardedFor = "x-forwarded-for"
    /// RFC 7239 `Forwarded: for=...`.
    case forwarded
}

/// The proxies whose forwarding headers are believed (`trusted_proxies` in networks.yaml).
/// With none configured, every header is ignored and the client is the TCP peer.
public struct TrustedProxies: Sendable, Hashable {
    public var networks: [IPNetwork]
    public var header: ForwardedHeader

    public init(networks: [IPNetwork] = [], header: ForwardedHeader = .xForwardedFor) {
        self.networks = networks
        self.header = header
    }

    public func isTrusted(_ address: IPAddress) -> Bool {
        networks.contains { $0.contains(address) }
    }

    /// The client's address: starting at the TCP peer, walk the configured header from the
    /// right (the hop nearest to us) and believe each entry only while the hop that wrote it is
    /// a trusted proxy. An untrusted peer's headers are ignored entirely; an unparsable entry
    /// (`unknown`, an obfuscated `_id`, garbage) stops the walk at the last address known.
    /// Each argument is the list of that header's field values in the order received.
    public func clientAddress(peer: IPAddress, xForwardedFor: [String] = [], forwarded: [String] = []) -> IPAddress {
        var current = peer
        guard isTrusted(current) else { return current }
        let hops: [Substring] = switch header {
        case .xForwardedFor: xForwardedFor.flatMap { $0.split(separator: ",") }
        case .forwarded: forwarded.flatMap { Self.forwardedElements($0) }
        }
        for hop in hops.reversed() {
            let parsed = header == .xForwardedFor ? Self.address(ofNode: hop) : Self.forwardedFor(hop)
            guard let address = parsed else { return current }
            current = address
            guard isTrusted(current) else { return current }
        }
        return current
    }

    /// Splits a `Forwarded` value into its comma-separated elements, honouring quoted strings.
    static func forwardedElements(_ value: String) -> [Substring] {
        var elements: [Substring] = []
        var start = value.startIndex
        var quoted = false
        var index = value.startIndex
        while index < value.endIndex {
            let character = value[index]
            if character == "\"" { quoted.toggle() }
            if character == ",", !quoted {
                elements.append(value[start..<index])
                start = value.index(after: index)
            }
            index = value.index(after: index)
        }
        elements.append(value[start..<value.endIndex])
        return elements
    }

    /// The `for=` parameter of one `Forwarded` element (RFC 7239 §4, §6).
    static func forwardedFor(_ element: Substring) -> IPAddress? {
        for pair in element.split(separator: ";") {
            let trimmed = pair.trimmingSpaces
            guard let equals = trimmed.firstIndex(of: "=") else { continue }
            guard trimmed[..<equals].lowercased() == "for" else { continue }
            var value = trimmed[trimmed.index(after: equals)...]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = value.dropFirst().dropLast()
            }
            return address(ofNode: value)
        }
        return nil
    }

    /// An address as a proxy writes it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`.
    static func address(ofNode text: Substring) -> IPAddress? {
        let node = text.trimmingSpaces
        if node.hasPrefix("[") {
            guard let close = node.firstIndex(of: "]") else { return nil }
            let rest = node[node.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy { $0.isASCII && $0.isNumber }) else { return nil }
            return IPAddress(node[node.index(after: node.startIndex)..<close])
        }
        let colons = node.reduce(0) { $1 == ":" ? $0 + 1 : $0 }
        if colons == 1, let colon = node.firstIndex(of: ":") {
            let port = node[node.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return IPAddress(node[..<colon])
        }
        return IPAddress(node)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}
