import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import TesseraCore

/// `POST /token` as `FastPath` answers it: the request's fields read off the HTTP/1 head, the
/// endpoint called in one task, and its answer (a token or an OAuth error) as the response.
/// Everything `TokenController` and the router's middleware do for the same request happens
/// here too: the same form and credential parsing, the limit of requests in flight, the
/// request metrics.
struct TokenFastPath: Sendable {
    static let path = "/token"

    let endpoint: TokenEndpoint
    let metrics: TesseraMetrics
    /// The server's limit of requests in flight and its count, shared with `InFlightLimit`.
    let limit: Int
    let inFlight: InFlightCount
    let logger: Logger

    /// What the endpoint reads of a request, and its body as it arrives.
    struct Request: Sendable {
        let contentType: String?
        let authorization: String?
        let userAgent: String?
        let forwarded: ForwardedHeaders
        let remoteAddress: SocketAddress?
        let started: ContinuousClock.Instant
        var body: ByteBuffer
    }

    /// A request for the fast path, nil when the router takes it: another path, or a body the
    /// router's rules apply to (no single `Content-Length`, one over the limit, `Expect`).
    func request(_ head: HTTPRequestHead, path: Substring, remoteAddress: SocketAddress?) -> Request? {
        let lengths = head.headers["content-length"]
        guard path == Self.path, lengths.count == 1, let length = Int(lengths[0]), length <= TokenController.maximumBodyBytes,
              !head.headers.contains(name: "transfer-encoding"), !head.headers.contains(name: "expect")
        else { return nil }
        func field(_ name: String) -> String? {
            let values = head.headers[name]
            return values.isEmpty ? nil : values.joined(separator: ", ")
        }
        return Request(contentType: field("content-type"), authorization: field("authorization"), userAgent: field("user-agent"),
                       forwarded: ForwardedHeaders(xForwardedFor: head.headers["x-forwarded-for"], forwarded: head.headers["forwarded"]),
                       remoteAddress: remoteAddress, started: ContinuousClock.now, body: ByteBuffer())
    }

    /// Answers `request` and hands the response to `write`, always from a task of its own (never
    /// before `answer` returns, so the connection's handler is not entered twice).
    func answer(_ request: Request, then write: @escaping @Sendable (FastResponse) -> Void) {
        guard inFlight.enter(limit: limit) else {
            metrics.refused(reason: "overload")
            let refusal = response(to: request, .failure(InFlightLimit.refusal(limit: limit)))
            Task { write(refusal) }
            return
        }
        Task {
            let outcome = await issue(request)
            inFlight.leave()
            write(response(to: request, outcome))
        }
    }

    private func issue(_ request: Request) async -> Result<TokenResponse, OAuthError> {
        do throws(OAuthError) {
            let (form, basic, origin) = try TokenController.readForm(
                body: request.body, contentType: request.contentType, authorization: request.authorization,
                userAgent: request.userAgent, remoteAddress: request.remoteAddress, path: Self.path)
            // Tagged like the router's requests, so a token's log lines read the same either way.
            var logger = logger
            logger[metadataKey: "hb.request.id"] = .stringConvertible(RequestID())
            return .success(try await endpoint.handle(form: form, basic: basic, origin: origin, forwarded: request.forwarded, logger: logger))
        } catch {
            return .failure(error)
        }
    }

    private func response(to request: Request, _ outcome: Result<TokenResponse, OAuthError>) -> FastResponse {
        let response = switch outcome {
        case .success(let token): FastResponse(status: .ok, fields: TokenController.successFields, body: token.jsonBytes())
        case .failure(let error): FastResponse(status: error.status, fields: error.headerFields, body: error.jsonBody)
        }
        let status = switch outcome {
        case .success: 200
        case .failure(let error): error.httpStatus
        }
        metrics.request(route: Self.path, method: "POST", status: status, duration: ContinuousClock.now - request.started)
        return response
    }
}
