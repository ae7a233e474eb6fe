import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import TesseraCore
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// `tessera oncall override add|list|remove`: overrides made at run time, in the store the
/// servers share (they take a change up within a second), each change audited with the local
/// user as its actor. The admin API does the same over HTTP (`/admin/oncall/overrides`).
struct OverrideCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "override", abstract: "On-call overrides made at run time: add, list, remove.",
        subcommands: [Add.self, List.self, Remove.self])

    /// The bundle's schedules and the store, ready for `OnCallOverrides`; fails when the
    /// bundle has no schedules or the store cannot be opened.
    static func open(_ folders: FolderOptions, _ store: StoreOption) async -> (OnCallOverrides, any TesseraStorage) {
        let bundle = OnCall.bundleWithSchedules(folders)
        let storage: any TesseraStorage
        do {
            storage = try await store.location(folders).open()
        } catch {
            fail("\(error)")
        }
        var logger = Logger(label: "tessera")
        logger.logLevel = .critical
        let http = HTTPDocumentFetcher.makeHTTPClient()
        // Only for checking names against the bundle: nothing is fetched.
        let onCall = OnCallService(configuration: bundle.onCall, sources: OnCallSources(http: http, logger: logger),
                                   timeSource: SystemTimeSource(), logger: logger)
        try? await http.shutdown()
        let entries = DatedEntryService(kind: .onCallOverride, store: storage, timeSource: SystemTimeSource())
        do {
            try await entries.refresh()
        } catch {
            fail("the store cannot be read: \(error)")
        }
        return (OnCallOverrides(entries: entries, onCall: onCall, timeSource: SystemTimeSource()), storage)
    }

    static var actor: AuditActor {
        AuditActor(subject: "local:" + (ProcessInfo.processInfo.environment["USER"] ?? "unknown"), userAgent: "tessera oncall override")
    }

    static func text(_ entry: DatedEntryRecord) -> String {
        let reason = entry.reason.map { " (\($0))" } ?? ""
        return "\(entry.id)  \(entry.scope): \(entry.subject) from \(RFC3339.string(entry.startsAt)) until \(RFC3339.string(entry.endsAt))"
            + "\(reason), by \(entry.createdBy)"
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put someone on call for a schedule over a period, on top of every layer (or everyone a feed has).",
            discussion: """
            Examples:
              tessera oncall override add payments-primary --who carol@example.com --until +8h --reason "covering for bob"
              tessera oncall override add payments-primary --who corp:dan --from 2026-12-24T18:00:00Z --until 2026-12-26T09:00:00Z
            """)

        @Argument(help: "The schedule id.") var schedule: String
        @Option(help: "Who is on call: an e-mail address, upstream:subject, or an alias of people.aliases.") var who: String
        @Option(help: "From when: RFC 3339, or relative to now (+1h); default now.") var from: String?
        @Option(help: "Until when: RFC 3339, or relative to now (+8h).") var until: String
        @Option(help: "Why, for the audit log.") var reason: String?
        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption

        func run() async {
            let now = Date()
            guard let end = RFC3339.instant(until, relativeTo: now) else { fail("--until must be RFC 3339 or relative, e.g. +8h") }
            var start = now
            if let from {
                guard let parsed = RFC3339.instant(from, relativeTo: now) else { fail("--from must be RFC 3339 or relative, e.g. +1h") }
                start = parsed
            }
            let (overrides, storage) = await OverrideCommand.open(folders, store)
            do {
                let entry = try await overrides.add(schedule: schedule, person: who, from: start, until: end, reason: reason,
                                                    actor: OverrideCommand.actor)
                try? await storage.close()
                print("added \(OverrideCommand.text(entry))")
            } catch {
                try? await storage.close()
                fail(error.description)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The overrides in force, or ending later, for every schedule or one.",
            discussion: """
            Examples:
              tessera oncall override list
              tessera oncall override list payments-primary --json
            """)

        @Argument(help: "A schedule id (default: all).") var schedule: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption

        func run() async {
            let (overrides, storage) = await OverrideCommand.open(folders, store)
            try? await storage.close()
            let now = Date()
            let listed = overrides.entries.active.filter { $0.endsAt > now && (schedule == nil || $0.scope == schedule) }
            if json {
                var writer = JSONWriter()
                writer.value(.object(["overrides": .array(listed.map(OnCallOverrides.json))]))
                print(String(decoding: writer.bytes, as: UTF8.self))
            } else if listed.isEmpty {
                print("no overrides in force")
            } else {
                for entry in listed { print(OverrideCommand.text(entry)) }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End an override before its time.",
            discussion: """
            Example:
              tessera oncall override remove ovr-3q2Xr8cW1d0bA7Zt

            Exit status: 0 removed; 1 unknown, already removed or expired.
            """)

        @Argument(help: "The override id (from `tessera oncall override list`).") var id: String
        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption

        func run() async {
            let (overrides, storage) = await OverrideCommand.open(folders, store)
            do {
                let entry = try await overrides.remove(id: id, actor: OverrideCommand.actor)
                try? await storage.close()
                print("removed \(OverrideCommand.text(entry))")
            } catch {
                try? await storage.close()
                fail(error.description)
            }
        }
    }
}
