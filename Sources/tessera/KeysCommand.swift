import ArgumentParser
import Foundation
import Logging
import TesseraCore
import TesseraCrypto
import TesseraStore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage signing keys: list, rotate, revoke, import.",
        discussion: """
        Keys live in the keys folder, or in the database when the store is PostgreSQL (sealed with the \
        key-encryption key). Running servers pick up a change within --key-check-interval (default 2s).
        """,
        subcommands: [List.self, Rotate.self, Revoke.self, Import.self, Generate.self, KEK.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List signing keys: state, algorithm and timeline.")

        @OptionGroup var context: KeyCommandContext

        func run() async throws {
            let entries = await context.run { manager throws(KeyDirectoryError) in try await manager.entries() }
            guard !entries.isEmpty else {
                print("no keys yet; `tessera serve` creates the first one")
                return
            }
            let time = { (date: Date?) in date.map { $0.formatted(.iso8601) } ?? "-" }
            let rows = entries.map { entry in
                [entry.kid, entry.alg.jwsName, entry.state.rawValue, time(entry.created), time(entry.activatesAt), time(entry.removeAfter),
                 entry.revocationReason.map { "revoked \(time(entry.revokedAt)): \($0)" } ?? ""]
            }
            printTable(header: ["KID", "ALG", "STATE", "CREATED", "SIGNS FROM", "REMOVED AFTER", "NOTE"], rows: rows)
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a rotation: a new key is published now and signs after the pre-publication time (keys.yaml, default 1h).",
            discussion: "If a next key of the algorithm is already waiting, it is shown and nothing new is made.")

        @Option(help: "ES256, RS256, PS256 or EdDSA (default: the bundle's default algorithm).")
        var alg: String?

        @OptionGroup var context: KeyCommandContext

        func run() async throws {
            var algorithm: SignatureAlgorithm?
            if let alg {
                guard let named = SignatureAlgorithm(jwsName: alg) else { fail("unknown --alg \(alg); use ES256, RS256, PS256 or EdDSA") }
                algorithm = named
            }
            let entry = await context.run { manager throws(KeyDirectoryError) in
                try await manager.rotate(algorithm: algorithm, actor: KeyCommandContext.actor)
            }
            print("next \(entry.alg.jwsName) key \(entry.kid): published now, signs from \(entry.activatesAt?.formatted(.iso8601) ?? "now")")
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Emergency: revoke a compromised key. It leaves the JWKS, a replacement signs at once, and every token it signed is revoked.",
            discussion: """
            Verifiers that cached the JWKS keep trusting the key until their cache expires (Cache-Control max-age 300s; \
            some libraries keep it up to 10 minutes). Resource servers that introspect see its tokens inactive at once.
            """)

        @Argument(help: "The kid to revoke (from `tessera keys list`). A kid may begin with '-': write `tessera keys revoke -- KID`.")
        var kid: String

        @Option(help: "Why: recorded in the audit log and the key set.")
        var reason: String

        @OptionGroup var context: KeyCommandContext

        func validate() throws {
            guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--reason must say why") }
        }

        func run() async throws {
            let revocation = await context.run { manager throws(KeyDirectoryError) in
                try await manager.revoke(kid: kid, reason: reason, actor: KeyCommandContext.actor)
            }
            print("revoked \(revocation.entry.alg.jwsName) key \(kid); \(revocation.tokensRevoked) unexpired tokens revoked")
            if let replacement = revocation.replacementKeyID { print("key \(replacement) signs \(revocation.entry.alg.jwsName) tokens now") }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import an existing private key (PKCS#8 PEM), for a migration from another issuer.",
            discussion: "It becomes the next key: published now, signing after the pre-publication time (at once if no key of its algorithm exists).")

        @Argument(help: "The PEM file.")
        var file: String

        @Option(help: "ES256, RS256, PS256 or EdDSA (default: ES256 for P-256, EdDSA for Ed25519, RS256 for RSA).")
        var alg: String?

        @OptionGroup var context: KeyCommandContext

        func run() async throws {
            let key: PrivateKey
            do {
                key = try PrivateKey(pem: String(contentsOfFile: file, encoding: .utf8))
            } catch let error as CryptoError {
                fail("\(file): not a usable private key: \(error.message)")
            } catch {
                fail("\(file): cannot read: \(error.localizedDescription)")
            }
            guard let algorithm = alg.map({ SignatureAlgorithm(jwsName: $0) }) ?? SignatureAlgorithm.allCases.first(where: { key.supports($0) }) else {
                fail("unknown --alg \(alg ?? ""); use ES256, RS256, PS256 or EdDSA")
            }
            let entry = await context.run { manager throws(KeyDirectoryError) in
                try await manager.importKey(key, algorithm: algorithm, actor: KeyCommandContext.actor)
            }
            print("imported \(entry.alg.jwsName) key \(entry.kid) as \(entry.state.rawValue), signing from \(entry.activatesAt?.formatted(.iso8601) ?? "now")")
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the first key of an algorithm in the keys folder (set-up, before `serve` runs).",
            discussion: "For every later key use `tessera keys rotate`, which pre-publishes it.")

        @Option(help: "ES256 (default), EdDSA, RS256 or PS256.")
        var alg: String = "ES256"

        @Option(name: .customLong("rsa-bits"), help: "RSA key size for RS256/PS256: 2048 (default), 3072 or 4096.")
        var rsaBits: Int = 2048

        @OptionGroup var folders: FolderOptions
        @OptionGroup var encryption: KeyEncryptionOptions

        func run() throws {
            guard let algorithm = SignatureAlgorithm(jwsName: alg) else {
                fail("unknown --alg \(alg); use ES256, EdDSA, RS256 or PS256")
            }
            let directory = KeyDirectory(path: folders.keys)
            do {
                if try directory.snapshot().records.contains(where: { $0.algorithm == algorithm.jwsName && $0.state == KeyState.current.rawValue }) {
                    fail("\(folders.keys) already has a current \(algorithm) key; `tessera keys rotate --alg \(algorithm)` adds the next one "
                        + "and publishes it for the pre-publication time before it signs")
                }
                let key = try directory.generate(
                    algorithm: algorithm, rsaBits: rsaBits, now: Date(), codec: KeyMaterialCodec(kek: encryption.load(), form: .file))
                print("generated \(key.entry.alg) key \(key.entry.kid) (\(key.entry.state.rawValue)) in \(folders.keys)")
            } catch {
                fail("\(error)")
            }
        }
    }

    struct KEK: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "kek",
            abstract: "Print a new random key-encryption key (base64url of 32 bytes) for --key-encryption-key-file.",
            discussion: "Write it to a file only its owner can read (umask 077), and keep a copy apart from the database: without it the keys cannot be opened.")

        func run() throws {
            do {
                print(try KeyEncryptionKey.generate().encoded)
            } catch {
                fail(error.message)
            }
        }
    }
}

