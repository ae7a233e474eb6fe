import CSQLite
import NIOCore
import NIOPosix

/// One connection to an SQLite file, its statements run on a thread of its own (SQLite calls
/// block: a commit waits for fsync), one at a time, in the order they were asked for.
///
/// Statements are prepared once per connection and kept (`Statements`): parsing the audit
/// log's multi-row INSERT anew for each group was about 5 us per token, more than executing
/// it, and the activation lookup of every token exchange about 10 us.
final class SQLiteConnection: Sendable {
    private let database: Database
    private let thread: NIOThreadPool
    /// Statements kept at most; past it they are all finalized and prepared again as used.
    /// (The audit log's INSERT has one text per group size.)
    static let statementCapacity = 256

    private init(database: Database, thread: NIOThreadPool) {
        self.database = database
        self.thread = thread
    }

    /// Opens (creating if need be) the database file at `path`.
    static func open(path: String) async throws -> SQLiteConnection {
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        do {
            let database = try await thread.runIfActive { try Database(path: path) }
            return SQLiteConnection(database: database, thread: thread)
        } catch {
            try? await thread.shutdownGracefully()
            throw error
        }
    }

    /// Runs `sql` with `binds` for its `?` parameters, in order; the rows it answers.
    func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await thread.runIfActive { [database] in try database.query(sql, binds) }
    }

    func close() async throws {
        try await thread.runIfActive { [database] in database.close() }
        try await thread.shutdownGracefully()
    }
}

/// A value bound to a statement or read from a row.
enum SQLiteData: Sendable, Equatable {
    case integer(Int)
    case float(Double)
    case text(String)
    case blob(ByteBuffer)
    case null

    var string: String? {
        if case .text(let value) = self { value } else { nil }
    }

    var integer: Int? {
        if case .integer(let value) = self { value } else { nil }
    }
}

/// A row of a result, its values by column name.
struct SQLiteRow: Sendable {
    let columns: SQLiteColumns
    let values: [SQLiteData]

    func column(_ name: String) -> SQLiteData? {
        columns.index[name].map { values[$0] }
    }
}

/// A statement's column names, shared by all its rows.
final class SQLiteColumns: Sendable {
    let index: [String: Int]

    init(_ names: [String]) {
        var index: [String: Int] = [:]
        for (offset, name) in names.enumerated() where index[name] == nil { index[name] = offset }
        self.index = index
    }
}

/// What SQLite answered instead of success: its extended result code and message.
struct SQLiteError: Error, Sendable, CustomStringConvertible {
    let code: Int32
    let message: String

    /// The database was locked by another connection for longer than the busy timeout.
    var isBusy: Bool { code & 0xFF == SQLITE_BUSY }

    /// A primary key or unique constraint refused the row.
    var isUniquenessViolation: Bool { Self.uniquenessViolations.contains(code) }

    /// SQLITE_CONSTRAINT_PRIMARYKEY, _UNIQUE and _ROWID: macros of expressions, which Swift
    /// does not import (`SQLITE_CONSTRAINT | n << 8`).
    private static let uniquenessViolations: Set<Int32> = [6, 8, 10].reduce(into: []) { $0.insert(SQLITE_CONSTRAINT | $1 << 8) }

    var description: String { "SQLite error \(code): \(message)" }
}

