import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TesseraCore
import TesseraJWT

/// Requests and activations over HTTP (`/requests...`, `/activations...`). Who may do what
/// lives in `ActivationAPI`; this only translates HTTP: bodies are form-encoded or JSON objects
/// of strings (or empty), at most `maximumBodyBytes`.
struct ActivationController {
    static let maximumBodyBytes = 16 * 1024

    let api: ActivationAPI

    func addRoutes(to router: Router<TesseraRequestContext>) {
        router.get("/requests") { request, _ in
            try await respond { () async throws(ActivationError) -> [UInt8] in
                try await api.requests(authorization: request.headers[.authorization], query: Self.query(request))
            }
        }
        router.get("/requests/:id") { request, context in
            let id = try context.parameters.require("id")
            let wait = Self.query(request)["wait"]
            return try await respond { () async throws(ActivationError) -> [UInt8] in
                try await api.request(id, authorization: request.headers[.authorization], wait: wait)
            }
        }
        router.post("/requests/:id/:action") { request, context in
            let (id, action) = (try context.parameters.require("id"), try context.parameters.require("action"))
            let form = try await Self.body(request)
            return try await respond { () async throws(ActivationError) -> [UInt8] in
                try await api.decide(id, action: action, authorization: request.headers[.authorization], form: form)
            }
        }
        router.get("/activations") { request, _ in
            try await respond { () async throws(ActivationError) -> [UInt8] in
                try await api.activations(authorization: request.headers[.authorization], query: Self.query(request))
            }
        }
        router.get("/activations/:id") { request, context in
            let id = try context.parameters.require("id")
            return try await respond { () async throws(ActivationError) -> [UInt8] in
                try await api.activation(id, authorization: request.headers[.authorization])
            }
        }
        router.post("/activations/:id/:action") { request, context in
            let (id, action) = (try context.parameters.require("id"), try context.parameters.require("action"))
            let form = try await Self.body(request)
            return try await respond { () async throws(ActivationError) -> [UInt8] in
                try await api.act(id, action: action, authorization: request.headers[.authorization], form: form)
            }
        }
    }

    private func respond(_ operation: () async throws(ActivationError) -> [UInt8]) async throws -> Response {
        do {
            let body = try await operation()
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(bytes: body)))
        } catch {
            var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
            if let challenge = error.challenge { headers[.wwwAuthenticate] = challenge }
            var writer = JSONWriter()
            writer.value(.object(["error": .string(error.code), "error_description": .string(error.message)]))
            return Response(status: HTTPResponse.Status(code: error.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: writer.bytes)))
        }
    }

    static func query(_ request: Request) -> [String: String] {
        var parameters: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { parameters[String(key)] = String(value) }
        return parameters
    }

    /// The body's string fields: form-encoded, a JSON object of strings, or nothing.
    static func body(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: maximumBodyBytes)
        guard buffer.readableBytes > 0 else { return [:] }
        let type = request.headers[.contentType].flatMap { $0.split(separator: ";").first }.map(TokenController.trimmingOWS)?.lowercased()
        switch type {
        case "application/x-www-form-urlencoded":
            let form = try FormParameters(urlEncoded: buffer.readableBytesView)
            var fields: [String: String] = [:]
            for name in ["comment", "reason", "by", "lifetime", "justification"] { fields[name] = form[name] }
            return fields
        case "application/json":
            guard case .object(let object)? = try? JSONParser.parse(Array(buffer.readableBytesView)) else {
                throw OAuthError.invalidRequest("the body must be a JSON object")
            }
            var fields: [String: String] = [:]
            for (key, value) in object {
                guard case .string(let text) = value else { throw OAuthError.invalidRequest("\(key) must be a string") }
                fields[key] = text
            }
            return fields
        default:
            throw OAuthError(.invalidRequest, "\(request.uri.path) takes application/x-www-form-urlencoded or application/json bodies", status: 415)
        }
    }
}
