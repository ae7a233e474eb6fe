import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TesseraCore

/// Discovery and the JWKS through the router: HEAD, and GETs that arrive while another request
/// of the same connection is in flight. Other GETs are answered by `FastPath` before
/// they reach the router, with the same answers (`WellKnownDocuments`).
struct WellKnownController {
    let documents: WellKnownDocuments

    init(issuer: Issuer) {
        documents = WellKnownDocuments(issuer: issuer)
    }

    func addRoutes(to router: Router<TesseraRequestContext>) {
        for path in WellKnownDocuments.metadataPaths {
            addReadOnlyRoute(path, to: router) { _ in Self.response(documents.answer(.metadata, ifNoneMatch: nil)) }
        }
        addReadOnlyRoute(WellKnownDocuments.jwksPath, to: router) { request in
            Self.response(documents.answer(.jwks, ifNoneMatch: request.headers[.ifNoneMatch]))
        }
    }

    static func response(_ answer: WellKnownDocuments.Answer) -> Response {
        Response(status: answer.status, headers: answer.headers,
                 body: answer.body.map { .init(byteBuffer: ByteBuffer(bytes: $0)) } ?? .init())
    }
}

/// A GET route that also answers HEAD (the HTTP layer sends headers only).
func addReadOnlyRoute(_ path: String, to router: Router<TesseraRequestContext>,
                      _ respond: @escaping @Sendable (Request) async throws -> Response) {
    router.get(RouterPath(path)) { request, _ in try await respond(request) }
    router.head(RouterPath(path)) { request, _ in try await respond(request) }
}