/// What every key command needs to reach the key set the servers use.
struct KeyCommandContext: ParsableArguments {
    @OptionGroup var folders: FolderOptions
    @OptionGroup var store: StoreOption
    @OptionGroup var encryption: KeyEncryptionOptions
    @OptionGroup var issuer: IssuerOption

    /// Changes made from the command line, as the audit log names them.
    static var actor: AuditActor {
        AuditActor(subject: "local:" + (ProcessInfo.processInfo.environment["USER"] ?? "unknown"), userAgent: "tessera keys")
    }

    /// Opens the key set, runs `operation`, closes the store; an error ends the command with its message.
    func run<T>(_ operation: (KeyManager) async throws(KeyDirectoryError) -> T) async -> T {
        let (manager, storage) = await openKeyManager(folders, store, encryption, issuer)
        do {
            let result = try await operation(manager)
            try? await storage.close()
            return result
        } catch {
            try? await storage.close()
            fail(error.description)
        }
    }
}

/// The key set the servers of this configuration use (the keys folder, or the database), for
/// commands. The caller closes the storage.
func openKeyManager(_ folders: FolderOptions, _ store: StoreOption, _ encryption: KeyEncryptionOptions,
                    _ issuer: IssuerOption) async -> (KeyManager, any TesseraStorage) {
    let configuration = keyConfiguration(folders, store, encryption, issuer)
    let storage: any TesseraStorage
    do {
        storage = try await Issuer.openStorage(configuration)
    } catch {
        fail(error.description)
    }
    return (await keyManager(configuration, storage: storage), storage)
}

/// The signing keys in force, for commands that sign (admin tokens, checkpoints) or check a
/// signature, read through the store the command has open.
func currentSigningKeys(_ folders: FolderOptions, _ store: StoreOption, _ encryption: KeyEncryptionOptions,
                        _ issuer: IssuerOption, storage: any TesseraStorage) async -> SigningKeys {
    let manager = await keyManager(keyConfiguration(folders, store, encryption, issuer), storage: storage)
    guard (try? await manager.entries().contains { $0.state == .current }) == true else {
        try? await storage.close()
        fail("no signing key yet: `tessera serve` creates the first one")
    }
    return manager.keys.value
}

private func keyConfiguration(_ folders: FolderOptions, _ store: StoreOption, _ encryption: KeyEncryptionOptions,
                              _ issuer: IssuerOption) -> IssuerConfiguration {
    IssuerConfiguration(issuer: issuer.value, keysDirectory: folders.keys, policiesDirectory: folders.policies,
                        dataDirectory: folders.data, storeURL: store.url, keyEncryptionKey: encryption.load())
}

/// The key manager over `storage`; on failure the storage is closed and the command ends.
private func keyManager(_ configuration: IssuerConfiguration, storage: any TesseraStorage) async -> KeyManager {
    var logger = Logger(label: "tessera")
    logger.logLevel = .warning
    do {
        return try await Issuer.keyManager(configuration, storage: storage, logger: logger)
    } catch {
        try? await storage.close()
        fail(error.description)
    }
}

func printTable(header: [String], rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
        let cells = row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }
        print(cells.joined(separator: "  "))
    }
}
