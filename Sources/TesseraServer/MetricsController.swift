import Hummingbird
import Synchronization
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
    private let routeNames = RouteNames()

    init(metrics: TesseraMetrics) {
        self.metrics = metrics
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.request(route: routeNames.name(context), method: request.method.rawValue, status: response.status.code,
                            duration: ContinuousClock.now - started)
            return response
        } catch let error as any HTTPResponseError {
            metrics.request(route: routeNames.name(context), method: request.method.rawValue, status: error.status.code,
                            duration: ContinuousClock.now - started)
            throw error
        } catch {
            metrics.request(route: routeNames.name(context), method: request.method.rawValue, status: 500, duration: ContinuousClock.now - started)
            throw error
        }
    }

}

/// Route labels by the router's endpoint path, each written once: splitting and joining the
/// path on every request cost as much as counting it.
final class RouteNames: Sendable {
    private let names = Mutex<[String: String]>([:])

    func name(_ context: TesseraRequestContext) -> String {
        // Hummingbird names the fallback of unmatched paths "NotFound".
        guard let path = context.endpointPath, path != "NotFound" else { return "unmatched" }
        if let name = names.withLock({ $0[path] }) { return name }
        let name = Self.label(path)
        names.withLock { $0[path] = name }
        return name
    }

    /// `/requests/{id}` for `/requests/:id`.
    static func label(_ path: String) -> String {
        "/" + path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
    }
}
