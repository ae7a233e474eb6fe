import HTTPTypes
import Hummingbird
import NIOCore
import TesseraCore
import TesseraJWT

/// The admin API (`GET /admin/audit`, `POST /admin/explain`, `/admin/keys...`) and the public audit checkpoint
/// (`GET /audit/checkpoint`). Authorization and auditing live in `AdminAPI`; this only
/// translates HTTP.
struct AdminController {
    static let maximumExplainBytes = 64 * 1024
    static let maximumKeyRequestBytes = 4 * 1024

    let admin: AdminAPI
    let checkpointer: AuditCheckpointer

    func addRoutes(to router: Router<TesseraRequestContext>) {
        router.get("/admin/audit") { request, context in
            let parameters = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
            return try await respond(request, context) { (origin: AuditActor) async throws(AdminAccessError) -> [UInt8] in
                try await admin.auditEntries(authorization: request.headers[.authorization], parameters: parameters, origin: origin)
            }
        }
        router.post("/admin/explain") { request, context in
            let body = try await request.body.collect(upTo: Self.maximumExplainBytes)
            return try await respond(request, context) { (origin: AuditActor) async throws(AdminAccessError) -> [UInt8] in
                try await admin.explain(authorization: request.headers[.authorization], body: String(buffer: body), origin: origin)
            }
        }
        router.get("/admin/keys") { request, context in
            try await respond(request, context) { (origin: AuditActor) async throws(AdminAccessError) -> [UInt8] in
                try await admin.signingKeys(authorization: request.headers[.authorization], origin: origin)
            }
        }
        router.post("/admin/keys/rotate") { request, context in
            let body = try await request.body.collect(upTo: Self.maximumKeyRequestBytes)
            return try await respond(request, context) { (origin: AuditActor) async throws(AdminAccessError) -> [UInt8] in
                try await admin.rotateKey(authorization: request.headers[.authorization], body: Array(buffer: body), origin: origin)
            }
        }
        router.post("/admin/keys/revoke") { request, context in
            let body = try await request.body.collect(upTo: Self.maximumKeyRequestBytes)
            return try await respond(request, context) { (origin: AuditActor) async throws(AdminAccessError) -> [UInt8] in
                try await admin.revokeKey(authorization: request.headers[.authorization], body: Array(buffer: body), origin: origin)
            }
        }
        addOnCallRoutes(to: router)
        addAssignmentRoutes(to: router)
        // Public on purpose: a checkpoint reveals only a count and a hash, and its value is
        // that anyone outside can keep copies.
        addReadOnlyRoute("/audit/checkpoint", to: router) { _ in
            guard let latest = await checkpointer.latest else {
                throw OAuthError(.notFound, "no checkpoint has been taken yet (the log is empty or the first interval has not passed)",
                                 status: 404)
            }
            return Response(status: .ok, headers: [.contentType: "application/jwt", .cacheControl: "no-cache"],
                            body: .init(byteBuffer: ByteBuffer(string: latest)))
        }
    }

    private func addOnCallRoutes(to router: Router<TesseraRequestContext>) {
        router.get("/admin/oncall") { request, context in
            try await respond(request, context) { (origin: AuditActor) async throws(AdminAccessError) -> [UInt8] in
                try await admin.onCallOverview(authorization: request.headers[.authorization], origin: origin)
            }
        }
        router.post("/admin/oncall/overrides") { request, context in
            let body = try await request.body.collect(upTo: Self.maximumKeyRequestBytes)
            return try await respond(request, context) { (origin: AuditActor) async throws(AdminAccessError) -> [UInt8] in
                try await admin.addOnCallOverride(authorization: request.headers[.authorization], body: Array(buffer: body), origin: origin)
            }
        }
        router.delete("/admin/oncall/overrides/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await respond(request, context) { (origin: AuditActor) async throws(AdminAccessError) -> [UInt8] in
                try await admin.removeOnCallOverride(authorization: request.headers[.authorization], id: id, origin: origin)
            }
        }
    }

    private func addAssignmentRoutes(to router: Router<TesseraRequestContext>) {
        router.get("/admin/assignments") { request, context in
            let parameters = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
            return try await respond(request, context) { (origin: AuditActor) async throws(AdminAccessError) -> [UInt8] in
                try await admin.assignmentList(authorization: request.headers[.authorization], parameters: parameters, origin: origin)
            }
        }
        router.post("/admin/assignments") { request, context in
            let body = try await request.body.collect(upTo: Self.maximumKeyRequestBytes)
            return try await respond(request, context) { (origin: AuditActor) async throws(AdminAccessError) -> [UInt8] in
                try await admin.addAssignment(authorization: request.headers[.authorization], body: Array(buffer: body), origin: origin)
            }
        }
        router.delete("/admin/assignments/:id") { request, context in
            let id = context.parameters.get("id") ?? ""
            return try await respond(request, context) { (origin: AuditActor) async throws(AdminAccessError) -> [UInt8] in
                try await admin.removeAssignment(authorization: request.headers[.authorization], id: id, origin: origin)
            }
        }
    }

    /// Runs an admin operation and answers its JSON, or its error.
    private func respond(_ request: Request, _ context: TesseraRequestContext,
                         _ operation: (AuditActor) async throws(AdminAccessError) -> [UInt8]) async throws -> Response {
        let origin = AuditActor(remoteAddress: context.remoteAddress?.ipAddress, userAgent: request.headers[.userAgent])
        do {
            let body = try await operation(origin)
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(bytes: body)))
        } catch {
            return Self.response(error)
        }
    }

    /// RFC 6750 §3: the challenge in `WWW-Authenticate`, and the same JSON error body as the
    /// OAuth endpoints.
    static func response(_ error: AdminAccessError) -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        if let challenge = error.challenge { headers[.wwwAuthenticate] = challenge }
        var body = #"{"error":"\#(error.code ?? "unauthorized")""#
        body += #","error_description":\#(jsonString(error.description))}"#
        return Response(status: HTTPResponse.Status(code: error.httpStatus), headers: headers,
                        body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private static func jsonString(_ text: String) -> String {
        var writer = JSONWriter()
        writer.value(.string(text))
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
