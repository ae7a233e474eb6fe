import Testing
@testable import TesseraCore
import TesseraJWT

/// An entry's canonical content is written member by member; its bytes must stay those of the
/// sorted JSON object (every sealed hash depends on them).
@Suite("Audit canonical content")
struct AuditCanonicalContentTests {
    /// The content as one sorted object, the way entries were always written.
    static func asSortedObject(_ event: AuditEvent) -> String {
        var actor: [String: JSONValue] = [:]
        actor["subject"] = event.actor.subject.map(JSONValue.string)
        actor["client_id"] = event.actor.clientID.map(JSONValue.string)
        actor["remote_address"] = event.actor.remoteAddress.map(JSONValue.string)
        actor["user_agent"] = event.actor.userAgent.map(JSONValue.string)
        var writer = JSONWriter()
        writer.value(.object([
            "event": .string(event.event), "outcome": .string(event.outcome.rawValue), "actor": .object(actor),
            "target": .object(event.target), "reasons": .array(event.reasons.map(JSONValue.string)),
        ]))
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    @Test(arguments: [
        AuditEvent("token.issued", outcome: .success,
                   actor: AuditActor(subject: "demo", clientID: "demo", remoteAddress: "127.0.0.1", userAgent: "wrk \"4\"\n"),
                   target: ["jti": .string("-P7y"), "aud": .array([.string("https://api.example")]), "exp": .number(1_796_000_300),
                            "Zulu": .bool(true), "\u{E9}t\u{E9}": .null],
                   reasons: ["a", "b\u{0}"]),
        AuditEvent("key.generated", outcome: .success),
        AuditEvent("token.denied", outcome: .failure, actor: AuditActor(userAgent: "curl"), reasons: ["no such client"]),
    ])
    func writtenMemberByMemberIsTheSortedObject(_ event: AuditEvent) {
        #expect(AuditChain.canonicalContent(event) == Self.asSortedObject(event))
    }
}
