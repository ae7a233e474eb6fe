import Foundation
import TesseraCrypto
import TesseraJWT

/// Role tokens kept on disk per server, role and audience, so kubectl (which runs the
/// credential plugin on every call) and scripts reuse one token instead of asking again:
/// `<cache>/tokens/<key>.json`, kept as `PrivateFiles` (0700/0600, a lock per entry).
struct TokenCache {
    struct Entry: Codable {
        var accessToken: String
        var expiresAt: Date
        var role: String
        var scope: String?
        var activationID: String?

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token", expiresAt = "expires_at", role, scope, activationID = "activation_id"
        }
    }

    /// A cached token is reused while more than this remains.
    static let minimumRemaining: TimeInterval = 60

    let directory: String

    init(cacheDirectory: String) {
        directory = (cacheDirectory as NSString).appendingPathComponent("tokens")
    }

    static func key(role: String, audience: String?, clientID: String) -> String {
        Base64URL.encode(Array(SHA256.hash(Array("\(clientID)\n\(role)\n\(audience ?? "")".utf8)).prefix(16)))
    }

    func read(_ key: String, now: Date) -> Entry? {
        guard let data = FileManager.default.contents(atPath: path(key)),
              let entry = try? JSONDecoder.tokenCache.decode(Entry.self, from: data),
              entry.expiresAt.timeIntervalSince(now) > Self.minimumRemaining
        else { return nil }
        return entry
    }

    func write(_ entry: Entry, key: String) throws(ClientFailure) {
        let data: Data
        do {
            data = try JSONEncoder.tokenCache.encode(entry)
        } catch {
            throw ClientFailure(.failure, "cannot encode the token cache entry: \(error.localizedDescription)")
        }
        try PrivateFiles.write(data, to: path(key))
    }

    /// Forgets every cached token of `role` (after its activation ended: they are revoked).
    func removeAll(role: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasSuffix(".json") {
            let file = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: file),
                  let entry = try? JSONDecoder.tokenCache.decode(Entry.self, from: data), entry.role == role else { continue }
            try? FileManager.default.removeItem(atPath: file)
        }
    }

    /// Holds the entry's lock until `body` returns: a second `tessera token` for the same role
    /// waits here and then finds the first one's token in the cache.
    func locked<T>(_ key: String, _ body: () async throws(ClientFailure) -> T) async throws(ClientFailure) -> T {
        try await PrivateFiles.locked(path(key), body)
    }

    private func path(_ key: String) -> String { (directory as NSString).appendingPathComponent(key + ".json") }
}

extension JSONEncoder {
    static var tokenCache: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }
}

extension JSONDecoder {
    static var tokenCache: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }
}
