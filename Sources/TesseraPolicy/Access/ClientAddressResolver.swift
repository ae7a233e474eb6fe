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

    /// The client's address, or nil when it cannot be known. Starting at the TCP peer, the
    /// configured header is walked from the right (the hop nearest to us) and each entry is
    /// believed only while the hop that wrote it is a trusted proxy. An untrusted peer's
    /// headers are ignored entirely.
    ///
    /// Fails closed: an entry the walk reaches that is not an address (`unknown`, an obfuscated
    /// `_id`, garbage), or a header line that does not parse (RFC 7239 strictly: an unpaired
    /// quote, a repeated parameter), makes the address unknown, so every network condition
    /// fails. Falling back to the last proxy's address instead would grant the proxy's network
    /// to whoever sent the garbage. Each argument is that header's field lines in the order
    /// received; each line parses on its own, so a client's broken line cannot swallow the line
    /// a proxy added after it.
    public func clientAddress(peer: IPAddress, xForwardedFor: [String] = [], forwarded: [String] = []) -> IPAddress? {
        guard isTrusted(peer) else { return peer }
        var hops: [ForwardedHop] = []
        switch header {
        case .xForwardedFor:
            for line in xForwardedFor { hops += Self.xForwardedForHops(line) }
        case .forwarded:
            for line in forwarded {
                guard let elements = ForwardedParser.elements(line) else {
                    // What the line held cannot be told apart, so neither can who wrote it.
                    hops.append(.unknown)
                    continue
                }
                hops += elements.map { $0.forAddress.map(ForwardedHop.address) ?? .unknown }
            }
        }
        var current = peer
        for hop in hops.reversed() {
            guard case .address(let address) = hop else { return nil }
            current = address
            guard isTrusted(current) else { return current }
        }
        return current
    }

    /// One entry of a forwarding header.
    enum ForwardedHop: Equatable {
        case address(IPAddress)
        /// `unknown`, an obfuscated identifier, or text that is no address.
        case unknown
    }

    /// `X-Forwarded-For: client, proxy1, proxy2`: comma-separated addresses.
    static func xForwardedForHops(_ line: String) -> [ForwardedHop] {
        line.split(separator: ",", omittingEmptySubsequences: false).compactMap { entry in
            let node = entry.trimmingSpaces
            // An empty list member (`a, , b`) is allowed by the list syntax and names no hop.
            if node.isEmpty { return nil }
            return address(ofNode: node).map(ForwardedHop.address) ?? .unknown
        }
    }

    /// An address as a proxy writes it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`.
    static func address(ofNode text: Substring) -> IPAddress? {
        let node = text.trimmingSpaces
        if node.hasPrefix("[") {
            guard let close = node.firstIndex(of: "]") else { return nil }
            let rest = node[node.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && isPort(rest.dropFirst())) else { return nil }
            return IPAddress(node[node.index(after: node.startIndex)..<close])
        }
        let colons = node.utf8.reduce(0) { $1 == UInt8(ascii: ":") ? $0 + 1 : $0 }
        if colons == 1, let colon = node.firstIndex(of: ":") {
            guard isPort(node[node.index(after: colon)...]) else { return nil }
            return IPAddress(node[..<colon])
        }
        return IPAddress(node)
    }

    private static func isPort(_ text: Substring) -> Bool {
        text.utf8.count <= 5 && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            && Int(text).map { $0 <= 65_535 } == true
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
