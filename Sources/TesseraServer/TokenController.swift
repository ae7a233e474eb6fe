import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TesseraCore
import TesseraCrypto
import TesseraJWT

/// `POST /token`: translates HTTP to a `TokenEndpoint` call and back, nothing more.
struct TokenController {
    static let maximumBodyBytes = 64 * 1024
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let forwardedField = HTTPField.Name("Forwarded")!

    let endpoint: TokenEndpoint

    func addRoutes(to router: Router<TesseraRequestContext>) {
        router.post("/token") { request, context in try await token(request, context: context) }
    }

    private func token(_ request: Request, context: TesseraRequestContext) async throws -> Response {
        let (form, basic, origin) = try await Self.readForm(request, context: context)
        let forwarded = ForwardedHeaders(xForwardedFor: request.headers[values: Self.xForwardedFor],
                                         forwarded: request.headers[values: Self.forwardedField])
        let response = try await endpoint.handle(form: form, basic: basic, origin: origin, forwarded: forwarded, logger: context.logger)
        let json = response.jsonBytes()
        return Response(status: .ok, headers: Self.successFields, body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }

    /// A token response's header fields (RFC 6749 §5.1: never cached).
    static let successFields: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store", HTTPField.Name("Pragma")!: "no-cache"]

    /// What every OAuth endpoint reads from a request: the form body (form-encoded only, at most
    /// `maximumBodyBytes`), Basic client credentials if present, and where the request came from.
    static func readForm(_ request: Request, context: TesseraRequestContext) async throws
        -> (FormParameters, (id: String, secret: String)?, AuditActor)
    {
        let contentType = request.headers[.contentType]
        try checkContentType(contentType, path: request.uri.path)
        let body = try await request.body.collect(upTo: Self.maximumBodyBytes)
        return try parse(body: body, authorization: request.headers[.authorization], userAgent: request.headers[.userAgent],
                         remoteAddress: context.remoteAddress)
    }

    /// The same from the parts of a request already read (the event loop's fast path has no
    /// `Request`): header values as received, repeated fields joined with ", " as `HTTPFields` does.
    static func readForm(body: ByteBuffer, contentType: String?, authorization: String?, userAgent: String?,
                         remoteAddress: SocketAddress?, path: some StringProtocol) throws(OAuthError)
        -> (FormParameters, (id: String, secret: String)?, AuditActor)
    {
        try checkContentType(contentType, path: path)
        return try parse(body: body, authorization: authorization, userAgent: userAgent, remoteAddress: remoteAddress)
    }

    /// A body whose content type was checked already.
    private static func parse(body: ByteBuffer, authorization: String?, userAgent: String?, remoteAddress: SocketAddress?)
        throws(OAuthError) -> (FormParameters, (id: String, secret: String)?, AuditActor)
    {
        let form = try FormParameters(urlEncoded: body.readableBytesView)
        let basic = try authorization.flatMap(Self.basicCredentials)
        let origin = AuditActor(remoteAddress: remoteAddress?.ipAddress, userAgent: userAgent)
        return (form, basic, origin)
    }

    private static func checkContentType(_ contentType: String?, path: some StringProtocol) throws(OAuthError) {
        let form = "application/x-www-form-urlencoded"
        // The exact spelling first: nearly every client sends it, and splitting and lowercasing
        // it was a percent of a token request.
        guard let contentType,
              contentType == form || contentType.split(separator: ";").first.map(Self.trimmingOWS)?.lowercased() == form
        else {
            throw OAuthError.invalidRequest("\(path) takes application/x-www-form-urlencoded bodies only")
        }
    }

    /// Drops RFC 9110 optional whitespace (spaces and tabs) at both ends. Foundation's
    /// `trimmingCharacters(in:)` goes through NSString: ~7% of a token request's CPU.
    static func trimmingOWS(_ text: Substring) -> Substring {
        let isOWS: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isOWS($0) }), let last = text.lastIndex(where: { !isOWS($0) }) else { return "" }
        return text[first...last]
    }

    /// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
    /// Other schemes are not client authentication and are ignored.
    static func basicCredentials(_ header: String) throws(OAuthError) -> (id: String, secret: String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, Self.isBasicScheme(parts[0]) else { return nil }
        // Not Foundation's base64: its decoding was about 2% of a token request.
        guard let decoded = Base64.decode(utf8: Self.trimmingOWS(parts[1]).utf8),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":"))
        else {
            throw .invalidClient("malformed Basic credentials")
        }
        let id = try FormParameters.decode(decoded[..<colon])
        let secret = try FormParameters.decode(decoded[decoded.index(after: colon)...])
        guard !id.isEmpty else { throw .invalidClient("malformed Basic credentials") }
        return (id, secret)
    }

    /// `Basic` in any case (RFC 9110 §11.1: schemes are case-insensitive), without lowercasing a copy.
    private static func isBasicScheme(_ scheme: Substring) -> Bool {
        let basic = "basic".utf8
        // ASCII letters differ from their capitals in the 0x20 bit alone.
        return scheme.utf8.count == basic.count && zip(scheme.utf8, basic).allSatisfy { $0 | 0x20 == $1 }
    }
}

/// `GET /healthz` (the process answers) and `GET /readyz` (keys and policies are loaded).
struct HealthController {
    let issuer: Issuer

    func addRoutes(to router: Router<TesseraRequestContext>) {
        addReadOnlyRoute("/healthz", to: router) { _ in
            Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        router.get("/readyz") { _, context in try await ready(logger: context.logger) }
        router.head("/readyz") { _, context in try await ready(logger: context.logger) }
    }

    private func ready(logger: Logger) async throws -> Response {
        // The issuer value only exists once keys and policies loaded; the store is asked now.
        let failing = await issuer.unavailableDependencies(logger: logger)
        guard failing.isEmpty else {
            var writer = JSONWriter()
            writer.value(.object(["status": "unavailable", "failing": .object(failing.mapValues(JSONValue.string))]))
            return Response(status: .serviceUnavailable, headers: [.contentType: "application/json", .cacheControl: "no-store", .retryAfter: "1"],
                            body: .init(byteBuffer: ByteBuffer(bytes: writer.bytes)))
        }
        let keys = issuer.keys.value
        let body = #"{"status":"ready","signing_kid":"\#(keys.currentKeyID)","published_keys":\#(keys.published.count),"clients":\#(issuer.clients.value.count)}"#
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
