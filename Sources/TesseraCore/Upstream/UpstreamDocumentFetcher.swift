import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TesseraPolicy

/// A JSON document fetched from an upstream (a JWK Set or a discovery document), with the
/// freshness its server declared.
public struct FetchedDocument: Sendable {
    public var body: [UInt8]
    /// `Cache-Control: max-age` in seconds, unclamped; nil without one.
    public var maxAge: TimeInterval?

    public init(body: [UInt8], maxAge: TimeInterval? = nil) {
        self.body = body
        self.maxAge = maxAge
    }
}

/// Why a document could not be fetched; the message names the URL and the cause, never a body.
public struct UpstreamFetchError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Fetches upstream documents. The HTTP implementation is `HTTPDocumentFetcher`; tests may
/// substitute their own.
public protocol UpstreamDocumentFetcher: Sendable {
    func fetch(_ url: String) async throws(UpstreamFetchError) -> FetchedDocument
}

/// Fetches documents with AsyncHTTPClient: a GET with a deadline and a response size limit.
/// The `HTTPClient` belongs to the caller, who shuts it down.
public struct HTTPDocumentFetcher: UpstreamDocumentFetcher {
    public static let defaultTimeout: TimeAmount = .seconds(5)
    public static let defaultMaximumBytes = 256 * 1024

    /// Sent with every fetch, so the operators of a feed or an IdP can tell who polls them.
    public static let userAgent = "Tessera (just-in-time access tokens)"

    let client: HTTPClient
    let timeout: TimeAmount
    let maximumBytes: Int
    let accept: String

    public init(client: HTTPClient, timeout: TimeAmount = HTTPDocumentFetcher.defaultTimeout,
                maximumBytes: Int = HTTPDocumentFetcher.defaultMaximumBytes, accept: String = "application/json") {
        self.client = client
        self.timeout = timeout
        self.maximumBytes = maximumBytes
        self.accept = accept
    }

    /// An `HTTPClient` configured for upstream fetches: redirects are not followed (a JWKS URL
    /// is configured exactly; a redirect could lead to plain HTTP), connections time out in 5 s.
    public static func makeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(5), read: .seconds(5))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func fetch(_ url: String) async throws(UpstreamFetchError) -> FetchedDocument {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "User-Agent", value: Self.userAgent)
        do {
            let response = try await client.execute(request, timeout: timeout)
            guard response.status == .ok else {
                throw UpstreamFetchError("\(url) answered HTTP \(response.status.code)")
            }
            if let finalURL = response.url?.absoluteString, finalURL != url, !UpstreamDefinition.isAcceptableURL(finalURL) {
                throw UpstreamFetchError("\(url) redirected to a URL that is neither https nor loopback")
            }
            if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > maximumBytes {
                throw UpstreamFetchError("\(url) sent \(length) bytes, more than the limit of \(maximumBytes)")
            }
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: maximumBytes)
            } catch is NIOTooManyBytesError {
                throw UpstreamFetchError("\(url) sent more than the limit of \(maximumBytes) bytes")
            }
            return FetchedDocument(body: Array(buffer: body), maxAge: CacheControl.maxAge(response.headers[canonicalForm: "cache-control"]))
        } catch let error as UpstreamFetchError {
            throw error
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw UpstreamFetchError("\(url) did not answer in time")
        } catch {
            throw UpstreamFetchError("cannot fetch \(url): \(error)")
        }
    }
}

/// `Cache-Control` as far as a JWKS cache needs it (RFC 9111 §5.2.2).
enum CacheControl {
    /// The `max-age` directive in seconds; `no-cache`/`no-store` count as 0 (the cache clamps it
    /// to its minimum). Nil when the header says nothing about freshness.
    static func maxAge<S: Sequence>(_ values: S) -> TimeInterval? where S.Element: StringProtocol {
        var result: TimeInterval?
        for value in values {
            for directive in value.split(separator: ",") {
                let trimmed = directive.trimmingCharacters(in: .whitespaces).lowercased()
                if trimmed == "no-cache" || trimmed == "no-store" { return 0 }
                if trimmed.hasPrefix("max-age=") {
                    var digits = trimmed.dropFirst("max-age=".count)
                    if digits.hasPrefix("\""), digits.hasSuffix("\""), digits.count >= 2 { digits = digits.dropFirst().dropLast() }
                    if !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
                        // Values beyond Int range are simply "very long"; the cache clamps them.
                        result = TimeInterval(digits) ?? .greatestFiniteMagnitude
                    }
                }
            }
        }
        return result
    }
}
