import Foundation
import Testing
@testable import TesseraStore

/// The memory of decoded activation documents (`ActivationDocuments`): what it answers must be
/// what decoding the text answers, hit or miss.
@Suite("Activation documents")
struct ActivationDocumentsTests {
    static func record(id: String = "act_1", version: Int64 = 1, tokens: Int = 0) -> ActivationRecord {
        let start = Date(timeIntervalSince1970: 1_796_000_000.123456)
        return ActivationRecord(id: id, version: version, state: .active, holder: "corp:alice", upstream: "corp", role: "payments-oncall",
                                clientID: "tessera-cli", windowSeconds: 900, startsAt: start, endsAt: start.addingTimeInterval(900.5),
                                breakGlass: true, justification: "PSP outage — «paging» 🚨", ticket: "INC-1", tokens: tokens,
                                review: ActivationReview(), createdAt: start.addingTimeInterval(-0.000001), updatedAt: start)
    }

    @Test func aWrittenDocumentDecodesToTheRecordItWasWrittenFrom() throws {
        let record = Self.record()
        let text = try ActivationDocuments().encode(record)
        // A memory that never saw it decodes the text itself: the same record, to the microsecond.
        #expect(try ActivationDocuments().record(id: record.id, text: text, table: "activations") == record)
        #expect(try StoredDocument.decode(ActivationRecord.self, text, table: "activations") == record)
    }

    @Test func onlyTheVeryTextSeenBeforeIsAnsweredFromMemory() throws {
        let documents = ActivationDocuments()
        let first = Self.record()
        let firstText = try documents.encode(first)
        #expect(try documents.record(id: first.id, text: firstText, table: "activations") == first)
        // The next version under the same id (another process may have written it): decoded anew.
        var next = first
        next.version = 2
        next.tokens = 1
        let nextText = try StoredDocument.encode(next)
        #expect(try documents.record(id: first.id, text: nextText, table: "activations") == next)
        // A row whose id column says another activation still gets its text's record.
        #expect(try documents.record(id: "act_other", text: firstText, table: "activations") == first)
        // Unreadable text is refused, not answered from memory.
        #expect(throws: StoreError.self) { try documents.record(id: first.id, text: "{", table: "activations") }
    }

    @Test func pastItsCapacityItStillAnswersRight() throws {
        let documents = ActivationDocuments()
        var texts: [(ActivationRecord, String)] = []
        for index in 0...(ActivationDocuments.capacity + 10) {
            let record = Self.record(id: "act_\(index)", tokens: index)
            texts.append((record, try documents.encode(record)))
        }
        for (record, text) in [texts[0], texts[texts.count / 2], texts[texts.count - 1]] {
            #expect(try documents.record(id: record.id, text: text, table: "activations") == record)
        }
    }
}
