import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TesseraCore
import TesseraJWT
import TesseraPolicy
import TesseraText

/// Why `tessera verify` could not ask the issuer (its metadata, a JWK Set, introspection):
/// the token was not checked, which is exit status 69 (EX_UNAVAILABLE), not a verdict.
struct Unreachable: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// The issuer as `tessera verify` sees it: documents over HTTP GET and RFC 7662 introspection.
/// One AsyncHTTPClient for every request: 10 s each, redirects not followed (keys come from the
/// URL given, never from wherever a redirect points, which might be plain HTTP), bodies capped
/// at 256 KiB. The client talks to the issuer over HTTP only, never to its store.
struct IssuerConnection {
    static let timeout: TimeAmount = .seconds(10)
    static let maximumBytes = 256 * 1024

    private let client: HTTPClient

    init() {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: Self.timeout, read: Self.timeout)
        // One command makes one to three requests: a refused connection is the answer, not
        // something to retry with backoff until the timeout (a script waiting 10 s to learn it).
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Must be called once the command is done with the connection.
    func shutdown() async {
        try? await client.shutdown()
    }

    /// A document by GET, with the status, redirect and size checks of the upstream fetcher.
    func get(_ url: String) async throws(Unreachable) -> [UInt8] {
        do {
            return try await HTTPDocumentFetcher(client: client, timeout: Self.timeout, maximumBytes: Self.maximumBytes).fetch(url).body
        } catch {
            throw Unreachable(error.message)
        }
    }

    /// The issuer's RFC 8414 metadata at `issuer` + `/.well-known/oauth-authorization-server`
    /// (where Tessera serves it; a trailing `/` of the URL given is not doubled).
    func metadata(issuer: String) async throws(Unreachable) -> IssuerDocument {
        var base = issuer
        while base.hasSuffix("/") { base.removeLast() }
        let url = base + "/.well-known/oauth-authorization-server"
        return try IssuerDocument(try await get(url), issuer: issuer, url: url)
    }

    /// Asks the introspection endpoint whether `token` is active, authenticating the client
    /// with HTTP Basic (RFC 6749 §2.3.1: id and secret form-encoded first).
    func isActive(_ token: String, endpoint: String, clientID: String, secret: String) async throws(Unreachable) -> Bool {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Authorization", value: FormEncoding.basicCredentials(clientID: clientID, secret: secret))
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode([("token", token)])))
        let status: HTTPResponseStatus
        let body: [String: JSONValue]
        do {
            let response = try await client.execute(request, timeout: Self.timeout)
            status = response.status
            let bytes = Array(buffer: try await response.body.collect(upTo: Self.maximumBytes))
            body = (try? JSONParser.parseObject(bytes)) ?? [:]
        } catch is NIOTooManyBytesError {
            throw Unreachable("\(endpoint) sent more than the limit of \(Self.maximumBytes) bytes")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw Unreachable("\(endpoint) did not answer in time")
        } catch {
            throw Unreachable("cannot reach \(endpoint): \(error)")
        }
        guard status == .ok else {
            // The OAuth error says what to fix (a wrong secret, a client without can_introspect).
            let reason = [body["error"]?.stringValue, body["error_description"]?.stringValue].compactMap { $0 }.map(displayed)
            throw Unreachable("\(endpoint) answered HTTP \(status.code)" + (reason.isEmpty ? "" : ": " + reason.joined(separator: ": ")))
        }
        guard let active = body["active"]?.boolValue else {
            throw Unreachable("\(endpoint) answered without a boolean \"active\" (RFC 7662 §2.2)")
        }
        return active
    }
}

/// What `tessera verify` takes from the issuer's metadata. The document must name the issuer
/// asked for, exactly (RFC 8414 §3.3): metadata naming another issuer would hand over its keys.
struct IssuerDocument {
    let jwksURI: String
    let introspectionEndpoint: String?

    init(_ body: [UInt8], issuer: String, url: String) throws(Unreachable) {
        let object: [String: JSONValue]
        do {
            object = try JSONParser.parseObject(body)
        } catch {
            throw Unreachable("the metadata at \(url) is not a JSON object: \(error)")
        }
        let named = object[exactly: "issuer"]?.stringValue
        guard let named, named.isExactly(issuer) else {
            throw Unreachable("the metadata at \(url) names issuer \"\(displayed(named ?? ""))\", not \"\(issuer)\"")
        }
        guard let jwksURI = object["jwks_uri"]?.stringValue, UpstreamDefinition.isAcceptableURL(jwksURI) else {
            throw Unreachable("the metadata at \(url) has no jwks_uri that is https (or http on loopback)")
        }
        self.jwksURI = jwksURI
        introspectionEndpoint = object["introspection_endpoint"]?.stringValue
    }
}
