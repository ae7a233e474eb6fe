import Foundation
import Logging

/// Which store Tessera uses, from `--store` (env `TESSERA_STORE`): none means the SQLite file in
/// the data folder, a `postgres://` or `postgresql://` URL means that PostgreSQL database.
public enum StoreLocation: Sendable, Hashable, CustomStringConvertible {
    case sqlite(directory: String)
    case postgres(PostgresStoreURL)

    /// Refuses anything it does not recognise rather than guessing: a mistyped URL must not
    /// quietly become a local file.
    public init(storeURL: String?, dataDirectory: String) throws(StoreError) {
        guard let storeURL, !storeURL.isEmpty else {
            self = .sqlite(directory: dataDirectory)
            return
        }
        guard PostgresStoreURL.isPostgres(storeURL) else {
            throw StoreError("--store must be empty (SQLite in the data folder) or a postgres:// or postgresql:// URL")
        }
        self = .postgres(try PostgresStoreURL(storeURL))
    }

    /// Opens the store, applying pending migrations.
    public func open(logger: Logger = Logger(label: "tessera.store")) async throws -> any MigratedStorage {
        switch self {
        case .sqlite(let directory): try await SQLiteStorage.open(directory: directory, logger: logger)
        case .postgres(let url): try await PostgresStorage.open(url: url, logger: logger)
        }
    }

    /// The folder or the URL without its password.
    public var description: String {
        switch self {
        case .sqlite(let directory): directory
        case .postgres(let url): url.description
        }
    }
}
