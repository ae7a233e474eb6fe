import Foundation
import TesseraCrypto
import TesseraPolicy
import TesseraStore

/// One entry of `keys/manifest.json`: a key's state and timeline, and its file.
struct KeyManifestEntry: Codable, Sendable, Hashable {
    var kid: String
    var alg: SignatureAlgorithm
    var state: KeyState
    var created: Date
    /// The private key's file, relative to the keys folder; absent for a revoked key, whose
    /// private part is deleted.
    var file: String?
    var activates: Date?
    var retired: Date?
    var removeAfter: Date?
    var revoked: Date?
    var revocationReason: String?

    enum CodingKeys: String, CodingKey {
        case kid, alg, state, created, file, activates, retired, revoked
        case removeAfter = "remove_after"
        case revocationReason = "revocation_reason"
    }

    var signingKeyEntry: SigningKeyEntry {
        SigningKeyEntry(kid: kid, alg: alg, state: state, created: created, activatesAt: activates, retiredAt: retired,
                        removeAfter: removeAfter, revokedAt: revoked, revocationReason: revocationReason)
    }

    init(_ entry: SigningKeyEntry, file: String?) {
        kid = entry.kid
        alg = entry.alg
        state = entry.state
        created = entry.created
        self.file = file
        activates = entry.activatesAt
        retired = entry.retiredAt
        removeAfter = entry.removeAfter
        revoked = entry.revokedAt
        revocationReason = entry.revocationReason
    }
}

struct KeyManifest: Codable, Sendable {
    static let fileName = "manifest.json"
    static let currentVersion = 1

    var version: Int = currentVersion
    /// Bumped by every change: the compare-and-swap token (a manifest without it is at 0).
    var generation: Int64?
    var keys: [KeyManifestEntry] = []
}

/// The keys folder of a single node: private keys as files (PKCS#8 PEM, or sealed with the
/// key-encryption key), mode 0600, and `manifest.json` with every key's state and timeline.
///
/// It is the file-backed `SigningKeyStore`: a change takes an exclusive `flock` on `.lock`,
/// checks the manifest's generation (compare-and-swap, so `tessera keys ...` and a running server
/// never overwrite each other), writes new key files, renames a new manifest into place, and
/// only then deletes the files of keys that left the set. Every file is written to a temporary
/// name and renamed, so a crash never leaves half a key or half a manifest.
public struct KeyDirectory: SigningKeyStore {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    var manifestPath: String { file(KeyManifest.fileName) }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    // MARK: - SigningKeyStore

    public func signingKeys() async throws -> SigningKeySnapshot {
        try snapshot()
    }

    public func signingKeysVersion() async throws -> Int64 {
        try withLock(exclusive: false) { () throws(KeyDirectoryError) in try readManifest().generation ?? 0 }
    }

    /// A keys folder keeps no set MAC: its integrity rests on the folder's permissions (only
    /// the database form is authenticated with the KEK, see `KeyMaterialCodec.setAuthenticator`),
    /// so a MAC handed here would be lost, and is refused instead.
    public func replaceSigningKeys(_ records: [SigningKeyRecord], mac: [UInt8]?, expectedVersion: Int64) async throws -> Bool {
        guard mac == nil else {
            throw KeyDirectoryError(path: manifestPath, message: "a keys folder keeps no key-set MAC")
        }
        return try replace(records, expectedVersion: expectedVersion)
    }

    // MARK: - Synchronous access (the CLI, tests, and the async methods above)

    /// The manifest and every key file's bytes, read under a shared lock so no change lands halfway.
    public func snapshot() throws(KeyDirectoryError) -> SigningKeySnapshot {
        try withLock(exclusive: false) { () throws(KeyDirectoryError) in
            let manifest = try readManifest()
            var records: [SigningKeyRecord] = []
            for entry in manifest.keys {
                var material: [UInt8] = []
                if let name = entry.file {
                    material = try Self.readPrivateKey(file(name), what: "the key listed in the manifest for kid \(entry.kid)")
                } else if entry.state != .revoked {
                    throw KeyDirectoryError(path: manifestPath, message: "kid \(entry.kid) is \(entry.state.rawValue) but has no file")
                }
                records.append(entry.signingKeyEntry.record(material: material))
            }
            return SigningKeySnapshot(version: manifest.generation ?? 0, records: records)
        }
    }

