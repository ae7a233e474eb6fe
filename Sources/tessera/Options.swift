import ArgumentParser
import Foundation
import Logging
import TesseraCore
import TesseraCrypto
import TesseraStore

/// Options that name Tessera's folders. Each falls back to a `TESSERA_*` environment variable,
/// then to the default, so flags, environment and defaults resolve the same way everywhere.
struct FolderOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: "Data folder (env TESSERA_DATA, default ./.tessera).")
    var dataFlag: String?

    @Option(name: .customLong("keys"), help: "Signing keys folder (env TESSERA_KEYS, default ./keys).")
    var keysFlag: String?

    @Option(name: .customLong("policies"), help: "Policy bundle folder (env TESSERA_POLICIES, default ./policies).")
    var policiesFlag: String?

    var data: String { resolve(dataFlag, "TESSERA_DATA", "./.tessera") }
    var keys: String { resolve(keysFlag, "TESSERA_KEYS", "./keys") }
    var policies: String { resolve(policiesFlag, "TESSERA_POLICIES", "./policies") }
}

/// `--store`: where Tessera's state lives, for every command that opens the store.
struct StoreOption: ParsableArguments {
    @Option(name: .customLong("store"), help: ArgumentHelp(
        "Store URL, postgres://user:password@host:5432/database[?sslmode=disable|require] (env TESSERA_STORE; default: SQLite in the data folder).",
        discussion: "Prefer the environment variable: a password on the command line is visible to other users of the machine."))
    var flag: String?

    /// The URL, nil for SQLite in the data folder.
    var url: String? {
        let value = resolve(flag, "TESSERA_STORE", "")
        return value.isEmpty ? nil : value
    }

    func location(_ folders: FolderOptions) -> StoreLocation {
        do {
            return try StoreLocation(storeURL: url, dataDirectory: folders.data)
        } catch {
            fail(error.description)
        }
    }
}

struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-format"), help: "text or json (env TESSERA_LOG_FORMAT, default text).")
    var formatFlag: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error (env TESSERA_LOG_LEVEL, default info).")
    var levelFlag: String?

    func validate() throws {
        guard ["text", "json"].contains(format) else { throw ValidationError("--log-format must be text or json, not \(format)") }
        guard Logger.Level(rawValue: level) != nil else { throw ValidationError("unknown --log-level \(level)") }
    }

    var format: String { resolve(formatFlag, "TESSERA_LOG_FORMAT", "text") }
    var level: String { resolve(levelFlag, "TESSERA_LOG_LEVEL", "info") }

    /// Installs the process-wide log handler and returns the root logger.
    func bootstrap() -> Logger {
        let json = format == "json"
        let level = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StandardErrorLogHandler(label: label, format: json ? .json : .text)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "tessera")
    }
}

func resolve(_ flag: String?, _ variable: String, _ fallback: String) -> String {
    resolveOptional(flag, variable) ?? fallback
}

/// The flag, else the environment variable when set and not empty, else nil.
func resolveOptional(_ flag: String?, _ variable: String) -> String? {
    if let flag { return flag }
    if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty { return value }
    return nil
}

/// Prints a message for a person and exits with a failure status: errors at the command line
/// are answers, not stack traces.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tessera: \(message)\n".utf8))
    exit(1)
}

/// The key-encryption key that seals signing keys at rest (required with PostgreSQL).
struct KeyEncryptionOptions: ParsableArguments {
    @Option(name: .customLong("key-encryption-key-file"), help: ArgumentHelp(
        "File holding the key-encryption key, mode 0600 (env TESSERA_KEY_ENCRYPTION_KEY_FILE, or the key itself in TESSERA_KEY_ENCRYPTION_KEY).",
        discussion: "`tessera keys kek` prints a new one. Required when the store is PostgreSQL; optional for the keys folder, where it encrypts the key files."))
    var fileFlag: String?

    /// The KEK from the file or the environment; nil when none is configured. A bad one stops the command.
    func load() -> KeyEncryptionKey? {
        do {
            let file = resolve(fileFlag, "TESSERA_KEY_ENCRYPTION_KEY_FILE", "")
            if !file.isEmpty { return try KeyEncryptionKey.load(path: file) }
            if let value = ProcessInfo.processInfo.environment["TESSERA_KEY_ENCRYPTION_KEY"], !value.isEmpty {
                return try KeyEncryptionKey(encoded: value)
            }
            return nil
        } catch {
            fail("key-encryption key: \(error.message)")
        }
    }
}
