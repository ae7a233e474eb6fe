#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking TCP exchange with a server on 127.0.0.1: send the bytes, read until the server
/// closes. For requests that HTTP clients will not write (a header line given twice).
///
/// Waiting is bounded (30 s by default: a server under test shares two cores with the whole
/// suite, so its first answer can take seconds), and a wait that runs out is an error that
/// says so, not an answer cut short.
enum LoopbackSocket {
    static let defaultTimeoutSeconds = 30

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `halfClose`: shut down the sending side once the request is sent, as a client that has
    /// nothing more to say does.
    static func exchange(_ request: [UInt8], port: Int, timeoutSeconds: Int = defaultTimeoutSeconds, halfClose: Bool = false) throws -> [UInt8] {
        let connection = try Connection(port: port, timeoutSeconds: timeoutSeconds)
        try connection.write(request)
        if halfClose { connection.closeSending() }
        var response: [UInt8] = []
        do {
            while let bytes = try connection.receive() { response += bytes }
        } catch {
            throw Failure(description: "\(error) after \(response.count) bytes: \(String(decoding: response, as: UTF8.self))")
        }
        return response
    }

    /// One blocking connection to 127.0.0.1, for a conversation in steps.
    final class Connection: Sendable {
        private let descriptor: Int32
        private let timeoutSeconds: Int

        init(port: Int, timeoutSeconds: Int = defaultTimeoutSeconds) throws {
            self.timeoutSeconds = timeoutSeconds
            #if canImport(Glibc)
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #else
            descriptor = socket(AF_INET, SOCK_STREAM, 0)
            #endif
            guard descriptor >= 0 else { throw Failure(description: "socket() failed") }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(descriptor)
                throw Failure(description: "connect to 127.0.0.1:\(port) failed")
            }
        }

        deinit { close(descriptor) }

        func write(_ bytes: [UInt8]) throws {
            var sent = 0
            while sent < bytes.count {
                let written = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
                guard written > 0 else { throw Failure(description: "send failed") }
                sent += written
            }
        }

        func closeSending() { shutdown(descriptor, Int32(SHUT_WR)) }

        /// What the server sends next, waiting up to the timeout; nil when it closed (a reset
        /// too: a server that closes with request bytes unread resets). Throws when it sent
        /// nothing in that time.
        func receive() throws -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 { return Array(buffer[0..<count]) }
            if count == 0 || errno == ECONNRESET { return nil }
            let reason = errno == EAGAIN || errno == EWOULDBLOCK ? "no answer within \(timeoutSeconds) s" : "recv failed (errno \(errno))"
            throw Failure(description: reason)
        }

        /// Whether anything arrives within `milliseconds`, without taking it.
        func hasBytes(within milliseconds: Int32) -> Bool {
            var readable = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            return poll(&readable, 1, milliseconds) > 0
        }
    }

    /// A port nothing listens on now, for a server whose URL must be known before it starts
    /// (the kernel may hand it out again, so use it at once).
    static func freePort() throws -> Int {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "cannot bind a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