    /// The compare-and-swap of `SigningKeyStore.replaceSigningKeys`.
    public func replace(_ records: [SigningKeyRecord], expectedVersion: Int64) throws(KeyDirectoryError) -> Bool {
        try createFolder()
        return try withLock(exclusive: true) { () throws(KeyDirectoryError) in
            var manifest = try readManifest()
            guard (manifest.generation ?? 0) == expectedVersion else { return false }
            guard Set(records.map(\.kid)).count == records.count else {
                throw KeyDirectoryError(path: manifestPath, message: "a key set cannot list a kid twice")
            }
            let previousFiles = Set(manifest.keys.compactMap(\.file))
            var entries: [KeyManifestEntry] = []
            for record in records {
                let entry = try SigningKeyEntry(record: record)
                var name: String?
                if !record.material.isEmpty {
                    let fileName = Self.fileName(for: record)
                    // Key files never change once written: only a key new to the manifest gets one.
                    if !previousFiles.contains(fileName) {
                        try writeAtomically(Data(record.material), to: file(fileName), permissions: 0o600)
                    }
                    name = fileName
                }
                entries.append(KeyManifestEntry(entry, file: name))
            }
            manifest.keys = entries
            manifest.generation = expectedVersion + 1
            try writeManifest(manifest)
            for stale in previousFiles.subtracting(entries.compactMap(\.file)) {
                unlink(file(stale))
            }
            return true
        }
    }

    /// Every key that has a private part, opened with `codec`.
    public func load(codec: KeyMaterialCodec = KeyMaterialCodec(kek: nil, form: .file)) throws(KeyDirectoryError) -> [StoredSigningKey] {
        try snapshot().records.filter { !$0.material.isEmpty }.map { (record) throws(KeyDirectoryError) in
            let entry = try SigningKeyEntry(record: record)
            let location = file(Self.fileName(for: record))
            return StoredSigningKey(entry: entry, privateKey: try codec.open(record.material, for: entry, location: location))
        }
    }

    /// Generates a key and adds it to the folder. The first key of an algorithm becomes
    /// `current` at once (no verifier can hold an older set lacking it); a later one is `next`,
    /// published now and signing from `activatesAt` (default: after the default pre-publication
    /// time, so a key added this way never signs before verifiers can have it).
    @discardableResult
    public func generate(algorithm: SignatureAlgorithm, rsaBits: Int = 2048, now: Date, activatesAt: Date? = nil,
                         codec: KeyMaterialCodec = KeyMaterialCodec(kek: nil, form: .file)) throws(KeyDirectoryError) -> StoredSigningKey {
        let key = try SigningKeyFactory.generate(algorithm: algorithm, rsaBits: rsaBits)
        while true {
            let current = try snapshot()
            let hasCurrent = current.records.contains { $0.algorithm == algorithm.jwsName && $0.state == KeyState.current.rawValue }
            let entry = SigningKeyEntry(kid: key.kid, alg: algorithm, state: hasCurrent ? .next : .current, created: now,
                                        activatesAt: hasCurrent ? (activatesAt ?? now + TimeInterval(SigningKeyPolicy.defaultPrepublishSeconds)) : now)
            let records = current.records + [entry.record(material: try codec.seal(key.privateKey, for: entry))]
            if try replace(records, expectedVersion: current.version) {
                return StoredSigningKey(entry: entry, privateKey: key.privateKey)
            }
        }
    }

