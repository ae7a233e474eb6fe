import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// The admin API's on-call operations: `GET /admin/oncall` (schedules, sync age, who is on
/// call, overrides in force), `POST /admin/oncall/overrides`, `DELETE /admin/oncall/overrides/{id}`.
/// Each change is audited with the admin as its actor (`oncall.override_added`, `..._removed`).
extension AdminAPI {
    public func onCallOverview(authorization: String?, origin: AuditActor) async throws(AdminAccessError) -> [UInt8] {
        let (overrides, _) = try await onCallOperation(authorization, origin: origin)
        return Self.document(overrides.overview())
    }

    /// Body: `{"schedule":"...","who":"...","from":"<RFC 3339>","until":"<RFC 3339>","reason":"..."}`;
    /// `from` defaults to now, `reason` is optional.
    public func addOnCallOverride(authorization: String?, body: [UInt8], origin: AuditActor) async throws(AdminAccessError) -> [UInt8] {
        let (overrides, actor) = try await onCallOperation(authorization, origin: origin)
        let request = try Self.object(body, allowed: ["schedule", "who", "from", "until", "reason"])
        let schedule = try Self.string(request, "schedule")
        let who = try Self.string(request, "who")
        let from = try request["from"] == nil ? timeSource.now() : AuditQuery.time(try Self.string(request, "from"), "from")
        let until = try AuditQuery.time(try Self.string(request, "until"), "until")
        let reason = request["reason"] == nil ? nil : try Self.string(request, "reason")
        do throws(DatedEntryError) {
            return Self.document(.object(["override": OnCallOverrides.json(
                try await overrides.add(schedule: schedule, person: who, from: from, until: until, reason: reason, actor: actor))]))
        } catch {
            throw AdminAccessError(error)
        }
    }

    public func removeOnCallOverride(authorization: String?, id: String, origin: AuditActor) async throws(AdminAccessError) -> [UInt8] {
        let (overrides, actor) = try await onCallOperation(authorization, origin: origin)
        do throws(DatedEntryError) {
            return Self.document(.object(["override": OnCallOverrides.json(try await overrides.remove(id: id, actor: actor))]))
        } catch {
            throw AdminAccessError(error)
        }
    }

    private func onCallOperation(_ authorization: String?, origin: AuditActor) async throws(AdminAccessError) -> (OnCallOverrides, AuditActor) {
        let admin = try await authorize(authorization, origin: origin)
        guard let onCallOverrides, !onCallOverrides.onCall.configurationValue.isEmpty else { throw .notFound("the policy bundle declares no on-call schedules (policies/schedules/)") }
        return (onCallOverrides, admin.acting(from: origin))
    }

    static func string(_ object: [String: JSONValue], _ name: String) throws(AdminAccessError) -> String {
        guard case .string(let text)? = object[name], !text.isEmpty else { throw .invalidRequest("\(name) is required, as a string") }
        return text
    }
}

extension AdminAccessError {
    init(_ error: DatedEntryError) {
        switch error {
        case .invalid(let text): self = .invalidRequest(text)
        case .notFound(let text): self = .notFound(text)
        case .conflict(let text): self = .conflict(text)
        case .unavailable: self = .unavailable
        }
    }
}
