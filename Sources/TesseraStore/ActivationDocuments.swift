import Synchronization

/// Activation documents and the records they decode to, the last of each activation this
/// process read or wrote. A token exchange reads its holder's activation and its audit group
/// reads it again to count the token; decoding the JSON each time was about 8% of an
/// exchange's CPU, and the text only changes when the activation does.
///
/// A record is a function of its document's text, so a hit (the very text seen before) is
/// exact whatever connection, transaction or process the text came from: nothing here needs
/// to know whether it committed. (Encoding is exact too: decoding what `encode` wrote gives
/// the record back, which the tests hold.)
final class ActivationDocuments: Sendable {
    private let known = Mutex<[String: (text: String, record: ActivationRecord)]>([:])
    /// Activations remembered at most; past it, the memory starts again empty.
    static let capacity = 10_000

    /// The record `text` holds; `id` is the row's, to look it up by.
    func record(id: String?, text: String, table: String) throws -> ActivationRecord {
        if let id, let seen = known.withLock({ $0[id] }), seen.text == text { return seen.record }
        let record = try StoredDocument.decode(ActivationRecord.self, text, table: table)
        remember(record, text: text)
        return record
    }

    /// The document to store for `record`.
    func encode(_ record: ActivationRecord) throws -> String {
        let text = try StoredDocument.encode(record)
        remember(record, text: text)
        return text
    }

    private func remember(_ record: ActivationRecord, text: String) {
        known.withLock { known in
            if known.count >= Self.capacity, known[record.id] == nil { known.removeAll(keepingCapacity: true) }
            known[record.id] = (text, record)
        }
    }
}
