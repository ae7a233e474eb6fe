import Hummingbird
import NIOCore

/// `GET /openapi.json`: the HTTP contract, public (it says nothing a client could not learn by
/// trying), for client generators and API fuzzers.
struct OpenAPIController {
    /// Built once: the document never changes while the server runs.
    private static let body = ByteBuffer(string: OpenAPIDocument.json)

    func addRoutes(to router: Router<TesseraRequestContext>) {
        addReadOnlyRoute("/openapi.json", to: router) { _ in
            Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-cache"],
                     body: .init(byteBuffer: Self.body))
        }
    }
}
