import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import TesseraCore
import TesseraJWT
import TesseraPolicy
import TesseraSchedules
import TesseraStore

/// `tessera oncall who|check|sync`: the bundle's on-call schedules as the server sees them,
/// native schedules resolved and imported ones fetched now (as `tessera serve` syncs them).
struct OnCall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oncall", abstract: "Who is on call: the schedules of policies/schedules/, native and imported.",
        subcommands: [Who.self, Check.self, Sync.self, OverrideCommand.self])

    /// The bundle's schedules with every imported one synced once, at `time` (default now).
    struct Loaded {
        let configuration: OnCallConfiguration
        let state: OnCallState
        let reports: [OnCallService.SyncReport]
        let now: Date
        /// The overrides of the store in force (none without a store).
        let overrides: [DatedEntryRecord]
    }

    /// The policy bundle; the command fails when it cannot be read or declares no schedules.
    static func bundleWithSchedules(_ folders: FolderOptions) -> PolicyBundle {
        let bundle: PolicyBundle
        do {
            bundle = try PolicyBundle.load(directory: folders.policies)
        } catch {
            fail(error.description)
        }
        guard !bundle.onCall.isEmpty else { fail("\(folders.policies)/\(OnCallConfiguration.directoryName)/ declares no schedules") }
        return bundle
    }

    /// Loads the bundle's schedules and syncs the imported ones, with the overrides of the
    /// store laid on (when it exists). Only a sync of now is written to the store
    /// (`keepSync`), where the servers take it up at their next poll; a sync of another time
    /// (`--at`) is only shown.
    static func load(_ folders: FolderOptions, _ store: StoreOption, at time: String?, keepSync: Bool = false) async -> Loaded {
        let bundle = bundleWithSchedules(folders)
        var now = Date()
        if let time {
            guard let parsed = RFC3339.instant(time, relativeTo: now) else { fail("--at must be RFC 3339 or relative, e.g. 2026-03-02T09:00:00Z or +8h") }
            now = parsed
        }
        let storage = await openExistingStore(folders, store)
        let http = HTTPDocumentFetcher.makeHTTPClient()
        var logger = Logger(label: "tessera")
        logger.logLevel = .critical  // a failed sync is printed with its reason below
        let service = OnCallService(configuration: bundle.onCall, sources: OnCallSources(http: http, logger: logger),
                                    cache: keepSync && time == nil ? storage : nil, timeSource: FixedTime(now), logger: logger)
        var overrides: [DatedEntryRecord] = []
        if let storage {
            do {
                overrides = try await storage.datedEntries(kind: .onCallOverride, state: .active)
            } catch {
                fail("the store cannot be read: \(error)")
            }
            service.useOverrides(overrides)
        }
        let reports = await service.syncAll()
        try? await http.shutdown()
        try? await storage?.close()
        guard let state = service.state else { fail("no on-call state") }
        return Loaded(configuration: bundle.onCall, state: state, reports: reports, now: now, overrides: overrides)
    }

    struct Who: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Who is on call for a schedule, or at each level of an escalation policy, and until when.",
            discussion: """
            Examples:
              tessera oncall who                          (every schedule and policy)
              tessera oncall who payments-primary --at +8h
              tessera oncall who payments --json
            """)

        @Argument(help: "A schedule or escalation policy id (default: all).") var name: String?
        @Option(help: "When: RFC 3339, or relative to now (+8h, -1d).") var at: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption

        func run() async {
            let loaded = await OnCall.load(folders, store, at: at)
            let configuration = loaded.configuration
            let schedules = configuration.scheduleIDs.filter { name == nil || $0 == name }
            let policies = configuration.escalationPolicies.filter { name == nil || $0.id == name }
            if schedules.isEmpty, policies.isEmpty { fail("no schedule or escalation policy named \(name ?? "")") }
            if json {
                var object: [String: JSONValue] = ["at": .string(RFC3339.string(loaded.now))]
                object["schedules"] = .object(Dictionary(uniqueKeysWithValues: schedules.map { ($0, OnCall.whoJSON($0, loaded)) }))
                object["escalation_policies"] = .object(Dictionary(uniqueKeysWithValues: policies.map { policy in
                    (policy.id, JSONValue.array(policy.levels.indices.map { level in
                        .array((loaded.state.snapshot.onCall(policy: policy.id, level: level + 1, at: loaded.now) ?? []).map { duty in
                            .object(["person": .string(duty.person), "schedule": duty.schedule.map(JSONValue.string) ?? .null,
                                     "until": duty.until.map { .string(RFC3339.string($0)) } ?? .null])
                        })
                    }))
                }))
                var writer = JSONWriter()
                writer.value(.object(object))
                print(String(decoding: writer.bytes, as: UTF8.self))
                return
            }
            print("on call at \(RFC3339.string(loaded.now))")
            for schedule in schedules { print(OnCall.whoText(schedule, loaded)) }
            for policy in policies {
                print("\(policy.id) (escalation policy)")
                for level in policy.levels.indices {
                    let duties = loaded.state.snapshot.onCall(policy: policy.id, level: level + 1, at: loaded.now) ?? []
                    let text = duties.isEmpty ? "nobody" : duties.map { duty in
                        let until = duty.until.map { " until " + loaded.state.clock($0, schedule: duty.schedule ?? "", now: loaded.now) } ?? " (always)"
                        return "\(duty.person)\(duty.schedule.map { " via \($0)" } ?? "")\(until)"
                    }.joined(separator: ", ")
                    print("  level \(level + 1): \(text)")
                }
            }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Whether a person is on call: where, at which level, until when.",
            discussion: """
            SUBJECT is a participant as the schedules write it (an e-mail address) or an identity as
            upstream:subject (matched through people: in the schedules files).

            Examples:
              tessera oncall check alice@example.com
              tessera oncall check corp:alice@example.com --at 2026-03-02T22:00:00Z

            Exit status: 0 on call somewhere; 3 on call nowhere; 1 the bundle cannot be read.
            """)

        @Argument(help: "The person.") var subject: String
        @Option(help: "When: RFC 3339, or relative to now (+8h, -1d).") var at: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption

        func run() async {
            let loaded = await OnCall.load(folders, store, at: at)
            let identity = OnCall.identity(subject)
            let names = loaded.state.people.participants(for: identity) + [subject]
            var seen = Set<String>()
            let duties = names.flatMap { loaded.state.snapshot.duties(of: $0, at: loaded.now) }
                .filter { seen.insert("\($0.schedule ?? "")|\($0.policy ?? "")|\($0.level ?? 0)").inserted }
            if json {
                var writer = JSONWriter()
                writer.value(.object(["subject": .string(subject), "at": .string(RFC3339.string(loaded.now)),
                                      "duties": .array(duties.map(Self.json))]))
                print(String(decoding: writer.bytes, as: UTF8.self))
            } else if duties.isEmpty {
                print("\(subject) is not on call at \(RFC3339.string(loaded.now))")
            } else {
                for duty in duties {
                    print(Self.line(duty, subject: subject, state: loaded.state, now: loaded.now))
                }
            }
            if duties.isEmpty { Foundation.exit(3) }
        }

        // `line` and `json` are functions of their own: written inline in `run`, their closures
        // crashed the Swift 6.3.1 optimizer (an ownership verifier failure on `duty.until`), so
        // `swift build -c release` failed.
        static func line(_ duty: OnCallDuty, subject: String, state: OnCallState, now: Date) -> String {
            let place = [duty.schedule, duty.policy.map { "level \(duty.level ?? 0) of \($0)" }].compactMap { $0 }.joined(separator: ", ")
            let until = duty.until.map { "until " + state.clock($0, schedule: duty.schedule ?? "", now: now) } ?? "always"
            return "\(subject) is on call: \(place), \(until)"
        }

        static func json(_ duty: OnCallDuty) -> JSONValue {
            let until = duty.until
            return .object(["schedule": duty.schedule.map(JSONValue.string) ?? .null, "policy": duty.policy.map(JSONValue.string) ?? .null,
                            "level": duty.level.map { .number(Double($0)) } ?? .null,
                            "until": until.map { .string(RFC3339.string($0)) } ?? .null])
        }
    }

    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch every imported schedule now and say what each gave.",
            discussion: """
            Example:
              tessera oncall sync

            Exit status: 0 every imported schedule synced; 1 one or more failed (each says why).
            """)

        @OptionGroup var folders: FolderOptions
        @OptionGroup var store: StoreOption

        func run() async {
            let loaded = await OnCall.load(folders, store, at: nil, keepSync: true)
            if loaded.reports.isEmpty { print("no imported schedules: the native ones need no sync") }
            for report in loaded.reports {
                if let error = report.error {
                    print("\(report.schedule): FAILED from \(report.source): \(error)")
                } else {
                    print("\(report.schedule): \(report.shifts) shift(s) from \(report.source); on call now: "
                        + OnCall.current(report.schedule, loaded))
                    if let changes = report.changes { printChanges(changes, schedule: report.schedule, loaded) }
                }
            }
            if loaded.reports.contains(where: { $0.error != nil }) { Foundation.exit(1) }
        }

        /// What is different from now on since the stored sync, a line per shift (at most 10 each way).
        private func printChanges(_ changes: ShiftChanges, schedule: String, _ loaded: Loaded) {
            let since = "since the sync of \(RFC3339.string(changes.previousSync))"
            guard !changes.isEmpty else {
                print("  no change \(since)")
                return
            }
            print("  \(changes.added.count) shift(s) added, \(changes.removed.count) removed \(since):")
            for (sign, shifts) in [("+", changes.added), ("-", changes.removed)] {
                for shift in shifts.prefix(10) {
                    print("  \(sign) \(shift.person) from \(loaded.state.clock(shift.start, schedule: schedule, now: loaded.now)) "
                        + "until \(loaded.state.clock(shift.end, schedule: schedule, now: loaded.now))")
                }
                if shifts.count > 10 { print("  \(sign) ... and \(shifts.count - 10) more") }
            }
        }
    }

    /// The store `tessera serve` uses, when there is one: nil for an embedded store not created yet.
    static func openExistingStore(_ folders: FolderOptions, _ store: StoreOption) async -> (any TesseraStorage)? {
        let location = store.location(folders)
        if case .sqlite = location,
           !FileManager.default.fileExists(atPath: (folders.data as NSString).appendingPathComponent(SQLiteStorage.fileName)) {
            return nil
        }
        do {
            return try await location.open()
        } catch {
            fail("\(error)")
        }
    }

    /// `upstream:subject`, or a bare participant (an e-mail address) as the email claim.
    static func identity(_ subject: String) -> Identity {
        if let colon = subject.firstIndex(of: ":"), !subject.hasPrefix("mailto:") {
            return Identity(upstream: String(subject[..<colon]), subject: String(subject[subject.index(after: colon)...]))
        }
        return Identity(upstream: "", subject: subject, email: subject)
    }

    static func current(_ schedule: String, _ loaded: Loaded) -> String {
        if let why = loaded.state.unavailable[schedule] { return "unknown (\(why))" }
        let shifts = loaded.state.snapshot.onCall(schedule: schedule, at: loaded.now) ?? []
        return shifts.isEmpty ? "nobody" : shifts.map { "\($0.person) until \(loaded.state.clock($0.end, schedule: schedule, now: loaded.now))" }
            .joined(separator: ", ")
    }

    static func whoText(_ schedule: String, _ loaded: Loaded) -> String {
        let kind = loaded.configuration.native.contains { $0.schedule.id == schedule } ? "native"
            : loaded.configuration.feeds.first { $0.id == schedule }?.sourceDescription ?? "imported"
        var lines = ["\(schedule) (\(kind))", "  now:  \(current(schedule, loaded))"]
        for entry in loaded.overrides where entry.scope == schedule && entry.endsAt > loaded.now {
            lines.append("  override \(entry.id): \(entry.subject) from \(loaded.state.clock(entry.startsAt, schedule: schedule, now: loaded.now)) "
                + "until \(loaded.state.clock(entry.endsAt, schedule: schedule, now: loaded.now))")
        }
        if loaded.state.unavailable[schedule] == nil, let timeline = loaded.state.snapshot.timelines[schedule] {
            let ends = (timeline.onCall(at: loaded.now).map(\.end).min()) ?? loaded.now
            let next = timeline.onCall(at: ends).filter { $0.start >= ends || !timeline.onCall(at: loaded.now).contains($0) }
            if !next.isEmpty {
                lines.append("  next: " + next.map {
                    "\($0.person) from \(loaded.state.clock($0.start, schedule: schedule, now: loaded.now)) until \(loaded.state.clock($0.end, schedule: schedule, now: loaded.now))"
                }.joined(separator: ", "))
            }
        }
        return lines.joined(separator: "\n")
    }

    static func whoJSON(_ schedule: String, _ loaded: Loaded) -> JSONValue {
        if let why = loaded.state.unavailable[schedule] { return .object(["unknown": .string(why)]) }
        let shifts = loaded.state.snapshot.onCall(schedule: schedule, at: loaded.now) ?? []
        return .object(["on_call": .array(shifts.map { .object(["person": .string($0.person), "until": .string(RFC3339.string($0.end))]) })])
    }
}

/// A clock stopped at the instant asked about (`--at`).
struct FixedTime: TimeSource {
    let instant: Date
    init(_ instant: Date) { self.instant = instant }
    func now() -> Date { instant }
}
