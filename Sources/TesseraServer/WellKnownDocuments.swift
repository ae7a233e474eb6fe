import Foundation
import HTTPTypes
import TesseraCore

/// Discovery (RFC 8414, OpenID Connect Discovery) and the JWKS as HTTP answers, from the
/// bytes the issuer prepared when it loaded its metadata and keys: the router's routes and the
/// event-loop fast path (`FastPath`) answer with the same status, headers and body.
struct WellKnownDocuments: Sendable {
    /// Verifiers may cache the JWKS this long; key rotation pre-publishes keys for longer.
    static let maxAge = Int(KeyTimings.jwksMaxAge)
    static let jwksPath = "/.well-known/jwks.json"
    static let metadataPaths = ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]

    struct Answer {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        /// nil for 304 Not Modified.
        let body: [UInt8]?
    }

    let issuer: Issuer

    /// Which document a path (without its query) names.
    enum Document {
        case jwks, metadata

        init?(path: Substring) {
            if path == WellKnownDocuments.jwksPath {
                self = .jwks
            } else if WellKnownDocuments.metadataPaths.contains(where: { $0 == path }) {
                self = .metadata
            } else {
                return nil
            }
        }
    }

    func answer(_ document: Document, ifNoneMatch: String?) -> Answer {
        switch document {
        case .jwks: jwks(ifNoneMatch: ifNoneMatch)
        case .metadata: metadata()
        }
    }

    /// The document's current bytes.
    func body(_ document: Document) -> [UInt8] {
        switch document {
        case .jwks: issuer.keys.value.jwksDocument
        case .metadata: issuer.metadataDocument
        }
    }

    private func metadata() -> Answer {
        Answer(status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=\(Self.maxAge)"],
               body: issuer.metadataDocument)
    }

    private func jwks(ifNoneMatch: String?) -> Answer {
        let keys = issuer.keys.value
        var headers: HTTPFields = [
            .cacheControl: "public, max-age=\(Self.maxAge)",
            .eTag: keys.jwksETag,
        ]
        if let ifNoneMatch, Self.matches(ifNoneMatch, etag: keys.jwksETag) {
            return Answer(status: .notModified, headers: headers, body: nil)
        }
        headers[.contentType] = "application/jwk-set+json"
        return Answer(status: .ok, headers: headers, body: keys.jwksDocument)
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
