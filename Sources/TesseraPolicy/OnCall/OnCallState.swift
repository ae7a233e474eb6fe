import Foundation
import TesseraSchedules

/// What is known about on-call duty when a decision is made: a snapshot of every schedule's
/// shifts over a window, the escalation policies, how participants name identities, and which
/// schedules cannot be trusted right now (never synced, or stale past their `max_staleness`).
/// Built outside the engine (TesseraCore syncs the feeds); the engine only reads it.
public struct OnCallState: Sendable {
    public var snapshot: OnCallSnapshot
    public var people: PeopleMapping
    /// Each schedule's zone, for times in reasons ("until 18:00 Europe/Paris").
    public var timeZones: [String: TimeZone]
    /// Schedule id -> why its data is not to be trusted. Conditions on it fail closed.
    public var unavailable: [String: String]

    public init(snapshot: OnCallSnapshot, people: PeopleMapping = PeopleMapping(), timeZones: [String: TimeZone] = [:],
                unavailable: [String: String] = [:]) {
        self.snapshot = snapshot
        self.people = people
        self.timeZones = timeZones
        self.unavailable = unavailable
    }

    /// The bundle's native schedules resolved over `window`; imported schedules unknown until
    /// a sync says otherwise (`unavailable`, with `reason`).
    public init(configuration: OnCallConfiguration, window: Range<Date>, importedReason: String) {
        var timelines: [String: ShiftTimeline] = [:]
        var zones: [String: TimeZone] = [:]
        for native in configuration.native {
            timelines[native.schedule.id] = native.schedule.timeline(over: window)
            zones[native.schedule.id] = native.schedule.timeZone
        }
        var unavailable: [String: String] = [:]
        for feed in configuration.feeds {
            zones[feed.id] = feed.timeZone
            unavailable[feed.id] = importedReason
        }
        self.init(snapshot: OnCallSnapshot(timelines: timelines, policies: configuration.escalationPolicies), people: configuration.people,
                  timeZones: zones, unavailable: unavailable)
    }

    /// A shift of one of the identity's participant names that covers `now`, or that ended
    /// within `grace` before it: half-open shifts, so one that ends at `now` is over.
    func shift(of identity: Identity, schedule: String, at now: Date, grace: TimeInterval) -> Shift? {
        guard let timeline = snapshot.timelines[schedule] else { return nil }
        let names = people.participants(for: identity)
        for name in names {
            if let shift = timeline.shift(of: name, at: now) { return shift }
        }
        guard grace > 0 else { return nil }
        let since = now.addingTimeInterval(-grace)
        for name in names {
            if let shift = timeline.shift(of: name, at: since) { return shift }
            if let shift = timeline.nextShift(of: name, after: since), shift.start <= now { return shift }
        }
        return nil
    }

    /// `bob@example.com until 18:00 Europe/Paris`, or `nobody`.
    func whoIsOnCall(_ schedule: String, at now: Date) -> String {
        let shifts = snapshot.onCall(schedule: schedule, at: now) ?? []
        guard !shifts.isEmpty else { return "nobody" }
        return shifts.map { "\($0.person) until \(clock($0.end, schedule: schedule, now: now))" }.joined(separator: ", ")
    }

    /// A time as the schedule's people read it: `18:00 Europe/Paris`, with the date when it is
    /// not today.
    public func clock(_ instant: Date, schedule: String, now: Date) -> String {
        let zone = timeZones[schedule] ?? TimeZone(identifier: "UTC")!
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = calendar.isDate(instant, inSameDayAs: now) ? "HH:mm" : "yyyy-MM-dd HH:mm"
        // Foundation names UTC "GMT"; people configured it as UTC.
        return "\(formatter.string(from: instant)) \(zone.identifier == "GMT" ? "UTC" : zone.identifier)"
    }
}