    func readManifest() throws(KeyDirectoryError) -> KeyManifest {
        guard FileManager.default.fileExists(atPath: manifestPath) else {
            let strays = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".pem") || $0.hasSuffix(".sealed") }
            if !strays.isEmpty {
                throw KeyDirectoryError(path: path, message: "holds \(strays.sorted().joined(separator: ", ")) but no \(KeyManifest.fileName); Tessera will not guess which key signs")
            }
            return KeyManifest()
        }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .custom { decoder in
                let text = try decoder.singleValueContainer().decode(String.self)
                guard let date = ManifestTime.parse(text) else {
                    throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 time: \(text)"))
                }
                return date
            }
            let manifest = try decoder.decode(KeyManifest.self, from: data)
            guard manifest.version == KeyManifest.currentVersion else {
                throw KeyDirectoryError(path: manifestPath, message: "unsupported manifest version \(manifest.version)")
            }
            return manifest
        } catch let error as KeyDirectoryError {
            throw error
        } catch {
            throw KeyDirectoryError(path: manifestPath, message: "not a valid key manifest: \(error)")
        }
    }

    private func writeManifest(_ manifest: KeyManifest) throws(KeyDirectoryError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Whole seconds would blur a timeline measured in seconds (tests rotate every few).
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ManifestTime.format(date))
        }
        let data: Data
        do {
            data = try encoder.encode(manifest)
        } catch {
            throw KeyDirectoryError(path: manifestPath, message: "cannot encode the manifest: \(error)")
        }
        try writeAtomically(data + Data("\n".utf8), to: manifestPath, permissions: 0o644)
    }

    private func createFolder() throws(KeyDirectoryError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw KeyDirectoryError(path: path, message: "cannot create the keys folder: \(error.localizedDescription)")
        }
    }

    /// Runs `body` holding `flock` on `.lock` in the folder: shared to read, exclusive to change.
    /// A folder that does not exist yet has nothing to read, so reading it needs no lock.
    private func withLock<T>(exclusive: Bool, _ body: () throws(KeyDirectoryError) -> T) throws(KeyDirectoryError) -> T {
        guard FileManager.default.fileExists(atPath: path) else { return try body() }
        let lockPath = file(".lock")
        let descriptor = open(lockPath, O_RDWR | O_CREAT, 0o600)
        guard descriptor >= 0 else {
            // A read-only folder (a mounted secret) cannot hold a lock file, and nothing can change it either.
            if !exclusive, errno == EACCES || errno == EROFS { return try body() }
            throw KeyDirectoryError(path: lockPath, message: "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard flock(descriptor, exclusive ? LOCK_EX : LOCK_SH) == 0 else {
            throw KeyDirectoryError(path: lockPath, message: "cannot lock: \(String(cString: strerror(errno)))")
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    /// `<kid>.sealed` for a key sealed with the key-encryption key, `<kid>.pem` for PEM.
    static func fileName(for record: SigningKeyRecord) -> String {
        let sealed = KeyEncryptionKey.unarmor(String(decoding: record.material, as: UTF8.self)) != nil
        return "\(record.kid).\(sealed ? "sealed" : "pem")"
    }

    /// The largest key file read: an RSA-4096 PEM, sealed and armored, is under 5 KiB.
    static let keyFileLimit = 64 * 1024

    /// The bytes of a private key file. A key readable by group or others is refused: whoever
    /// can read it can mint tokens. The mode is checked on the opened descriptor (`fstat`), as
    /// `KeyEncryptionKey.load` reads the KEK, so the file checked is the file read: a `stat`
    /// before a separate open could be answered for one file and the read served by another
    /// swapped in between. Symbolic links are followed (a mounted secret is a folder of links);
    /// the mode checked is the target's.
    /// `what` names the file in errors ("the key listed in the manifest for kid ...").
    static func readPrivateKey(_ keyPath: String, what: String) throws(KeyDirectoryError) -> [UInt8] {
        func reason() -> String { String(cString: strerror(errno)) }
        // O_NONBLOCK: opening a FIFO planted as a key would otherwise wait for a writer; a
        // regular file reads the same with or without it.
        let descriptor = open(keyPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            if errno == ENOENT { throw KeyDirectoryError(path: keyPath, message: "\(what) is missing") }
            throw KeyDirectoryError(path: keyPath, message: "cannot read \(what): \(reason())")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw KeyDirectoryError(path: keyPath, message: "cannot read \(what): \(reason())")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw KeyDirectoryError(path: keyPath, message: "\(what) is not a regular file")
        }
        if info.st_mode & 0o077 != 0 {
            throw KeyDirectoryError(path: keyPath, message: String(format: "private key is readable by group or others (mode %o); run chmod 600 on it", info.st_mode & 0o777))
        }
        var contents = [UInt8](repeating: 0, count: keyFileLimit + 1)
        var length = 0
        while length < contents.count {
            let count = contents.withUnsafeMutableBytes { buffer in read(descriptor, buffer.baseAddress! + length, buffer.count - length) }
            if count < 0 {
                if errno == EINTR { continue }
                throw KeyDirectoryError(path: keyPath, message: "cannot read \(what): \(reason())")
            }
            if count == 0 { break }
            length += count
        }
        guard length <= keyFileLimit else {
            throw KeyDirectoryError(path: keyPath, message: "too large to be a private key (more than \(keyFileLimit) bytes)")
        }
        contents.removeLast(contents.count - length)
        return contents
    }
}

/// Manifest times: ISO 8601 UTC with milliseconds (rotations in tests are seconds apart);
/// times without fractions, as earlier manifests have them, still read.
enum ManifestTime {
    static func format(_ date: Date) -> String {
        formatter(fractional: true).string(from: date)
    }

    static func parse(_ text: String) -> Date? {
        formatter(fractional: true).date(from: text) ?? formatter(fractional: false).date(from: text)
    }

    private static func formatter(fractional: Bool) -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = fractional ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        return formatter
    }
}

/// A freshly generated private key and its kid (the RFC 7638 thumbprint of its public half).
struct SigningKeyFactory {
    let privateKey: PrivateKey
    let kid: String

    static func generate(algorithm: SignatureAlgorithm, rsaBits: Int = 2048) throws(KeyDirectoryError) -> SigningKeyFactory {
        do {
            let key = try PrivateKey.generate(KeySpec.defaultSpec(for: algorithm, rsaBits: rsaBits))
            return SigningKeyFactory(privateKey: key, kid: try key.publicKey().thumbprint())
        } catch {
            throw KeyDirectoryError(path: "keys", message: "key generation failed: \(error.message)")
        }
    }
}

/// Writes `data` to a temporary file with `permissions` from the start, syncs it and renames
/// it over `path`, so readers see either the old or the new content, never a mix.
///
/// The temporary file has a random name and is created with `O_EXCL | O_NOFOLLOW`: someone who
/// can write the folder cannot plant a file or a symbolic link there in advance and have a
/// private key written through it, or into a file they can read. The rename replaces whatever
/// entry `path` is, a link included, without following it.
///
/// `temporaryName` is for tests that plant something at the temporary path.
func writeAtomically(_ data: Data, to path: String, permissions: mode_t, temporaryName: String? = nil) throws(KeyDirectoryError) {
    let name = temporaryName ?? "." + (path as NSString).lastPathComponent + ".tmp-" + Base64URL.encode(SecureRandom().bytes(count: 12))
    let temporary = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(name)
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, permissions)
    guard descriptor >= 0 else {
        throw KeyDirectoryError(path: temporary, message: "cannot create: \(String(cString: strerror(errno)))")
    }
    var written = 0
    var failure: Int32 = 0
    data.withUnsafeBytes { buffer in
        while written < buffer.count {
            let count = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
            if count < 0 {
                if errno == EINTR { continue }
                failure = errno
                return
            }
            written += count
        }
    }
    if failure == 0, fsync(descriptor) != 0 { failure = errno }
    close(descriptor)
    if failure == 0, rename(temporary, path) != 0 { failure = errno }
    guard failure == 0 else {
        unlink(temporary)
        throw KeyDirectoryError(path: path, message: "cannot write: \(String(cString: strerror(failure)))")
    }
    // The rename itself is durable once the folder is synced.
    let folder = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if folder >= 0 {
        fsync(folder)
        close(folder)
    }
}
