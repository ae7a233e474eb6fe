import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TesseraCore

/// Discovery (RFC 8414, OpenID Connect Discovery) and the JWKS, all served from bytes
/// prepared when the issuer loaded, never rebuilt per request.
struct WellKnownController {
    /// Verifiers may cache the JWKS this long; key rotation pre-publishes keys for longer.
    static let jwksMaxAge = Int(KeyTimings.jwksMaxAge)

    let issuer: Issuer

    func addRoutes(to router: Router<TesseraRequestContext>) {
        for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
            addReadOnlyRoute(path, to: router) { _ in metadata() }
        }
        addReadOnlyRoute("/.well-known/jwks.json", to: router) { request in jwks(request) }
    }

    private func metadata() -> Response {
        Response(status: .ok,
                 headers: [.contentType: "application/json", .cacheControl: "public, max-age=\(Self.jwksMaxAge)"],
                 body: .init(byteBuffer: ByteBuffer(bytes: issuer.metadataDocument)))
    }

    private func jwks(_ request: Request) -> Response {
        let keys = issuer.keys.value
        var headers: HTTPFields = [
            .cacheControl: "public, max-age=\(Self.jwksMaxAge)",
            .eTag: keys.jwksETag,
        ]
        if let ifNoneMatch = request.headers[.ifNoneMatch], Self.matches(ifNoneMatch, etag: keys.jwksETag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = "application/jwk-set+json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: keys.jwksDocument)))
    }

    /// `If-None-Match` is a list of entity tags or `*` (RFC 9110 §13.1.2), compared weakly.
    static func matches(_ header: String, etag: String) -> Bool {
        let strip = { (tag: Substring) -> Substring in tag.hasPrefix("W/") ? tag.dropFirst(2) : tag }
        return header.split(separator: ",").contains { candidate in
            let trimmed = candidate.trimmingCharacters(in: .whitespaces)
            return trimmed == "*" || strip(Substring(trimmed)) == strip(Substring(etag))
        }
    }
}

/// A GET route that also answers HEAD (the HTTP layer sends headers only).
func addReadOnlyRoute(_ path: String, to router: Router<TesseraRequestContext>,
                      _ respond: @escaping @Sendable (Request) async throws -> Response) {
    router.get(RouterPath(path)) { request, _ in try await respond(request) }
    router.head(RouterPath(path)) { request, _ in try await respond(request) }
}
