import Foundation
import NIOCore
import Testing
@testable import TesseraStore

/// The store's own SQLite binding (`SQLiteConnection`): values in and out exactly, statements
/// kept and reused without leftovers, errors told apart.
@Suite("SQLite connection")
struct SQLiteConnectionTests {
    /// A connection to a new database file, closed and deleted after `body`.
    func withConnection(_ body: (SQLiteConnection, String) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "tessera-sqlite-connection-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/test.sqlite"
        let connection = try await SQLiteConnection.open(path: path)
        do {
            try await body(connection, path)
        } catch {
            try await connection.close()
            throw error
        }
        try await connection.close()
    }

    @Test func valuesComeBackAsTheyWentIn() async throws {
        try await withConnection { connection, _ in
            _ = try await connection.query("CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, n TEXT)")
            let values: [[SQLiteData]] = [
                [.integer(Int.max), .float(0.1), .text("PSP outage — «paging» 🚨"), .blob(ByteBuffer(bytes: [0, 1, 255])), .null],
                [.integer(Int.min), .float(-1e300), .text(""), .blob(ByteBuffer()), .null],
                // A text with a NUL byte inside keeps all of it: it is bound with its length.
                [.integer(0), .float(0), .text("a\u{0}b"), .blob(ByteBuffer(bytes: Array(repeating: 7, count: 70_000))), .null],
            ]
            for row in values {
                _ = try await connection.query("INSERT INTO t (i, f, s, b, n) VALUES (?, ?, ?, ?, ?)", row)
            }
            let rows = try await connection.query("SELECT i, f, s, b, n FROM t ORDER BY id")
            try #require(rows.count == values.count)
            for (row, expected) in zip(rows, values) {
                #expect(row.column("i") == expected[0])
                #expect(row.column("f") == expected[1])
                #expect(row.column("s") == expected[2])
                // An empty BLOB reads back as an empty BLOB, not NULL.
                #expect(row.column("b") == expected[3])
                #expect(row.column("n") == .null)
                #expect(row.column("missing") == nil)
            }
            #expect(rows[0].column("s")?.string == "PSP outage — «paging» 🚨" && rows[0].column("i")?.integer == Int.max)
        }
    }

    @Test func aKeptStatementStartsFreshEachTime() async throws {
        try await withConnection { connection, _ in
            _ = try await connection.query("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
            _ = try await connection.query("INSERT INTO t (k, v) VALUES (?, ?)", [.text("a"), .text("1")])
            _ = try await connection.query("INSERT INTO t (k, v) VALUES (?, ?)", [.text("b"), .text("2")])
            let select = "SELECT v FROM t WHERE k = ?"
            #expect(try await connection.query(select, [.text("a")]).map { $0.column("v") } == [.text("1")])
            #expect(try await connection.query(select, [.text("b")]).map { $0.column("v") } == [.text("2")])
            // Fewer binds than parameters: the missing one is NULL, not the last run's value.
            #expect(try await connection.query(select, []).isEmpty)
            // Every row, each time a kept statement runs.
            #expect(try await connection.query("SELECT k FROM t ORDER BY k").map { $0.column("k") } == [.text("a"), .text("b")])
        }
    }

    @Test func errorsAreToldApartAndLeaveTheConnectionUsable() async throws {
        try await withConnection { connection, _ in
            _ = try await connection.query("CREATE TABLE t (k TEXT PRIMARY KEY)")
            let insert = "INSERT INTO t (k) VALUES (?)"
            _ = try await connection.query(insert, [.text("a")])
            do {
                _ = try await connection.query(insert, [.text("a")])
                Issue.record("a duplicate key was written")
            } catch let error as SQLiteError {
                #expect(error.isUniquenessViolation, "\(error)")
                #expect(!error.isBusy)
                #expect(error.description.contains("UNIQUE constraint failed"), "\(error)")
            }
            await #expect(throws: SQLiteError.self) { try await connection.query("SELEKT 1") }
            // The same kept statement goes on working after its failure.
            _ = try await connection.query(insert, [.text("b")])
            #expect(try await connection.query("SELECT count(*) AS n FROM t").first?.column("n") == .integer(2))
        }
    }

    @Test func anotherWritersLockIsBusy() async throws {
        try await withConnection { connection, path in
            _ = try await connection.query("PRAGMA journal_mode=WAL")
            _ = try await connection.query("CREATE TABLE t (k TEXT)")
            let other = try await SQLiteConnection.open(path: path)
            _ = try await other.query("PRAGMA busy_timeout=0")
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
                _ = try await other.query("BEGIN IMMEDIATE")
                Issue.record("two writers held the lock at once")
            } catch let error as SQLiteError {
                #expect(error.isBusy, "\(error)")
            }
            _ = try await connection.query("COMMIT")
            _ = try await other.query("BEGIN IMMEDIATE")
            _ = try await other.query("COMMIT")
            try await other.close()
        }
    }

    @Test func moreStatementsThanItKeepsStillRunRight() async throws {
        try await withConnection { connection, _ in
            for number in 0..<(SQLiteConnection.statementCapacity + 20) {
                let rows = try await connection.query("SELECT \(number) AS n, ? AS m", [.integer(number * 2)])
                #expect(rows.first?.column("n") == .integer(number) && rows.first?.column("m") == .integer(number * 2))
            }
        }
    }
}
