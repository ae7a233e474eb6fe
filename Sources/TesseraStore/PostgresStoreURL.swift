import Foundation

/// A PostgreSQL server and database named by a URL,
/// `postgres://user:password@host:port/database?sslmode=disable|prefer|require|verify-full`
/// (`postgresql://` works too).
///
/// The password never appears in `description` or in any error: those name the store as
/// `postgres://user@host:port/database`.
public struct PostgresStoreURL: Sendable, Hashable, CustomStringConvertible {
    /// Whether and how the connection uses TLS.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it; the certificate is verified when it is used.
        case prefer
        /// TLS, with the certificate verified against the system's trust roots and the host name.
        /// Stricter than libpq's `require`, which does not verify: a server with a self-signed
        /// certificate needs its CA in the system trust store.
        case require
        /// The same as `require` here (verification always includes the host name).
        case verifyFull = "verify-full"
    }

    public static let schemes: Set<String> = ["postgres", "postgresql"]

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode

    /// Parses `text`. Errors never repeat the text, which may hold a password.
    public init(_ text: String) throws(StoreError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              Self.schemes.contains(scheme)
        else {
            throw StoreError("the store URL is not a postgres:// or postgresql:// URL (postgres://user:password@host:5432/database)")
        }
        guard let host = components.host.map(Self.unbracketed), !host.isEmpty else {
            throw StoreError("the store URL names no host (postgres://user:password@host:5432/database)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw StoreError("the store URL names no user (postgres://user:password@\(host)/database)")
        }
        self.user = user
        self.password = components.password
        self.host = host
        self.port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw StoreError("the store URL's port \(port) is out of range") }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.contains("/") else { throw StoreError("the store URL's path must be a database name, not \(path)") }
        // As libpq does: no database means the one named like the user.
        self.database = path.isEmpty ? user : path
        // Without sslmode, a server on this machine is reached in plain TCP and any other over
        // verified TLS: credentials and tokens never cross a network unencrypted by default.
        self.tls = Self.isLoopback(host) ? .disable : .require
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw StoreError("the store URL has an unknown parameter \(item.name) (supported: sslmode)")
            }
            guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                throw StoreError("the store URL's sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.tls = mode
        }
    }

    /// Whether `text` asks for PostgreSQL (by its scheme), whatever else it holds.
    public static func isPostgres(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":") else { return false }
        return schemes.contains(text[..<colon].lowercased())
    }

    /// The URL without the password, for logs and errors.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(shownHost):\(port)/\(database)"
    }

    /// The same server with another database (tests create one per check).
    public func with(database: String) -> PostgresStoreURL {
        var copy = self
        copy.database = database
        return copy
    }

    private static func unbracketed(_ host: String) -> String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    private static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
