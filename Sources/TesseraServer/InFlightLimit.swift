import Hummingbird
import NIOCore
import Synchronization
import TesseraCore

/// A bounded number of requests in flight: past `limit`, a request is answered at once with
/// `503` and `{"error":"temporarily_unavailable"}` (RFC 6749 §4.1.2.1) and `Retry-After`,
/// instead of queueing without bound behind the others. Probes (`/healthz`, `/readyz`,
/// `/metrics`) are never refused, so an overloaded server still says how it is.
struct InFlightLimit: RouterMiddleware {
    typealias Context = TesseraRequestContext
    static let exempt: Set<String> = ["/healthz", "/readyz", "/metrics"]

    let limit: Int
    let metrics: TesseraMetrics
    /// Shared with the fast path's token requests, which count against the same limit.
    let inFlight: InFlightCount

    init(limit: Int, metrics: TesseraMetrics, inFlight: InFlightCount = InFlightCount()) {
        self.limit = limit
        self.metrics = metrics
        self.inFlight = inFlight
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !Self.exempt.contains(request.uri.path) else { return try await next(request, context) }
        guard inFlight.enter(limit: limit) else {
            metrics.refused(reason: "overload")
            let refusal = Self.refusal(limit: limit)
            return Response(status: .serviceUnavailable, headers: refusal.headerFields, body: .init(byteBuffer: ByteBuffer(bytes: refusal.jsonBody)))
        }
        defer { inFlight.leave() }
        return try await next(request, context)
    }

    /// The answer past the limit, on the router and on the event loop's fast path.
    static func refusal(limit: Int) -> OAuthError {
        OAuthError(.temporarilyUnavailable, "the server is at its limit of \(limit) requests in flight; try again", status: 503)
    }
}

/// The count the limit compares against, shared by every request of the server.
final class InFlightCount: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts the request in, unless `limit` are in flight already.
    func enter(limit: Int) -> Bool {
        if count.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
        count.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    func leave() {
        count.wrappingSubtract(1, ordering: .relaxed)
    }
}
