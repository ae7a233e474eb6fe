import Foundation
import TesseraCrypto
import TesseraJWT

/// The admin API's signing-key operations: `GET /admin/keys`, `POST /admin/keys/rotate`,
/// `POST /admin/keys/revoke`. The key manager audits each change with the admin as its actor.
extension AdminAPI {
    public func signingKeys(authorization: String?, origin: AuditActor) async throws(AdminAccessError) -> [UInt8] {
        let (manager, _) = try await keyOperation(authorization, origin: origin)
        do {
            return Self.document(["keys": .array(try await manager.entries().map(Self.json))])
        } catch {
            throw .unavailable
        }
    }

    /// Body: `{"alg":"ES256"}` (optional; the default algorithm when absent).
    public func rotateKey(authorization: String?, body: [UInt8], origin: AuditActor) async throws(AdminAccessError) -> [UInt8] {
        let (manager, actor) = try await keyOperation(authorization, origin: origin)
        let request = try Self.object(body, allowed: ["alg"])
        var algorithm: SignatureAlgorithm?
        if let name = request["alg"] {
            guard case .string(let text) = name, let named = SignatureAlgorithm(jwsName: text) else {
                throw .invalidRequest("alg must be one of ES256, RS256, PS256, EdDSA")
            }
            algorithm = named
        }
        do {
            return Self.document(["key": Self.json(try await manager.rotate(algorithm: algorithm, actor: actor))])
        } catch {
            throw .invalidRequest(error.message)
        }
    }

    /// Body: `{"kid":"...","reason":"..."}`, both required.
    public func revokeKey(authorization: String?, body: [UInt8], origin: AuditActor) async throws(AdminAccessError) -> [UInt8] {
        let (manager, actor) = try await keyOperation(authorization, origin: origin)
        let request = try Self.object(body, allowed: ["kid", "reason"])
        guard case .string(let kid)? = request["kid"], !kid.isEmpty else { throw .invalidRequest("kid is required") }
        guard case .string(let reason)? = request["reason"], !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .invalidRequest("reason is required: say why the key is revoked")
        }
        do {
            let revocation = try await manager.revoke(kid: kid, reason: reason, actor: actor)
            return Self.document([
                "key": Self.json(revocation.entry), "tokens_revoked": .number(Double(revocation.tokensRevoked)),
                "replacement_kid": revocation.replacementKeyID.map(JSONValue.string) ?? .null,
            ])
        } catch {
            throw .invalidRequest(error.message)
        }
    }

    private func keyOperation(_ authorization: String?, origin: AuditActor) async throws(AdminAccessError) -> (KeyManager, AuditActor) {
        let admin = try await authorize(authorization, origin: origin)
        guard let keyManager else { throw .unavailable }
        return (keyManager, admin.acting(from: origin))
    }

    static func object(_ body: [UInt8], allowed: Set<String>) throws(AdminAccessError) -> [String: JSONValue] {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return [:] }
        let object: [String: JSONValue]
        do {
            object = try JSONParser.parseObject(body)
        } catch {
            throw .invalidRequest("the body must be a JSON object: \(error)")
        }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .invalidRequest("unknown member \(unknown); allowed: \(allowed.sorted().joined(separator: ", "))")
        }
        return object
    }

    static func json(_ entry: SigningKeyEntry) -> JSONValue {
        var object: [String: JSONValue] = [
            "kid": .string(entry.kid), "alg": .string(entry.alg.jwsName), "state": .string(entry.state.rawValue),
            "created": .string(ManifestTime.format(entry.created)),
        ]
        object["activates_at"] = entry.activatesAt.map { .string(ManifestTime.format($0)) }
        object["retired_at"] = entry.retiredAt.map { .string(ManifestTime.format($0)) }
        object["remove_after"] = entry.removeAfter.map { .string(ManifestTime.format($0)) }
        object["revoked_at"] = entry.revokedAt.map { .string(ManifestTime.format($0)) }
        object["revocation_reason"] = entry.revocationReason.map(JSONValue.string)
        return .object(object)
    }

    static func document(_ members: [String: JSONValue]) -> [UInt8] {
        document(.object(members))
    }

    static func document(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter()
        writer.value(value)
        return writer.bytes
    }
}
