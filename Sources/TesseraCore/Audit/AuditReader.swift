import Foundation
import TesseraStore

/// Filtered reads of the audit log that its index columns cannot fool.
///
/// The stores keep event, subject, client id, role, outcome and time in columns beside each
/// entry's hashed body, for their indexes; the hash chain covers the body only. Letting the
/// store filter on those columns would let anyone who can edit one hide an entry from a
/// filtered export while `audit verify` stays green. Checking only what a filtered query
/// returned would not help either: the hidden entry is the one it does not return.
///
/// So a filtered read does not filter in the store: it reads every entry after the cursor in
/// sequence order (the primary key, which the chain does cover: `AuditChain.verify` checks
/// sequences), checks each entry's columns against its body (`AuditChain.columnMismatch`), and
/// applies the filters here, to values now known to be the hashed ones. An entry whose
/// columns disagree stops the read with that entry and column named: a filtered export fails
/// loudly rather than leave something out.
///
/// The price is a scan of the log after the cursor instead of an index lookup: one JSON parse
/// per entry, microseconds, so about a second per million entries. Times are not a shortcut
/// either: they need not grow with the sequence (replicas' clocks differ), so an export from
/// a time still reads from the start of the log.
public enum AuditReader {
    /// The entries after `query.afterSequence` that match `query`'s filters, in sequence
    /// order, at most `query.limit`. Throws the `AuditChain.Break` of the first entry whose
    /// index columns disagree with its hashed body.
    public static func entries(matching query: AuditQuery, in store: any AuditStore,
                               pageSize: Int = AuditQuery.maximumPageSize) async throws -> [SealedAuditEntry] {
        var matched: [SealedAuditEntry] = []
        var cursor = query.afterSequence
        while matched.count < query.limit {
            let page = try await store.auditEntries(after: cursor, limit: pageSize)
            for entry in page {
                if let mismatch = AuditChain.columnMismatch(entry) { throw mismatch }
                guard query.matches(entry) else { continue }
                matched.append(entry)
                if matched.count == query.limit { break }
            }
            guard page.count == pageSize, let last = page.last else { break }
            cursor = last.sequence
        }
        return matched
    }
}
