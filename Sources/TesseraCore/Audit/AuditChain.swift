import Foundation
import TesseraCrypto
import TesseraJWT
import TesseraStore

/// The hash chain of the audit log: each entry's hash is `SHA-256(previous hash || canonical
/// JSON of the entry)`, the first entry building on 32 zero bytes. Editing, deleting or
/// reordering any entry changes every hash after it.
public enum AuditChain {
    public static let genesisHash = String(repeating: "0", count: 64)

    /// An event with its content already in canonical form. Preparing it is the expensive part
    /// (JSON, sorting); it happens in the caller's task, in parallel, so the one serial step,
    /// sealing, only numbers, concatenates and hashes.
    public struct Prepared: Sendable {
        public let event: AuditEvent
        /// Canonical JSON of the event's content (everything but sequence and time).
        public let content: String
        /// The token whose issuing the event records, stored in the same write.
        public let issuedToken: IssuedTokenRecord?
        /// The activation the event opens and the notifications it causes, stored in the same write.
        public let openedActivation: ActivationRecord?
        public let notifications: [OutboxNotification]
        /// The token is issued under an activation recorded before, which must still cover
        /// it when the entry commits (`SealedAuditEntry.countsOnActivation`).
        public let countsOnActivation: Bool

        public init(_ event: AuditEvent, issuedToken: IssuedTokenRecord? = nil, openedActivation: ActivationRecord? = nil,
                    notifications: [OutboxNotification] = [], countsOnActivation: Bool = false) {
            self.event = event
            self.content = AuditChain.canonicalContent(event)
            self.issuedToken = issuedToken
            self.openedActivation = openedActivation
            self.notifications = notifications
            self.countsOnActivation = countsOnActivation
        }
    }

    /// Seals `events` after `head`, all at `time`. The body of an entry is
    /// `{"entry":<content>,"sequence":N,"time":"<RFC 3339, milliseconds>"}`: canonical JSON
    /// (sorted keys, no whitespace), so one entry has exactly one byte string.
    public static func seal(_ events: [Prepared], after head: AuditChainHead?, time: Date) -> [SealedAuditEntry] {
        var sequence = head?.sequence ?? 0
        // The previous hash as bytes, parsed from hex once per group: each entry's digest is
        // the next one's prefix as it is. Sealing is the group's one serial step.
        var previous = hexBytes(head?.hash ?? genesisHash) ?? []
        let milliseconds = time.millisecondsSince1970
        let stamped = Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
        // One timestamp for the whole group, formatted once: formatting costs microseconds.
        let timeText = stamped.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        return events.map { prepared in
            sequence += 1
            let body = #"{"entry":\#(prepared.content),"sequence":\#(sequence),"time":"\#(timeText)"}"#
            previous = chainDigest(previous: previous, body: body)
            let hash = hex(previous)
            let event = prepared.event
            return SealedAuditEntry(sequence: sequence, time: stamped, event: event.event, subject: event.actor.subject,
                                    clientID: event.actor.clientID, role: event.target["role"]?.stringValue,
                                    outcome: event.outcome.rawValue, body: body, hash: hash,
                                    issuedToken: prepared.issuedToken, openedActivation: prepared.openedActivation,
                                    notifications: prepared.notifications, countsOnActivation: prepared.countsOnActivation)
        }
    }

    static func chainHash(previous: String, body: String) -> String {
        hex(chainDigest(previous: hexBytes(previous) ?? [], body: body))
    }

    /// `SHA-256(previous || body)`, hashing one buffer built in place.
    private static func chainDigest(previous: [UInt8], body: String) -> [UInt8] {
        var input = previous
        input.append(contentsOf: body.utf8)
        return input.withUnsafeBytes { SHA256.hash(buffer: $0) }
    }

