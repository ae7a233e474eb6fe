import Foundation
import TesseraCrypto

/// Where a signing key is in its life (DESIGN.md, key lifecycle). Rotation moves keys through
/// these states; until it exists, a folder has one `current` key and possibly `next` ones.
public enum KeyState: String, Codable, Sendable, CaseIterable {
    /// Published in the JWKS, not signing yet.
    case next
    /// Signs new tokens; published.
    case current
    /// Verification only; published until its tokens expire.
    case previous
    /// Compromised: neither signing nor published.
    case revoked

    public var isPublished: Bool { self != .revoked }
}

/// One entry of `keys/manifest.json`.
public struct KeyManifestEntry: Codable, Sendable, Hashable {
    public var kid: String
    public var alg: SignatureAlgorithm
    public var state: KeyState
    public var created: Date
    /// The PEM file, relative to the keys folder.
    public var file: String
}

struct KeyManifest: Codable, Sendable {
    static let fileName = "manifest.json"
    static let currentVersion = 1

    var version: Int = currentVersion
    var keys: [KeyManifestEntry] = []
}

/// A signing key loaded from the keys folder: its manifest entry and the parsed key.
public struct StoredSigningKey: Sendable {
    public let entry: KeyManifestEntry
    public let privateKey: PrivateKey
}

/// An error about the keys folder, naming the file at fault.
public struct KeyDirectoryError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let message: String

    public var description: String { "\(path): \(message)" }
}

/// The keys folder: private keys as PKCS#8 PEM files (mode 0600) and a manifest of their
/// states. Every write goes to a temporary file first and is renamed into place, so a crash
/// never leaves a half-written manifest or key.
public struct KeyDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    var manifestPath: String { (path as NSString).appendingPathComponent(KeyManifest.fileName) }

    /// Loads every key of the manifest. A missing manifest is an empty folder, unless PEM files
    /// are lying there, which would mean keys the manifest does not know about.
    public func load() throws(KeyDirectoryError) -> [StoredSigningKey] {
        let manifest = try readManifest()
        var loaded: [StoredSigningKey] = []
        for entry in manifest.keys {
            let keyPath = (path as NSString).appendingPathComponent(entry.file)
            try Self.checkPrivate(keyPath)
            let pem: String
            do {
                pem = try String(contentsOfFile: keyPath, encoding: .utf8)
            } catch {
                throw KeyDirectoryError(path: keyPath, message: "cannot read the key listed in the manifest for kid \(entry.kid): \(error.localizedDescription)")
            }
            let key: PrivateKey
            do {
                key = try PrivateKey(pem: pem)
            } catch {
                throw KeyDirectoryError(path: keyPath, message: "not a usable private key: \(error.message)")
            }
            guard key.supports(entry.alg) else {
                throw KeyDirectoryError(path: keyPath, message: "the manifest says \(entry.alg) but this is a \(key.family.rawValue) key")
            }
            let kid = try? key.publicKey().thumbprint()
            guard kid == entry.kid else {
                throw KeyDirectoryError(path: keyPath, message: "the key's RFC 7638 thumbprint does not match the manifest kid \(entry.kid)")
            }
            loaded.append(StoredSigningKey(entry: entry, privateKey: key))
        }
        return loaded
    }

    /// Generates a key and adds it to the folder. The first key becomes `current`; later keys
    /// are `next` (published, not signing) until rotation promotes them.
    @discardableResult
    public func generate(algorithm: SignatureAlgorithm, rsaBits: Int = 2048, now: Date) throws(KeyDirectoryError) -> StoredSigningKey {
        let key: PrivateKey
        let kid: String
        let pem: String
        do {
            key = try PrivateKey.generate(KeySpec.defaultSpec(for: algorithm, rsaBits: rsaBits))
            kid = try key.publicKey().thumbprint()
            pem = try key.pkcs8PEM()
        } catch {
            throw KeyDirectoryError(path: path, message: "key generation failed: \(error.message)")
        }
        try createFolder()
        var manifest = try readManifest()
        let state: KeyState = manifest.keys.contains { $0.state == .current } ? .next : .current
        let entry = KeyManifestEntry(kid: kid, alg: algorithm, state: state, created: now, file: "\(kid).pem")
        let keyPath = (path as NSString).appendingPathComponent(entry.file)
        try writeAtomically(Data(pem.utf8), to: keyPath, permissions: 0o600)
        manifest.keys.append(entry)
        try writeManifest(manifest)
        return StoredSigningKey(entry: entry, privateKey: key)
    }

    func readManifest() throws(KeyDirectoryError) -> KeyManifest {
        guard FileManager.default.fileExists(atPath: manifestPath) else {
            let strays = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".pem") }
            if !strays.isEmpty {
                throw KeyDirectoryError(path: path, message: "holds \(strays.sorted().joined(separator: ", ")) but no \(KeyManifest.fileName); Tessera will not guess which key signs")
            }
            return KeyManifest()
        }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
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
        encoder.dateEncodingStrategy = .iso8601
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

    /// A private key readable by group or others is refused: whoever can read it can mint tokens.
    static func checkPrivate(_ keyPath: String) throws(KeyDirectoryError) {
        var info = stat()
        guard stat(keyPath, &info) == 0 else {
            throw KeyDirectoryError(path: keyPath, message: "the key file listed in the manifest is missing")
        }
        if info.st_mode & 0o077 != 0 {
            throw KeyDirectoryError(path: keyPath, message: String(format: "private key is readable by group or others (mode %o); run chmod 600 on it", info.st_mode & 0o777))
        }
    }
}

/// Writes `data` to a temporary file with `permissions` from the start, syncs it and renames
/// it over `path`, so readers see either the old or the new content, never a mix.
func writeAtomically(_ data: Data, to path: String, permissions: mode_t) throws(KeyDirectoryError) {
    let temporary = path + ".tmp-\(getpid())"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, permissions)
    guard descriptor >= 0 else {
        throw KeyDirectoryError(path: temporary, message: "cannot create: \(String(cString: strerror(errno)))")
    }
    let written = data.withUnsafeBytes { buffer in write(descriptor, buffer.baseAddress, buffer.count) }
    let synced = fsync(descriptor)
    close(descriptor)
    guard written == data.count, synced == 0, rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw KeyDirectoryError(path: path, message: "cannot write: \(reason)")
    }
}
