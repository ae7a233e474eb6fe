#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization
import TesseraStore

/// Audit entries as RFC 5424 syslog messages over TCP with octet-counting framing (RFC 6587
/// §3.4.1), one message per entry:
///
/// `<110>1 2026-11-24T12:00:00.123Z host tessera 4242 token.issued [tessera@32473 sequence="7" hash="..."] {audit line}`
///
/// Facility 13 (log audit); severity informational, or warning for a failure outcome. The
/// private enterprise number 32473 is the one RFC 5612 reserves for documentation.
///
/// TCP acknowledges bytes to the kernel, not to the listener: a batch written just before the
/// listener died can vanish. So the batch last written on a connection is written again first
/// on the next one; together with the forwarder's cursor, delivery is at least once.
public final class SyslogTCPSink: AuditSink {
    public let name: String
    let host: String
    let port: Int
    private let connection = Mutex<Connection>(Connection())
    private static let hostName = String(ProcessInfo.processInfo.hostName.filter { $0.isASCII && $0 != " " }.prefix(255))

    struct Connection {
        var descriptor: Int32?
        var lastBatch: [UInt8] = []
    }

    public init(name: String, host: String, port: Int) {
        self.name = name
        self.host = host
        self.port = port
    }

    public func deliver(_ entries: [SealedAuditEntry]) async throws {
        let frames = entries.flatMap(Self.frame)
        try await Self.onBlockingThread { [self] in
            try connection.withLock { connection in
                if let descriptor = connection.descriptor, !Self.isOpen(descriptor) {
                    closeSocket(descriptor)
                    connection.descriptor = nil
                }
                if connection.descriptor == nil {
                    let descriptor = try connect()
                    connection.descriptor = descriptor
                    if !connection.lastBatch.isEmpty {
                        try send(connection.lastBatch, on: descriptor, connection: &connection)
                    }
                }
                guard let descriptor = connection.descriptor else { return }
                try send(frames, on: descriptor, connection: &connection)
                connection.lastBatch = frames
            }
        }
    }

    public func close() async {
        connection.withLock { connection in
            if let descriptor = connection.descriptor { closeSocket(descriptor) }
            connection.descriptor = nil
        }
    }

    /// One octet-counted RFC 5424 message.
    static func frame(_ entry: SealedAuditEntry) -> [UInt8] {
        let severity = entry.outcome == "failure" ? 4 : 6
        let time = entry.time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let messageID = String(entry.event.filter { $0.isASCII && ("!"..."~").contains($0) }.prefix(32))
        let message = "<\(13 * 8 + severity)>1 \(time) \(hostName.isEmpty ? "-" : hostName) tessera \(getpid()) "
            + "\(messageID.isEmpty ? "-" : messageID) [tessera@32473 sequence=\"\(entry.sequence)\" hash=\"\(entry.hash)\"] "
            + AuditLine.json(entry)
        let bytes = Array(message.utf8)
        return Array("\(bytes.count) ".utf8) + bytes
    }

    private func connect() throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &results) == 0, let first = results else {
            throw StoreError("syslog \(host):\(port): cannot resolve the host")
        }
        defer { freeaddrinfo(results) }
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        var lastError: Int32 = 0
        while let address = candidate {
            let descriptor = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            if descriptor >= 0 {
                // A listener that accepts but never reads must not hold the forwarder forever.
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                if connectSocket(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return descriptor }
                lastError = errno
                closeSocket(descriptor)
            }
            candidate = address.pointee.ai_next
        }
        throw StoreError("syslog \(host):\(port): cannot connect: \(String(cString: strerror(lastError)))")
    }

    private func send(_ bytes: [UInt8], on descriptor: Int32, connection: inout Connection) throws {
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a closed peer is an error to handle, not a SIGPIPE that kills the server.
            let written = bytes[offset...].withUnsafeBytes { sendSocket(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else {
                let reason = String(cString: strerror(errno))
                closeSocket(descriptor)
                connection.descriptor = nil
                throw StoreError("syslog \(host):\(port): send failed: \(reason)")
            }
            offset += written
        }
    }

    /// Whether the peer has not closed the connection (a zero-byte peek means it has).
    private static func isOpen(_ descriptor: Int32) -> Bool {
        var byte: UInt8 = 0
        let peeked = recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return peeked > 0 || (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    }

    private static func onBlockingThread(_ work: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}

// The POSIX calls by their global names: inside the sink, `close` and `send` are its methods.
private func closeSocket(_ descriptor: Int32) { _ = close(descriptor) }
private func connectSocket(_ descriptor: Int32, _ address: UnsafePointer<sockaddr>!, _ length: socklen_t) -> Int32 {
    connect(descriptor, address, length)
}
private func sendSocket(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int {
    send(descriptor, bytes, count, flags)
}
