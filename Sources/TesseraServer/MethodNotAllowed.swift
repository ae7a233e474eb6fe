import HTTPTypes
import Hummingbird
import Synchronization
import TesseraCore

/// A request with a method the path does not support: 405 with `Allow` (RFC 9110 §15.5.6).
struct MethodNotAllowed {
    let method: HTTPRequest.Method
    let path: String
    let allowed: [HTTPRequest.Method]

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        var response = try OAuthError(.invalidRequest, "\(method) is not supported on \(path); allowed: \(allow)", status: 405)
            .response(from: request, context: context)
        response.headers[.allow] = allow
        return response
    }
}

/// The methods each route path answers, so that a request the router finds no route for is told
/// apart: a known path with another method (any method, TRACE and QUERY included) is a 405, an
/// unknown path a 404. `buildRouter` fills it once, after every route is added.
final class RouteMethods: Sendable {
    private struct Route {
        /// Path segments; a `:name` segment matches any one segment.
        let segments: [String]
        let methods: [HTTPRequest.Method]
    }

    private let routes = Mutex<[Route]>([])

    func record(_ descriptions: [Router<TesseraRequestContext>.RouteDescription]) {
        let byPath = Dictionary(grouping: descriptions) { "\($0.path)" }
        let recorded = byPath.map { path, routes in
            Route(segments: path.split(separator: "/").map(String.init), methods: routes.map(\.method))
        }
        routes.withLock { $0 = recorded }
    }

    /// The methods `path` answers, in a fixed order; nil when no route has this path.
    func methods(for path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/")
        let matching = routes.withLock { routes in
            routes.filter { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { pattern, segment in pattern.hasPrefix(":") || pattern == segment }
            }
        }
        guard !matching.isEmpty else { return nil }
        return Set(matching.flatMap(\.methods)).sorted { Self.order($0) < Self.order($1) }
    }

    private static func order(_ method: HTTPRequest.Method) -> Int {
        [HTTPRequest.Method.get, .head, .post, .put, .patch, .delete].firstIndex(of: method) ?? 99
    }
}
