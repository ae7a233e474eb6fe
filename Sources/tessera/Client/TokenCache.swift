import Foundation
import TesseraCrypto
import TesseraJWT

/// Role tokens kept on disk per server, role and audience, so kubectl (which runs the
/// credential plugin on every call) and scripts reuse one token instead of asking again:
/// `<cache>/tokens/<key>.json`, folder 0700, files 0600, one lock file per entry so parallel
/// invocations wait for one another instead of each starting a request.
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

    /// Written to a temporary file and renamed, so a reader never sees half an entry.
    func write(_ entry: Entry, key: String) throws(ClientFailure) {
        do {
            try prepareDirectory()
            let data = try JSONEncoder.tokenCache.encode(entry)
            let temporary = path(key) + ".tmp-\(getpid())"
            guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
                throw ClientFailure(.failure, "cannot write the token cache in \(directory)")
            }
            guard rename(temporary, path(key)) == 0 else { throw ClientFailure(.failure, "cannot write the token cache in \(directory)") }
        } catch let failure as ClientFailure {
            throw failure
        } catch {
            throw ClientFailure(.failure, "cannot write the token cache in \(directory): \(error.localizedDescription)")
        }
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
        do {
            try prepareDirectory()
        } catch {
            throw ClientFailure(.failure, "cannot create the token cache \(directory): \(error.localizedDescription)")
        }
        let descriptor = open(path(key) + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ClientFailure(.failure, "cannot lock the token cache in \(directory)") }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw ClientFailure(.failure, "cannot lock the token cache in \(directory)") }
        defer { flock(descriptor, LOCK_UN) }
        return try await body()
    }

    private func path(_ key: String) -> String { (directory as NSString).appendingPathComponent(key + ".json") }

    private func prepareDirectory() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
    }
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
