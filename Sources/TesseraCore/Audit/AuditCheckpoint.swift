import Foundation
import TesseraJWT
import TesseraStore

/// A signed statement "the audit log had `sequence` entries ending in `hash` at `time`", as a
/// compact JWS signed with the issuer's current key. Whoever keeps a checkpoint can later prove
/// the log was not rewritten or truncated before it: verification fails unless the entry at
/// `sequence` still carries `hash` and the chain up to it is intact.
public struct AuditCheckpoint: Sendable, Hashable {
    /// The JWS `typ` of checkpoints, so no access token can pass for one.
    public static let type = "tessera-audit-checkpoint+jwt"

    public let issuer: String
    public let head: AuditChainHead
    public let time: Date

    public init(issuer: String, head: AuditChainHead, time: Date) {
        self.issuer = issuer
        self.head = head
        self.time = time
    }

    /// The checkpoint signed with `keys`' current key.
    public func signed(with keys: SigningKeys) throws(JWTError) -> String {
        var writer = JSONWriter()
        writer.value(.object([
            "iss": .string(issuer),
            "sequence": .number(Double(head.sequence)),
            "hash": .string(head.hash),
            "iat": .number(time.timeIntervalSince1970.rounded(.down)),
        ]))
        return try keys.signer.sign(payload: writer.bytes, type: Self.type)
    }

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Reads a checkpoint whose signature verifies with one of `keys` (the issuer's published keys).
    public static func verified(_ compact: String, issuer: String, keys: SigningKeys) throws(Invalid) -> AuditCheckpoint {
        let verifier = JWTVerifier(policy: VerificationPolicy(issuer: issuer, audiences: [], maximumTokenBytes: 4096, expectedType: type))
        let claims: JWTClaims
        do {
            let jws = try UnverifiedJWS(compact: compact.trimmingCharacters(in: .whitespacesAndNewlines), maximumBytes: 4096)
            claims = try verifier.verifySignature(jws, keys: keys.verificationKeys).1
            try claims.verifyIssuer(issuer)
        } catch {
            throw Invalid(description: "not a valid checkpoint of this issuer: \(error.message)")
        }
        guard let sequence = claims["sequence"]?.numberValue, sequence >= 1, sequence == sequence.rounded(),
              let hash = claims.string("hash"), let issuedAt = claims.issuedAt
        else {
            throw Invalid(description: "the checkpoint lacks sequence, hash or iat")
        }
        return AuditCheckpoint(issuer: issuer, head: AuditChainHead(sequence: Int64(sequence), hash: hash), time: issuedAt)
    }

    /// Whether the log in `store` still contains the checkpointed entry unchanged, with an
    /// intact chain up to it.
    public func confirm(in store: any AuditStore) async throws -> Result<Void, AuditChain.Break> {
        var head: AuditChainHead?
        while head?.sequence ?? 0 < self.head.sequence {
            let page = try await store.auditEntries(after: head?.sequence ?? 0, limit: min(1000, Int(self.head.sequence - (head?.sequence ?? 0))))
            if page.isEmpty {
                return .failure(AuditChain.Break(sequence: (head?.sequence ?? 0) + 1,
                                                 reason: "missing: the log ends before the checkpointed entry \(self.head.sequence)"))
            }
            switch AuditChain.verify(page, after: head) {
            case .success(let next): head = next
            case .failure(let broken): return .failure(broken)
            }
        }
        guard head == self.head else {
            return .failure(AuditChain.Break(sequence: self.head.sequence,
                                             reason: "differs from the checkpoint of \(time.formatted(.iso8601)): the log was rewritten"))
        }
        return .success(())
    }
}
