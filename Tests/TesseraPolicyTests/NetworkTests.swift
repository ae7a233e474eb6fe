import Foundation
import Testing
import TesseraPolicy

@Suite("IP addresses, CIDR blocks and trusted proxies")
struct NetworkTests {
    private func network(_ text: String) -> IPNetwork {
        guard let network = IPNetwork(text) else { fatalError("bad test CIDR \(text)") }
        return network
    }

    private func address(_ text: String) -> IPAddress {
        guard let address = IPAddress(text) else { fatalError("bad test address \(text)") }
        return address
    }

    @Test func ipv4MappedIPv6MatchesIPv4Ranges() {
        #expect(network("10.0.0.0/8").contains(address("::ffff:10.1.2.3")))
        #expect(address("::ffff:10.1.2.3") == address("10.1.2.3"))
        #expect(address("::ffff:10.1.2.3").description == "10.1.2.3")
        #expect(!network("10.0.0.0/8").contains(address("::ffff:11.1.2.3")))
        // A native IPv6 address is not an IPv4 one.
        #expect(!network("10.0.0.0/8").contains(address("::a01:203")))
    }

    @Test func zeroPrefixMatchesEverythingOfItsFamily() {
        let all4 = network("0.0.0.0/0")
        #expect(all4.contains(address("203.0.113.9")))
        #expect(all4.contains(address("255.255.255.255")))
        #expect(!all4.contains(address("2001:db8::1")))
        let all6 = network("::/0")
        #expect(all6.contains(address("2001:db8::1")))
        #expect(all6.contains(address("10.0.0.1")), "IPv4 addresses are IPv4-mapped IPv6 addresses")
    }

    @Test func hostPrefixesMatchExactlyOneAddress() {
        #expect(network("192.0.2.7/32").contains(address("192.0.2.7")))
        #expect(!network("192.0.2.7/32").contains(address("192.0.2.8")))
        #expect(network("2001:db8::7/128").contains(address("2001:db8::7")))
        #expect(!network("2001:db8::7/128").contains(address("2001:db8::8")))
        #expect(network("192.0.2.7").prefixLength == 128, "a bare address is a single host")
    }

    @Test func ipv6PrefixesAcrossTheWordBoundary() {
        #expect(network("2001:db8::/32").contains(address("2001:db8:ffff::1")))
        #expect(!network("2001:db8::/32").contains(address("2001:db9::1")))
        #expect(network("2001:db8:0:0:8000::/65").contains(address("2001:db8::8000:0:0:1")))
        #expect(!network("2001:db8:0:0:8000::/65").contains(address("2001:db8::7fff:0:0:1")))
        #expect(network("10.1.2.0/23").contains(address("10.1.3.255")))
        #expect(!network("10.1.2.0/23").contains(address("10.1.4.0")))
    }

    @Test("rejects bad CIDR blocks", arguments: [
        "10.0.0.0/33", "2001:db8::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/08", "010.0.0.0/8", "fe80::1%eth0/64",
        "10.0.0.0/8/8", "corp", "", "1.2.3.4.5/32", "2001:db8:::/32",
    ])
    func rejectsBadCIDRs(text: String) {
        #expect(IPNetwork(text) == nil)
    }

    @Test func refusesHostBitsNamingTheNetwork() {
        #expect(IPNetwork.parse("10.1.2.3/8") == .failure(.hostBitsSet(network: "10.0.0.0/8")))
        #expect(IPNetwork.parse("2001:db8::1/32") == .failure(.hostBitsSet(network: "2001:db8::/32")))
    }

    // MARK: trusted proxies

    private let proxies = TrustedProxies(networks: [IPNetwork("10.0.0.0/29")!, IPNetwork("2001:db8:1::/64")!])

    @Test func untrustedPeerGainsNothingFromForwardingHeaders() {
        let peer = address("203.0.113.9")
        #expect(proxies.clientAddress(peer: peer, xForwardedFor: ["10.8.1.1"]) == peer)
        #expect(proxies.clientAddress(peer: peer, xForwardedFor: ["10.0.0.1, 10.8.1.1"]) == peer)
        let forwarded = TrustedProxies(networks: proxies.networks, header: .forwarded)
        #expect(forwarded.clientAddress(peer: peer, forwarded: ["for=10.8.1.1"]) == peer)
    }

    @Test func noTrustedProxiesMeansThePeer() {
        let peer = address("10.0.0.1")
        #expect(TrustedProxies().clientAddress(peer: peer, xForwardedFor: ["10.8.1.1"]) == peer)
    }

    @Test func chainThroughTrustedProxiesIsHonoured() {
        // client 198.51.100.4 -> proxy 10.0.0.3 -> proxy 10.0.0.2 (our peer)
        let resolved = proxies.clientAddress(peer: address("10.0.0.2"), xForwardedFor: ["198.51.100.4, 10.0.0.3"])
        #expect(resolved == address("198.51.100.4"))
        // Several header lines are one list, in order.
        #expect(proxies.clientAddress(peer: address("10.0.0.2"), xForwardedFor: ["198.51.100.4", "10.0.0.3"]) == address("198.51.100.4"))
    }

    @Test func spoofedLeftmostEntriesAreIgnored() {
        // The client wrote "10.8.1.1" itself; our proxy appended the address it saw.
        let resolved = proxies.clientAddress(peer: address("10.0.0.2"), xForwardedFor: ["10.8.1.1, 203.0.113.9"])
        #expect(resolved == address("203.0.113.9"))
    }

