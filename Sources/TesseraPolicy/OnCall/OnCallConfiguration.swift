import Foundation
import TesseraSchedules

/// The bundle's on-call schedules (`schedules/*.yaml`): native schedules, schedules imported
/// from iCalendar feeds or PagerDuty, escalation policies over them, and how a schedule's
/// participants name Tessera identities. Parsed and checked when the bundle loads; the sync
/// (fetching feeds) lives in TesseraCore.
public struct OnCallConfiguration: Sendable, Hashable {
    public static let directoryName = "schedules"
    public static let defaultPollSeconds = 300
    public static let defaultMaximumStalenessSeconds = 6 * 3600

    public var native: [NativeSchedule] = []
    public var feeds: [ScheduleFeed] = []
    public var escalationPolicies: [EscalationPolicy] = []
    public var people = PeopleMapping()
    /// The PagerDuty connection the `pagerduty` schedules use.
    public var pagerDuty: PagerDutyConnection?
    /// The bundle's upstream ids (and `dev`): what an `upstream:subject` participant may name.
    public var upstreamIDs: Set<String> = []

    public init() {}

    /// Whether `participant` can name anybody (see `PeopleMapping.maps`).
    public func maps(_ participant: String) -> Bool { people.maps(participant, upstreams: upstreamIDs) }

    public var isEmpty: Bool { native.isEmpty && feeds.isEmpty && escalationPolicies.isEmpty }

    /// Every schedule id, native and imported.
    public var scheduleIDs: [String] { native.map(\.schedule.id) + feeds.map(\.id) }

    public func timeZone(of schedule: String) -> TimeZone? {
        native.first { $0.schedule.id == schedule }?.schedule.timeZone ?? feeds.first { $0.id == schedule }?.timeZone
    }

    /// A schedule written in the bundle, with where.
    public struct NativeSchedule: Sendable, Hashable {
        public var schedule: Schedule
        public var location: SourceLocation
    }

    /// A schedule whose shifts come from outside: an iCalendar feed or PagerDuty.
    public struct ScheduleFeed: Sendable, Hashable {
        public enum Source: Sendable, Hashable {
            /// A file of the bundle (relative to `schedules/`) or an absolute path.
            case iCalendarFile(path: String)
            /// Polled over https (http only on loopback).
            case iCalendarURL(String)
            /// A PagerDuty schedule, by its id, through the `pagerduty:` connection.
            case pagerDutySchedule(id: String)
            /// Everyone PagerDuty has on call at one level of one of its escalation policies
            /// (an escalation policy imported with `pagerduty: {escalation_policy_id, levels}`).
            case pagerDutyEscalationLevel(policyID: String, level: Int)
        }

        public var id: String
        public var source: Source
        /// For all-day and floating events, and for the times reasons print.
        public var timeZone: TimeZone
        /// How an event names the person on call (iCalendar only).
        public var people: [EventPerson]
        public var pollSeconds: Int
        /// After this long without a good sync, on-call conditions on the schedule fail closed.
        public var maximumStalenessSeconds: Int
        public var location: SourceLocation

        /// The id a sync of this feed is cached and reported under.
        public var sourceID: String {
            switch source {
            case .iCalendarFile, .iCalendarURL: "ical:\(id)"
            case .pagerDutySchedule, .pagerDutyEscalationLevel: "pagerduty:\(id)"
            }
        }

        /// Whether it comes from PagerDuty (and so needs the connection).
        public var isPagerDuty: Bool {
            switch source {
            case .iCalendarFile, .iCalendarURL: false
            case .pagerDutySchedule, .pagerDutyEscalationLevel: true
            }
        }
    }

    /// `pagerduty:` of a schedules file: where the API is and where its token is kept (never in
    /// the bundle itself).
    public struct PagerDutyConnection: Sendable, Hashable {
        public static let defaultBaseURL = "https://api.pagerduty.com"
        public enum Token: Sendable, Hashable {
            /// Relative paths are resolved against `schedules/` when the bundle loads.
            case file(String)
            case environment(String)
        }

        public var baseURL: String
        public var token: Token
        public var location: SourceLocation
    }
}

/// How schedule participants (e-mails, paging-system names) name Tessera identities: an
/// identity is a participant when its `email` claim or its `upstream:subject` equals the
/// participant (case-insensitively), or through an alias (`"Alice Martin": corp:alice`).
public struct PeopleMapping: Sendable, Hashable {
    public enum Match: String, Sendable, Hashable, CaseIterable {
        case email, subject
    }

    public var match: [Match] = Match.allCases
    /// Participant -> the identity's `upstream:subject`.
    public var aliases: [String: String] = [:] {
        didSet { aliasesByIdentity = Self.reversed(aliases) }
    }
    /// `upstream:subject` -> its aliases, sorted: built once, not on every decision.
    private var aliasesByIdentity: [String: [String]] = [:]

    public init(match: [Match] = Match.allCases, aliases: [String: String] = [:]) {
        self.match = match
        self.aliases = aliases
        aliasesByIdentity = Self.reversed(aliases)
    }

    private static func reversed(_ aliases: [String: String]) -> [String: [String]] {
        Dictionary(grouping: aliases.keys, by: { aliases[$0]! }).mapValues { $0.sorted() }
    }

    /// The participant names that mean `identity`, in the order they are tried.
    public func participants(for identity: Identity) -> [String] {
        var names: [String] = []
        for kind in match {
            switch kind {
            case .email: if let email = identity.email, !email.isEmpty { names.append(email) }
            case .subject: names.append(identity.namespacedSubject)
            }
        }
        names += aliasesByIdentity[identity.namespacedSubject] ?? []
        return names
    }

    /// Whether the mapping can name anybody with `participant` (for `tessera policy check`):
    /// an alias, an e-mail address, or an `upstream:subject` of a known upstream.
    public func maps(_ participant: String, upstreams: Set<String>) -> Bool {
        if aliases[participant] != nil { return true }
        if match.contains(.email), participant.contains("@"), !participant.contains(":") { return true }
        if match.contains(.subject), let colon = participant.firstIndex(of: ":"), upstreams.contains(String(participant[..<colon])) {
            return true
        }
        return false
    }
}
