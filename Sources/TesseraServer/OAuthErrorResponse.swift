import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import TesseraCore
import TesseraJWT

/// The one place where errors become HTTP responses: RFC 6749 §5.2 JSON for OAuth errors,
/// the same shape for routing errors, and a `server_error` without detail for anything else,
/// so nothing internal leaks.
extension OAuthError: ResponseGenerator, HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: httpStatus) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: headerFields, body: .init(byteBuffer: ByteBuffer(bytes: jsonBody)))
    }

    /// The response's header fields, on every path that answers an error (router and fast path).
    var headerFields: HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if code == .invalidClient {
            // RFC 6749 §5.2: a 401 carries a challenge for the scheme the client may use.
            headers[.wwwAuthenticate] = #"Basic realm="tessera""#
        }
        if code == .temporarilyUnavailable { headers[.retryAfter] = "1" }
        return headers
    }

    var jsonBody: [UInt8] {
        if !fields.isEmpty {
            var object = fields
            object["error"] = .string(code.rawValue)
            if !errorDescription.isEmpty { object["error_description"] = .string(errorDescription) }
            var writer = JSONWriter(capacity: 512)
            writer.value(.object(object))
            return writer.bytes
        }
        var object: [String: String] = ["error": code.rawValue]
        if !errorDescription.isEmpty { object["error_description"] = errorDescription }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(object)).map(Array.init) ?? Array(#"{"error":"server_error"}"#.utf8)
    }
}

/// Turns every error thrown below it into a JSON error response.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = TesseraRequestContext

    /// Tells a wrong method on a known path (405) from an unknown path (404).
    let routeMethods: RouteMethods

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as OAuthError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError where error.status == .notFound {
            if let allowed = routeMethods.methods(for: request.uri.path) {
                return try MethodNotAllowed(method: request.method, path: request.uri.path, allowed: allowed)
                    .response(from: request, context: context)
            }
            return try OAuthError(.notFound, "no such endpoint: \(request.method) \(request.uri.path)", status: 404)
                .response(from: request, context: context)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            return try OAuthError(.invalidRequest, "the request body is larger than \(TokenController.maximumBodyBytes) bytes", status: 413)
                .response(from: request, context: context)
        } catch let error as HTTPError {
            return try OAuthError(.invalidRequest, error.body ?? error.status.reasonPhrase, status: error.status.code)
                .response(from: request, context: context)
        } catch {
            context.logger.error("unexpected error", metadata: ["tessera.error": .string(String(describing: type(of: error)))])
            return try OAuthError(.serverError, "internal error").response(from: request, context: context)
        }
    }
}
