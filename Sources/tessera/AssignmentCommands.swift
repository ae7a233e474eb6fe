import ArgumentParser
import Foundation
import TesseraCore
import TesseraJWT
import TesseraPolicy
import TesseraStore

/// `tessera assign`, `tessera assignments`, `tessera unassign`: eligibility made at run time,
/// in the store the servers share (they take a change up within a second), each change audited
/// with the local user as its actor. The admin API does the same over HTTP (`/admin/assignments`).
enum AssignmentCommands {
    /// The bundle's roles and the store, ready for `EligibilityAssignmentBook`.
    static func open(_ folders: FolderOptions, _ store: StoreOption) async -> (EligibilityAssignmentBook, any TesseraStorage) {
        let bundle: PolicyBundle
        do {
            bundle = try PolicyBundle.load(directory: folders.policies)
        } catch {
            fail(error.description)
        }
        let storage: any TesseraStorage
        do {
            storage = try await store.location(folders).open()
        } catch {
            fail("\(error)")
        }
        let roles = Dictionary(bundle.roles.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let upstreams = Set(bundle.upstreams.map(\.id) + [UpstreamDefinition.developmentID])
        // Notices go to the outbox; a running server delivers them.
        let planner = CurrentValue<any NotificationPlanner>(ConfiguredNotifications(settings: CurrentValue(bundle.notifications)))
        let book = EligibilityAssignmentBook.make(store: storage, role: { roles[$0] }, upstreamIDs: { upstreams }, planner: planner,
                                                  timeSource: SystemTimeSource())
        do {
            try await book.entries.refresh()
        } catch {
            fail("the store cannot be read: \(error)")
        }
        return (book, storage)
    }

    static var actor: AuditActor {
        AuditActor(subject: "local:" + (ProcessInfo.processInfo.environment["USER"] ?? "unknown"), userAgent: "tessera assign")
    }

    static func text(_ entry: DatedEntryRecord) -> String {
        let sponsor = entry.sponsor.map { ", sponsor \($0)" } ?? ""
        return "\(entry.id)  \(entry.scope): \(entry.subject) from \(RFC3339.string(entry.startsAt)) until \(RFC3339.string(entry.endsAt))"
            + " (\(entry.reason ?? "")\(sponsor)), by \(entry.createdBy)"
    }
}

struct Assign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a person (or a group) eligible for a role until a date, without editing the bundle.",
        discussion: """
        The role's other conditions still apply; tokens and activations never outlive the assignment.
        It lasts at most the role's eligible.max_assignment (default 90d).

        Examples:
          tessera assign db-admin --subject partner-idp:dana@contractor.example --until +14d \\
            --reason "CHG-1234 database migration" --sponsor corp:alice@example.com
          tessera assign payments-oncall --group contractors --from 2026-12-07T00:00:00Z --until 2026-12-21T00:00:00Z --reason "holiday cover"
        """)

    @Argument(help: "The role.") var role: String
    @Option(help: "Who: upstream:subject.") var subject: String?
    @Option(help: "Or a group.") var group: String?
    @Option(help: "From when: RFC 3339, or relative to now (+1d); default now.") var from: String?
    @Option(help: "Until when: RFC 3339, or relative to now (+14d).") var until: String
    @Option(help: "Why (required): a ticket, a contract.") var reason: String
    @Option(help: "Who vouches for the person.") var sponsor: String?
    @OptionGroup var folders: FolderOptions
    @OptionGroup var store: StoreOption

    func run() async {
        let now = Date()
        guard let end = RFC3339.instant(until, relativeTo: now) else { fail("--until must be RFC 3339 or relative, e.g. +14d") }
        var start: Date?
        if let from {
            guard let parsed = RFC3339.instant(from, relativeTo: now) else { fail("--from must be RFC 3339 or relative, e.g. +1d") }
            start = parsed
        }
        let (book, storage) = await AssignmentCommands.open(folders, store)
        do {
            let entry = try await book.assign(role: role, subject: subject, group: group, from: start, until: end, reason: reason,
                                              sponsor: sponsor, actor: AssignmentCommands.actor)
            try? await storage.close()
            print("assigned \(AssignmentCommands.text(entry))")
        } catch {
            try? await storage.close()
            fail(error.description)
        }
    }
}

struct Assignments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The eligibility assignments in force, soonest end first.",
        discussion: """
        Examples:
          tessera assignments
          tessera assignments --role db-admin --expiring 14d
        """)

    @Option(help: "Only this role.") var role: String?
    @Option(help: "Only those ending within this long (14d, 36h).") var expiring: String?
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var folders: FolderOptions
    @OptionGroup var store: StoreOption

    func run() async {
        var within: Int?
        if let expiring {
            guard let seconds = DurationText.seconds(expiring), seconds > 0 else { fail("--expiring is a duration such as 14d") }
            within = seconds
        }
        let (book, storage) = await AssignmentCommands.open(folders, store)
        try? await storage.close()
        let listed = book.list(role: role, expiringWithin: within)
        if json {
            var writer = JSONWriter()
            writer.value(.object(["assignments": .array(listed.map(EligibilityAssignmentBook.json))]))
            print(String(decoding: writer.bytes, as: UTF8.self))
        } else if listed.isEmpty {
            print(within == nil ? "no assignments in force" : "no assignments end within \(expiring ?? "")")
        } else {
            for entry in listed { print(AssignmentCommands.text(entry)) }
        }
    }
}

struct Unassign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "End an eligibility assignment before its time.",
        discussion: """
        Example:
          tessera unassign asg-3q2Xr8cW1d0bA7Zt

        Exit status: 0 removed; 1 unknown, already removed or expired.
        """)

    @Argument(help: "The assignment id (from `tessera assignments`).") var id: String
    @OptionGroup var folders: FolderOptions
    @OptionGroup var store: StoreOption

    func run() async {
        let (book, storage) = await AssignmentCommands.open(folders, store)
        do {
            let entry = try await book.unassign(id: id, actor: AssignmentCommands.actor)
            try? await storage.close()
            print("removed \(AssignmentCommands.text(entry))")
        } catch {
            try? await storage.close()
            fail(error.description)
        }
    }
}
