import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// One GET to an on-call source, bounded in time and size: the whole exchange (connecting, the
/// head and the body) ends within `timeout` (and a moment's grace), and a body larger than `maximumBytes` is refused
/// before it is all read.
///
/// The deadline is our own, not only AsyncHTTPClient's: `execute(_:deadline:)` stops watching
/// the deadline once the head has arrived (1.37: the deadline task is cancelled when
/// `execute` returns), so a server that sends its head and then trickles or stalls the body
/// would otherwise hold a sync for as long as the client's read timeout allows, or forever.
struct BoundedHTTPGet: Sendable {
    let client: HTTPClient
    let timeout: Duration
    let maximumBytes: Int

    /// How long after `timeout` the whole exchange is abandoned.
    static let grace: Duration = .milliseconds(100)

    /// What was kept of an error answer's body: enough for the server's own error message.
    static let errorExcerptBytes = 4096

    struct Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        /// The whole body for 200; the first `errorExcerptBytes` for any other status.
        var body: [UInt8]
    }

    enum Failure: Error, Sendable {
        case timeout
        case connectTimeout
        /// `declared` is the Content-Length when that alone gave it away.
        case tooLarge(declared: Int?)
        case unreachable(String)
        case cancelled
    }

    func get(_ url: String, headers: HTTPHeaders) async throws(Failure) -> Response {
        var prepared = HTTPClientRequest(url: url)
        prepared.method = .GET
        prepared.headers = headers
        let request = prepared
        let amount = Self.timeAmount(timeout)
        let limit = maximumBytes
        let client = client
        let timeout = timeout
        let outcome: Result<Response, Failure> = await withTaskGroup(of: Result<Response, Failure>?.self) { group in
            group.addTask {
                do {
                    let response = try await client.execute(request, timeout: amount)
                    return .success(try await Self.read(response, limit: limit))
                } catch let failure as Failure {
                    return .failure(failure)
                } catch {
                    return .failure(Self.failure(for: error))
                }
            }
            group.addTask {
                // Cancelled (and answering nil) as soon as the request finishes first. A moment
                // after AsyncHTTPClient's own deadline, so that its more precise failure wins
                // when it has one (a connection that could not be made says why).
                try? await Task.sleep(for: timeout + Self.grace)
                return Task.isCancelled ? nil : .failure(.timeout)
            }
            defer { group.cancelAll() }
            while let next = await group.next() {
                if let result = next { return result }
            }
            return .failure(.cancelled)
        }
        if Task.isCancelled { throw .cancelled }
        return try outcome.get()
    }

    private static func read(_ response: HTTPClientResponse, limit: Int) async throws -> Response {
        let status = Int(response.status.code)
        guard status == 200 else {
            return Response(status: status, headers: response.headers, body: await excerpt(of: response.body))
        }
        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > limit {
            throw Failure.tooLarge(declared: length)
        }
        do {
            let body = try await response.body.collect(upTo: limit)
            return Response(status: status, headers: response.headers, body: Array(buffer: body))
        } catch is NIOTooManyBytesError {
            throw Failure.tooLarge(declared: nil)
        }
    }

    /// The first bytes of an error body; the rest is not waited for (leaving the loop ends the
    /// stream, and the connection with it).
    private static func excerpt(of body: HTTPClientResponse.Body) async -> [UInt8] {
        var kept: [UInt8] = []
        do {
            for try await chunk in body {
                kept += chunk.readableBytesView.prefix(errorExcerptBytes - kept.count)
                if kept.count >= errorExcerptBytes { break }
            }
        } catch {
            // A body cut short still leaves the status, which is what counts.
        }
        return kept
    }

    private static func failure(for error: any Error) -> Failure {
        if error is CancellationError { return .cancelled }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout: return .timeout
            case .connectTimeout: return .connectTimeout
            case .cancelled: return .cancelled
            case .remoteConnectionClosed: return .unreachable("the server closed the connection")
            default: break
            }
        }
        return .unreachable(describe(error))
    }

    /// A connection error in words: the operating system's reason for socket errors (NIO's own
    /// description adds the system call's signature), else the error's own short description.
    static func describe(_ error: any Error) -> String {
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode)).lowercased()
        }
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first?.error {
            return describe(first)
        }
        return AuditText.bounded("\(error)", maximumBytes: 300)
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        let (nanoseconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .nanoseconds(.max) : .nanoseconds(nanoseconds + attoseconds / 1_000_000_000)
    }
}