extension SQLiteConnection {
    /// The connection handle and its prepared statements. Used only on the connection's
    /// thread, one call at a time, hence unchecked.
    fileprivate final class Database: @unchecked Sendable {
        private var handle: OpaquePointer?
        private var statements: [String: (statement: OpaquePointer, columns: SQLiteColumns)] = [:]

        init(path: String) throws {
            var handle: OpaquePointer?
            let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
            let opened = sqlite3_open_v2(path, &handle, flags, nil)
            guard opened == SQLITE_OK, let handle else {
                let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
                sqlite3_close_v2(handle)
                throw SQLiteError(code: opened, message: "\(path): \(message)")
            }
            sqlite3_extended_result_codes(handle, 1)
            self.handle = handle
        }

        func close() {
            for (statement, _) in statements.values { sqlite3_finalize(statement) }
            statements = [:]
            sqlite3_close_v2(handle)
            handle = nil
        }

        func query(_ sql: String, _ binds: [SQLiteData]) throws -> [SQLiteRow] {
            let (statement, columns) = try prepared(sql)
            defer {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)
            }
            for (offset, value) in binds.enumerated() {
                try check(bind(value, at: Int32(offset + 1), to: statement))
            }
            var rows: [SQLiteRow] = []
            let count = sqlite3_column_count(statement)
            while true {
                let stepped = sqlite3_step(statement)
                if stepped == SQLITE_DONE { return rows }
                guard stepped == SQLITE_ROW else { throw failure(stepped) }
                var values: [SQLiteData] = []
                values.reserveCapacity(Int(count))
                for column in 0..<count { values.append(Self.value(of: statement, at: column)) }
                rows.append(SQLiteRow(columns: columns, values: values))
            }
        }

        private func prepared(_ sql: String) throws -> (OpaquePointer, SQLiteColumns) {
            if let kept = statements[sql] { return kept }
            if statements.count >= SQLiteConnection.statementCapacity {
                for (statement, _) in statements.values { sqlite3_finalize(statement) }
                statements = [:]
            }
            var statement: OpaquePointer?
            let result = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
            guard result == SQLITE_OK, let statement else { throw failure(result) }
            let names = (0..<sqlite3_column_count(statement)).map { String(cString: sqlite3_column_name(statement, $0)) }
            let kept = (statement, SQLiteColumns(names))
            statements[sql] = kept
            return kept
        }

        private func bind(_ value: SQLiteData, at index: Int32, to statement: OpaquePointer) -> Int32 {
            switch value {
            case .integer(let number):
                return sqlite3_bind_int64(statement, index, Int64(number))
            case .float(let number):
                return sqlite3_bind_double(statement, index, number)
            case .null:
                return sqlite3_bind_null(statement, index)
            case .text(var text):
                return text.withUTF8 { bytes in
                    // A zero-length text, not NULL, when the buffer has no address.
                    let start = bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) } ?? Self.empty
                    return sqlite3_bind_text(statement, index, start, Int32(bytes.count), Self.transient)
                }
            case .blob(let buffer):
                return buffer.withUnsafeReadableBytes { bytes in
                    sqlite3_bind_blob(statement, index, bytes.baseAddress ?? UnsafeRawPointer(Self.empty), Int32(bytes.count), Self.transient)
                }
            }
        }

        private static func value(of statement: OpaquePointer, at column: Int32) -> SQLiteData {
            switch sqlite3_column_type(statement, column) {
            case SQLITE_INTEGER:
                return .integer(Int(sqlite3_column_int64(statement, column)))
            case SQLITE_FLOAT:
                return .float(sqlite3_column_double(statement, column))
            case SQLITE_TEXT:
                guard let text = sqlite3_column_text(statement, column) else { return .text("") }
                let count = Int(sqlite3_column_bytes(statement, column))
                return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
            case SQLITE_BLOB:
                let count = Int(sqlite3_column_bytes(statement, column))
                guard let bytes = sqlite3_column_blob(statement, column), count > 0 else { return .blob(ByteBuffer()) }
                return .blob(ByteBuffer(bytes: UnsafeRawBufferPointer(start: bytes, count: count)))
            default:
                return .null
            }
        }

        private func check(_ result: Int32) throws {
            guard result == SQLITE_OK else { throw failure(result) }
        }

        private func failure(_ result: Int32) -> SQLiteError {
            SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)))
        }

        /// SQLite copies bound values at once (`SQLITE_TRANSIENT`): the Swift buffers do not outlive the call.
        private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        /// Where a zero-length value points: SQLite binds NULL for a nil address.
        private nonisolated(unsafe) static let empty: UnsafePointer<CChar> = {
            let byte = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
            byte.initialize(to: 0)
            return UnsafePointer(byte)
        }()
    }
}