    /// The event's content as canonical JSON: sorted keys, no whitespace, integers without
    /// fractions.
    static func canonicalContent(_ event: AuditEvent) -> String {
        // Written member by member in the order `JSONWriter` sorts an object's names (their
        // UTF-8 bytes), so the bytes are those of the sorted object, without building the
        // dictionaries of one per entry (their hashing was a tenth of sealing a token's entry).
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        writer.key("actor")
        writer.beginObject()
        let actor = event.actor
        for (name, value) in [("client_id", actor.clientID), ("remote_address", actor.remoteAddress),
                              ("subject", actor.subject), ("user_agent", actor.userAgent)] {
            guard let value else { continue }
            writer.key(name)
            writer.string(value)
        }
        writer.endObject()
        writer.key("event"); writer.string(event.event)
        writer.key("outcome"); writer.string(event.outcome.rawValue)
        writer.key("reasons"); writer.value(.array(event.reasons.map(JSONValue.string)))
        writer.key("target"); writer.value(.object(event.target))
        writer.endObject()
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// Where a chain stops being valid.
    public struct Break: Error, Sendable, Hashable, CustomStringConvertible {
        public let sequence: Int64
        public let reason: String
        public var description: String { "entry \(sequence): \(reason)" }
    }

    /// Checks entries that continue after `head` (nil: from the start of the log) and returns the
    /// new head, or the first break: a sequence out of place, a hash that does not match, or an
    /// index column that disagrees with the hashed body (`columnMismatch`).
    public static func verify(_ entries: [SealedAuditEntry], after head: AuditChainHead?) -> Result<AuditChainHead?, Break> {
        var expectedSequence = (head?.sequence ?? 0) + 1
        var previous = head?.hash ?? genesisHash
        var last = head
        for entry in entries {
            guard entry.sequence == expectedSequence else {
                return .failure(Break(sequence: expectedSequence, reason: entry.sequence > expectedSequence
                    ? "missing (the next entry present is \(entry.sequence))" : "out of order (found \(entry.sequence))"))
            }
            guard let object = try? JSONParser.parseObject(Array(entry.body.utf8)),
                  object["sequence"]?.numberValue == Double(entry.sequence)
            else {
                return .failure(Break(sequence: entry.sequence, reason: "the entry's content does not carry its sequence number"))
            }
            guard chainHash(previous: previous, body: entry.body) == entry.hash else {
                return .failure(Break(sequence: entry.sequence, reason: "hash mismatch: the entry or one before it was changed"))
            }
            if let mismatch = columnMismatch(entry, body: object) {
                return .failure(mismatch)
            }
            previous = entry.hash
            last = entry.head
            expectedSequence += 1
        }
        return .success(last)
    }

    /// Where an entry's index columns (what the stores filter on: event, subject, client id,
    /// role, outcome, time) disagree with its hashed body, naming the column; nil when they agree.
    /// The hash covers the body only, so without this an edited column would hide an entry from
    /// a filtered read while the chain still verified.
    public static func columnMismatch(_ entry: SealedAuditEntry) -> Break? {
        guard let object = try? JSONParser.parseObject(Array(entry.body.utf8)) else {
            return Break(sequence: entry.sequence, reason: "the entry's content is not a JSON object")
        }
        return columnMismatch(entry, body: object)
    }

    private static func columnMismatch(_ entry: SealedAuditEntry, body: [String: JSONValue]) -> Break? {
        let content = body["entry"]?.objectValue ?? [:]
        let actor = content["actor"]?.objectValue ?? [:]
        let target = content["target"]?.objectValue ?? [:]
        let columns: [(name: String, stored: String?, hashed: String?)] = [
            ("event", entry.event, content["event"]?.stringValue),
            ("subject", entry.subject, actor["subject"]?.stringValue),
            ("client_id", entry.clientID, actor["client_id"]?.stringValue),
            ("role", entry.role, target["role"]?.stringValue),
            ("outcome", entry.outcome, content["outcome"]?.stringValue),
        ]
        func shown(_ value: String?) -> String { value.map { "\"\($0)\"" } ?? "nothing" }
        if let column = columns.first(where: { $0.stored != $0.hashed }) {
            return Break(sequence: entry.sequence, reason: "the \(column.name) column says \(shown(column.stored)) but the hashed entry says "
                + "\(shown(column.hashed)): the column was edited, and filtered reads (audit export, the admin API) would misplace the entry")
        }
        // The body's time is the text `seal` formatted from the entry's time; the column read back
        // formats to the same text exactly when it holds the same millisecond.
        let hashedTime = body["time"]?.stringValue
        let storedTime = entry.time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        guard storedTime == hashedTime else {
            return Break(sequence: entry.sequence, reason: "the time column says \(storedTime) but the hashed entry says "
                + "\(shown(hashedTime)): the column was edited, and filtered reads (audit export, the admin API) would misplace the entry")
        }
        return nil
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        ClientRegistry.bytes(fromHex: text)
    }
}
