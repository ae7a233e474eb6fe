import Foundation

/// Requests and activations are stored as JSON documents beside the columns that index them:
/// the store filters on the columns and never interprets the rest, so adding a field to a
/// record needs no migration. One encoding for every backend.
enum StoredDocument {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String, table: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw StoreError("\(table): unreadable document: \(error)")
        }
    }
}
