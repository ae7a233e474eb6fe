import Foundation
import TesseraCrypto
import TesseraStore

/// A destination outside Tessera that receives every audit entry, in order (a SIEM's file
/// collector, a syslog server). Delivery is at least once: an entry may arrive twice after a
/// failure, never not at all; each carries its sequence number and hash, so duplicates are
/// recognisable.
public protocol AuditSink: Sendable {
    /// Stable across restarts and unique per destination: it names the delivery cursor.
    var name: String { get }

    /// Delivers `entries` (consecutive, in order) durably, or throws.
    func deliver(_ entries: [SealedAuditEntry]) async throws

    func close() async
}

/// A sink as written on the command line: `file:/var/log/tessera/audit.jsonl[?max-bytes=N&keep=K]`
/// or `syslog+tcp://host:port`.
public enum AuditSinkSpecification: Sendable, Hashable {
    case file(path: String, maximumBytes: Int, keep: Int)
    case syslogTCP(host: String, port: Int)

    public static let defaultMaximumBytes = 100 * 1024 * 1024
    public static let defaultKeep = 5

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(_ text: String) throws(Invalid) {
        let usage = "use file:/path/audit.jsonl[?max-bytes=N&keep=K] or syslog+tcp://host:port"
        if text.hasPrefix("file:") {
            let rest = text.dropFirst("file:".count)
            let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let path = String(parts[0])
            guard path.hasPrefix("/") else { throw Invalid(description: "audit sink \(text): the file path must be absolute; \(usage)") }
            var maximumBytes = Self.defaultMaximumBytes
            var keep = Self.defaultKeep
            for pair in parts.count > 1 ? parts[1].split(separator: "&") : [] {
                let field = pair.split(separator: "=", maxSplits: 1).map(String.init)
                switch (field.first, field.count == 2 ? Int(field[1]) : nil) {
                case ("max-bytes", let value?) where value >= 1024: maximumBytes = value
                case ("keep", let value?) where (1...100).contains(value): keep = value
                default: throw Invalid(description: "audit sink \(text): bad option \(pair) (max-bytes >= 1024, keep 1 to 100)")
                }
            }
            self = .file(path: path, maximumBytes: maximumBytes, keep: keep)
        } else if text.hasPrefix("syslog+tcp://") {
            let address = text.dropFirst("syslog+tcp://".count)
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
                  (1...65535).contains(port), colon > address.startIndex
            else {
                throw Invalid(description: "audit sink \(text): expected syslog+tcp://host:port")
            }
            var host = String(address[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self = .syslogTCP(host: host, port: port)
        } else {
            throw Invalid(description: "unknown audit sink \(text); \(usage)")
        }
    }

    /// Names the cursor file: the same destination keeps its cursor across restarts.
    public var cursorName: String {
        switch self {
        case .file(let path, _, _): "file-" + Self.shortHash(path)
        case .syslogTCP(let host, let port): "syslog-" + Self.shortHash("\(host):\(port)")
        }
    }

    private static func shortHash(_ text: String) -> String {
        SHA256.hash(Array(text.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    public func makeSink() -> any AuditSink {
        switch self {
        case .file(let path, let maximumBytes, let keep):
            JSONLinesFileSink(name: cursorName, path: path, maximumBytes: maximumBytes, keep: keep)
        case .syslogTCP(let host, let port):
            SyslogTCPSink(name: cursorName, host: host, port: port)
        }
    }
}
