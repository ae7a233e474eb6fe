import Foundation
import PostgresNIO
import Testing
@testable import TesseraStore
import TesseraTestLogging

/// The PostgreSQL server the tests use: `TESSERA_TEST_POSTGRES`, a URL whose user may create
/// databases (`.ci/run` starts one and sets it). Each test gets a database of its own, dropped
/// afterwards, so tests never see each other's rows.
///
/// Without the variable the PostgreSQL tests are reported as skipped, not passed; under
/// `CI=true` they run anyway and fail, because CI must never skip them silently.
enum PostgresTestServer {
    static let variable = "TESSERA_TEST_POSTGRES"

    static var serverURL: String? {
        ProcessInfo.processInfo.environment[variable].flatMap { $0.isEmpty ? nil : $0 }
    }

    static var runningInCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// The condition of the PostgreSQL tests' `.enabled(if:)` trait.
    static var testsRun: Bool { serverURL != nil || runningInCI }

    static let skipReason: Comment = "TESSERA_TEST_POSTGRES is not set (run .ci/run, or point it at a server whose user can CREATE DATABASE)"

    /// Runs `body` with the URL of a new, empty database, and drops it afterwards. Records an
    /// issue and returns without running `body` when there is no server (only reached in CI).
    static func withFreshDatabase(sourceLocation: SourceLocation = #_sourceLocation,
                                  _ body: (PostgresStoreURL) async throws -> Void) async throws {
        guard let serverURL else {
            Issue.record("test peer missing in CI: \(variable) is not set; .ci/run starts PostgreSQL and sets it",
                         sourceLocation: sourceLocation)
            return
        }
        let server = try PostgresStoreURL(serverURL)
        let name = "tessera_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await administer(server, "CREATE DATABASE \(name)")
        do {
            try await body(server.with(database: name))
        } catch {
            // Best effort: a failed test may have left stores open, which FORCE disconnects.
            try? await administer(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            throw error
        }
        // Without FORCE: the test closed its stores, and FORCE would fail when an autovacuum
        // worker (a superuser's process) is in the new database, which plain DROP waits out.
        // The server may still be ending the sessions the test just closed (plain DROP waits 5 s
        // for them; a loaded machine can take longer), so it is tried a few times, then forced.
        for _ in 0..<3 {
            do {
                return try await administer(server, "DROP DATABASE IF EXISTS \(name)")
            } catch {
                try await Task.sleep(for: .seconds(1))
            }
        }
        try await administer(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    /// Runs one statement on a connection of its own (CREATE/DROP DATABASE cannot run in a
    /// transaction, nor in the database they drop).
    static func administer(_ url: PostgresStoreURL, _ statement: String) async throws {
        let connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 1, logger: logger)
        do {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        } catch {
            try? await connection.close()
            throw StoreError("\(url): \(statement): \(PostgresStorage.describe(error))")
        }
        try await connection.close()
    }

    /// The integer `query` answers in the database at `url`.
    static func integer(_ url: PostgresStoreURL, _ query: String) async throws -> Int {
        let connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 1, logger: logger)
        var values: [Int] = []
        do {
            let rows: PostgresRowSequence = try await connection.query(PostgresQuery(unsafeSQL: query), logger: logger)
            for try await value in rows.decode(Int.self) { values.append(value) }
        } catch {
            try? await connection.close()
            throw StoreError("\(query): \(PostgresStorage.describe(error))")
        }
        try await connection.close()
        guard let value = values.first else { throw StoreError("\(query): no row") }
        return value
    }

    /// Warnings and worse only: every test's store applies the migrations, and their notices
    /// would bury the test's log. A new logger on each use, for the test running then.
    static var logger: Logger {
        var logger = Logger.forCurrentTest(label: "tessera.tests.postgres")
        logger.logLevel = .warning
        return logger
    }
}
