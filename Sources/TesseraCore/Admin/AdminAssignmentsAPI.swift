import Foundation
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// The admin API's eligibility assignments: `GET /admin/assignments` (`role`, `expiring`
/// query parameters), `POST /admin/assignments`, `DELETE /admin/assignments/{id}`. Each change is
/// audited with the admin as its actor (`eligibility.assigned`, `eligibility.removed`).
extension AdminAPI {
    public func assignmentList(authorization: String?, parameters: [(String, String)], origin: AuditActor) async throws(AdminAccessError) -> [UInt8] {
        let (book, _) = try await assignmentOperation(authorization, origin: origin)
        var role: String?
        var expiring: Int?
        for (name, value) in parameters {
            switch name {
            case "role": role = value
            case "expiring":
                guard let seconds = DurationText.seconds(value), seconds > 0 else { throw .invalidRequest("expiring is a duration such as 14d") }
                expiring = seconds
            default: throw .invalidRequest("unknown parameter \(name); known: role, expiring")
            }
        }
        return Self.document(.object(["assignments": .array(book.list(role: role, expiringWithin: expiring).map(EligibilityAssignmentBook.json))]))
    }

    /// Body: `{"role","subject"|"group","until","from"?,"reason","sponsor"?}`, times RFC 3339.
    public func addAssignment(authorization: String?, body: [UInt8], origin: AuditActor) async throws(AdminAccessError) -> [UInt8] {
        let (book, actor) = try await assignmentOperation(authorization, origin: origin)
        let request = try Self.object(body, allowed: ["role", "subject", "group", "from", "until", "reason", "sponsor"])
        let role = try Self.string(request, "role")
        let subject = request["subject"] == nil ? nil : try Self.string(request, "subject")
        let group = request["group"] == nil ? nil : try Self.string(request, "group")
        let from = request["from"] == nil ? nil : try AuditQuery.time(try Self.string(request, "from"), "from")
        let until = try AuditQuery.time(try Self.string(request, "until"), "until")
        let reason = request["reason"] == nil ? nil : try Self.string(request, "reason")
        let sponsor = request["sponsor"] == nil ? nil : try Self.string(request, "sponsor")
        do throws(DatedEntryError) {
            let entry = try await book.assign(role: role, subject: subject, group: group, from: from, until: until, reason: reason,
                                              sponsor: sponsor, actor: actor)
            return Self.document(.object(["assignment": EligibilityAssignmentBook.json(entry)]))
        } catch {
            throw AdminAccessError(error)
        }
    }

    public func removeAssignment(authorization: String?, id: String, origin: AuditActor) async throws(AdminAccessError) -> [UInt8] {
        let (book, actor) = try await assignmentOperation(authorization, origin: origin)
        do throws(DatedEntryError) {
            return Self.document(.object(["assignment": EligibilityAssignmentBook.json(try await book.unassign(id: id, actor: actor))]))
        } catch {
            throw AdminAccessError(error)
        }
    }

    private func assignmentOperation(_ authorization: String?, origin: AuditActor) async throws(AdminAccessError)
        -> (EligibilityAssignmentBook, AuditActor) {
        let admin = try await authorize(authorization, origin: origin)
        guard let assignments else { throw .unavailable }
        return (assignments, admin.acting(from: origin))
    }
}
