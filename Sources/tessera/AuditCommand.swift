import ArgumentParser
import Foundation
import TesseraCore
import TesseraJWT
import TesseraPolicy
import TesseraStore

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read and verify the tamper-evident audit log.", subcommands: [Verify.self, Tail.self, Export.self, Checkpoint.self])

    /// The selected store; for SQLite, refusing to create one where none exists.
    static func openStore(_ folders: FolderOptions, _ store: StoreOption) async -> any TesseraStorage {
        let location = store.location(folders)
        if case .sqlite = location {
            let path = (folders.data as NSString).appendingPathComponent(SQLiteStorage.fileName)
            guard FileManager.default.fileExists(atPath: path) else {
                fail("no audit log at \(path); has `tessera serve` run with --data \(folders.data)?")
            }
        }
        do {
            return try await location.open()
        } catch {
            fail("\(error)")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the hash chain; report the first broken entry and exit non-zero if there is one.")

        @Option(name: .customLong("from-checkpoint"), help: "A checkpoint file from `tessera audit checkpoint`: also prove the log was not rewritten or truncated before it.")
        var checkpointFile: String?

        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption
        @OptionGroup var issuer: IssuerOption
        @OptionGroup var encryption: KeyEncryptionOptions

        func run() async throws {
            let store = await Audit.openStore(folders, self.store)
            if let checkpointFile {
                let keys = await currentSigningKeys(folders, self.store, encryption, issuer, storage: store)
                let checkpoint = Audit.readCheckpoint(checkpointFile, issuer: issuer.value, keys: keys)
                if case .failure(let broken) = try await checkpoint.confirm(in: store) {
                    try await store.close()
                    fail("audit log does not match the checkpoint at \(broken)")
                }
                print("checkpoint confirmed: entry \(checkpoint.head.sequence) unchanged since \(checkpoint.time.formatted(.iso8601))")
            }
            let result = try await AuditLog.verify(store)
            try await store.close()
            switch result {
            case .success(let head?):
                print("audit log verified: \(head.sequence) entries, chain head \(head.hash)")
            case .success(nil):
                print("audit log verified: empty")
            case .failure(let broken):
                fail("audit log broken at \(broken)")
            }
        }
    }

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the last entries as JSON lines, oldest first.")

        @Option(name: [.customShort("n"), .customLong("count")], help: "How many entries (default 20).")
        var count: Int = 20

        @Flag(name: [.customShort("f"), .customLong("follow")], help: "Keep printing new entries as they are written, until interrupted.")
        var follow = false

        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption

        func validate() throws {
            guard count >= 0 else { throw ValidationError("-n must not be negative") }
        }

        func run() async throws {
            let store = await Audit.openStore(folders, self.store)
            let last = try await store.auditHead()?.sequence ?? 0
            var cursor = max(0, last - Int64(count))
            repeat {
                let entries = try await store.auditEntries(after: cursor, limit: 1000)
                // Written straight to the file handle: print's buffer would hold lines back from a pipe.
                FileHandle.standardOutput.write(Data(entries.map { AuditLine.json($0) + "\n" }.joined().utf8))
                cursor = entries.last?.sequence ?? cursor
                // Followers poll: the store has no notifications shared by SQLite and PostgreSQL.
                if follow, entries.count < 1000 { try await Task.sleep(for: .milliseconds(500)) }
            } while follow
            try await store.close()
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the entries of a time range as JSON lines (for a SIEM or an archive), oldest first.")

        @Option(name: .customLong("since"), help: "Entries at or after this time: RFC 3339 (2026-11-24T00:00:00Z) or an age (24h, 30m).")
        var since: String

        @Option(name: .customLong("until"), help: "Entries before this time, same forms (default: now, inclusive of everything written).")
        var until: String?

        @Option(name: .customLong("format"), help: "Output format; jsonl is the one there is.")
        var format = "jsonl"

        @Option(name: .customLong("subject"), help: "Only this subject's entries.")
        var subject: String?

        @Option(name: .customLong("event"), help: "Only entries of this event type (token.issued, ...).")
        var event: String?

        @Option(name: .customLong("role"), help: "Only entries concerning this role.")
        var role: String?

        @Option(name: .customLong("output"), help: "Write to this file instead of standard output (replaced atomically when done).")
        var output: String?

        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption

        func validate() throws {
            guard format == "jsonl" else { throw ValidationError("--format must be jsonl, not \(format)") }
            _ = try Self.time(since, flag: "--since")
            _ = try until.map { try Self.time($0, flag: "--until") }
        }

        /// An RFC 3339 time, or an age counted back from now.
        static func time(_ text: String, flag: String) throws -> Date {
            if let seconds = DurationText.seconds(text) { return Date().addingTimeInterval(-TimeInterval(seconds)) }
            do {
                return try AuditQuery.time(text, flag)
            } catch {
                throw ValidationError("\(flag) must be an RFC 3339 time (2026-11-24T00:00:00Z) or an age (24h), not \(text)")
            }
        }

        func run() async throws {
            var query = AuditQuery(limit: AuditQuery.maximumPageSize, subject: subject, role: role, event: event,
                                   since: try Self.time(since, flag: "--since"), until: try until.map { try Self.time($0, flag: "--until") })
            let store = await Audit.openStore(folders, self.store)
            var lines = ""
            var written = 0
            while true {
                // Filtered on the hashed bodies, not the store's index columns, which the chain
                // does not cover (see AuditReader): an edited column fails the export, never hides an entry.
                let page: [SealedAuditEntry]
                do {
                    page = try await AuditReader.entries(matching: query, in: store)
                } catch let broken as AuditChain.Break {
                    try? await store.close()
                    if output == nil { FileHandle.standardOutput.write(Data(lines.utf8)) }
                    fail("audit log broken at \(broken); the export stops there (\(written) entries \(output == nil ? "written" : "read, none written")); "
                        + "`tessera audit verify` checks the whole log")
                }
                for entry in page {
                    lines += AuditLine.json(entry) + "\n"
                }
                written += page.count
                if output == nil {
                    FileHandle.standardOutput.write(Data(lines.utf8))
                    lines = ""
                }
                guard page.count == query.limit, let last = page.last else { break }
                query.afterSequence = last.sequence
            }
            try await store.close()
            if let output {
                do {
                    try lines.write(toFile: output, atomically: true, encoding: .utf8)
                } catch {
                    fail("\(output): cannot write the export: \(error.localizedDescription)")
                }
                FileHandle.standardError.write(Data("exported \(written) entries to \(output)\n".utf8))
            }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign the audit log's current head with the current signing key and print the checkpoint; keep it somewhere the log's operators cannot edit.")

        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption
        @OptionGroup var issuer: IssuerOption
        @OptionGroup var encryption: KeyEncryptionOptions

        func run() async throws {
            let store = await Audit.openStore(folders, self.store)
            let keys = await currentSigningKeys(folders, self.store, encryption, issuer, storage: store)
            guard try await store.auditHead() != nil else {
                try await store.close()
                fail("the audit log is empty: nothing to checkpoint")
            }
            let checkpointer = AuditCheckpointer(issuer: issuer.value, keys: CurrentValue(keys), store: store,
                                                 audit: AuditLog(store: store, timeSource: SystemTimeSource()), timeSource: SystemTimeSource())
            let signed = try await checkpointer.take()
            try await store.close()
            print(signed ?? "")
        }
    }

    static func readCheckpoint(_ path: String, issuer: String, keys: SigningKeys) -> AuditCheckpoint {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            fail("\(path): cannot read the checkpoint: \(error.localizedDescription)")
        }
        do {
            return try AuditCheckpoint.verified(text, issuer: issuer, keys: keys)
        } catch {
            fail("\(path): \(error.description)")
        }
    }
}

/// `--issuer`, resolved as `tessera serve` resolves it, for commands that sign or check
/// documents in the issuer's name.
struct IssuerOption: ParsableArguments {
    @Option(name: .customLong("issuer"), help: "The issuer URL (env TESSERA_ISSUER, default http://127.0.0.1:8080, as for serve).")
    var flag: String?

    var value: String {
        IssuerURLs(issuer: resolve(flag, "TESSERA_ISSUER", "http://127.0.0.1:8080")).issuer
    }
}
