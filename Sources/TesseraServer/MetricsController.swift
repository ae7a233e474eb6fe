import Hummingbird
import NIOCore
import TesseraCore

/// `GET /metrics` in the Prometheus text format (version 0.0.4). Public on the main listener,
/// as Keycloak's and Hydra's are: the figures name no subject, token or secret (see
/// `TesseraMetrics`); put the listener behind the network's own rules if even counts are private.
struct MetricsController {
    let metrics: TesseraMetrics

    func addRoutes(to router: Router<TesseraRequestContext>) {
        addReadOnlyRoute("/metrics", to: router) { _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(bytes: await metrics.scrape())))
        }
    }
}

/// Counts every answered request by its route pattern (never the raw path), method and status
/// class, with its latency.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = TesseraRequestContext
    let metrics: TesseraMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.request(route: Self.route(context), method: request.method.rawValue, status: response.status.code,
                            duration: ContinuousClock.now - started)
            return response
        } catch let error as any HTTPResponseError {
            metrics.request(route: Self.route(context), method: request.method.rawValue, status: error.status.code,
                            duration: ContinuousClock.now - started)
            throw error
        } catch {
            metrics.request(route: Self.route(context), method: request.method.rawValue, status: 500, duration: ContinuousClock.now - started)
            throw error
        }
    }

    /// `/requests/{id}` for `/requests/:id`; `unmatched` when no route took the request.
    static func route(_ context: Context) -> String {
        // Hummingbird names the fallback of unmatched paths "NotFound".
        guard let path = context.endpointPath, path != "NotFound" else { return "unmatched" }
        return "/" + path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
    }
}
