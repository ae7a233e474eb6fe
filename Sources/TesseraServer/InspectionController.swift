import HTTPTypes
import Hummingbird
import NIOCore
import TesseraCore

/// `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009): HTTP in, `TokenInspection` calls,
/// HTTP out. Both take the same form bodies and client authentication as `/token`.
struct InspectionController {
    let inspection: TokenInspection

    func addRoutes(to router: Router<TesseraRequestContext>) {
        router.post("/introspect") { request, context in
            let (form, basic, origin) = try await TokenController.readForm(request, context: context)
            let body = try await inspection.introspect(form: form, basic: basic, origin: origin, logger: context.logger)
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.post("/revoke") { request, context in
            let (form, basic, origin) = try await TokenController.readForm(request, context: context)
            try await inspection.revoke(form: form, basic: basic, origin: origin, logger: context.logger)
            return Response(status: .ok, headers: [.cacheControl: "no-store"])
        }
    }
}