    @Test func garbageHopMakesTheAddressUnknown() {
        // Falling back to the proxy's own address would hand the proxy's network to the sender.
        #expect(proxies.clientAddress(peer: address("10.0.0.2"), xForwardedFor: ["198.51.100.4, not-an-ip"]) == nil)
        // A trusted proxy that forwards nothing is itself the client (a health check, say).
        #expect(proxies.clientAddress(peer: address("10.0.0.2"), xForwardedFor: []) == address("10.0.0.2"))
    }

    @Test func forwardedHeaderWithPortsQuotesAndIPv6() {
        let forwarded = TrustedProxies(networks: proxies.networks, header: .forwarded)
        let value = "for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.4;by=10.0.0.2"
        #expect(forwarded.clientAddress(peer: address("2001:db8:1::5"), forwarded: [value]) == address("2001:db8:cafe::17"))
        #expect(forwarded.clientAddress(peer: address("10.0.0.1"), forwarded: ["For=\"192.0.2.60:8080\""]) == address("192.0.2.60"))
        #expect(forwarded.clientAddress(peer: address("10.0.0.1"), forwarded: ["for=unknown"]) == nil)
        #expect(forwarded.clientAddress(peer: address("10.0.0.1"), forwarded: ["for=_hidden"]) == nil)
    }

    @Test func onlyTheConfiguredHeaderIsRead() {
        // A proxy that writes X-Forwarded-For passes the client's own Forwarded header through.
        let resolved = proxies.clientAddress(peer: address("10.0.0.2"), xForwardedFor: ["203.0.113.9"], forwarded: ["for=10.8.1.1"])
        #expect(resolved == address("203.0.113.9"))
    }

    @Test func xForwardedForWithPorts() {
        #expect(proxies.clientAddress(peer: address("10.0.0.2"), xForwardedFor: ["198.51.100.4:5555"]) == address("198.51.100.4"))
        #expect(proxies.clientAddress(peer: address("10.0.0.2"), xForwardedFor: ["[2001:db8::9]:443"]) == address("2001:db8::9"))
        #expect(proxies.clientAddress(peer: address("10.0.0.2"), xForwardedFor: ["2001:db8::9"]) == address("2001:db8::9"))
    }

    // MARK: hostile forwarding headers (security review, finding 1)

    /// Headers a client can send through a trusted proxy (10.0.0.2, our peer) that appends or
    /// adds the address it saw, 203.0.113.9: each must resolve to that address or to unknown,
    /// never to the 10.8.1.1 the client wrote.
    static let hostileForwarded: [(lines: [String], expected: String?)] = [
        (["for=10.8.1.1;x=\", for=203.0.113.9"], nil),                   // unpaired quote swallows the proxy's element
        (["for=10.8.1.1;x=\"", "for=203.0.113.9"], "203.0.113.9"),        // the same over two lines
        (["for=10.8.1.1, for=203.0.113.9"], "203.0.113.9"),               // the control
        (["for=\"10.8.1.1\\\", for=203.0.113.9"], nil),                  // an escaped quote keeps the string open
        (["for=\"10.8.1.1\\\"\", for=203.0.113.9"], "203.0.113.9"),       // a closed string with an escape inside
        (["for=10.8.1.1;for=10.8.1.2, for=203.0.113.9"], nil),            // a parameter twice in one element
        (["for=10.8.1.1 x, for=203.0.113.9"], nil),                        // a stray token
        (["for=10.8.1.1;;proto=https, for=203.0.113.9"], "203.0.113.9"),  // empty pairs are allowed
        (["for=10.8.1.1,, for=203.0.113.9"], "203.0.113.9"),              // empty elements are allowed
        (["for=10.8.1.1\u{0}, for=203.0.113.9"], nil),                     // a control character
        (["for=10.8.1.1, for=\"203.0.113.9"], nil),                        // the proxy's own element broken: unknown
        (["for=10.8.1.1", "for=unknown"], nil),                           // the proxy does not know: unknown
        (["for=10.8.1.1, proto=https"], nil),                             // an element without for=
        (["FOR=\"[2001:db8::9]:443\""], "2001:db8::9"),
    ]

    @Test(arguments: hostileForwarded)
    func hostileForwardedHeaders(_ hostile: (lines: [String], expected: String?)) {
        let forwarded = TrustedProxies(networks: proxies.networks, header: .forwarded)
        let resolved = forwarded.clientAddress(peer: address("10.0.0.2"), forwarded: hostile.lines)
        #expect(resolved == hostile.expected.map(address), "\(hostile.lines)")
    }

    static let hostileXForwardedFor: [(lines: [String], expected: String?)] = [
        (["10.8.1.1, 203.0.113.9"], "203.0.113.9"),
        (["10.8.1.1", "203.0.113.9"], "203.0.113.9"),
        (["10.8.1.1, 203.0.113.9, 10.0.0.3"], "203.0.113.9"),  // through a second trusted proxy
        (["10.8.1.1, unknown"], nil),
        (["10.8.1.1, 203.0.113.9:99999"], nil),                 // not a port
        (["10.8.1.1, 203.0.113.9 10.8.1.2"], nil),
        (["10.8.1.1,, 203.0.113.9"], "203.0.113.9"),
        (["10.8.1.1, \"203.0.113.9\""], nil),
        (["10.8.1.1, [2001:db8::9]:443"], "2001:db8::9"),
    ]

    @Test(arguments: hostileXForwardedFor)
    func hostileXForwardedForHeaders(_ hostile: (lines: [String], expected: String?)) {
        let resolved = proxies.clientAddress(peer: address("10.0.0.2"), xForwardedFor: hostile.lines)
        #expect(resolved == hostile.expected.map(address), "\(hostile.lines)")
    }
}
