import Foundation

/// An on-call calendar read from an RFC 5545 feed, ready to expand into shifts.
///
/// The subset real paging systems and calendars produce (policies/README.md, "schedules/"): unfolding, CRLF or LF,
/// parameters, escaped TEXT; `DTSTART`/`DTEND` in UTC, with an IANA `TZID` or one a `VTIMEZONE`
/// defines, floating, or `VALUE=DATE` (floating times and dates are in the calendar's zone:
/// `X-WR-TIMEZONE`, else the configured default); `DURATION` instead of `DTEND`; `RRULE` (see
/// `RecurrenceRule`), `EXDATE`, `RECURRENCE-ID` overrides of single instances;
/// `STATUS:CANCELLED` events and instances are left out. Everything is checked when the feed is
/// parsed, so a feed that parses expands without surprises.
///
/// Edge cases, on purpose:
/// - Floating `EXDATE`, `RECURRENCE-ID` and `UNTIL` values are read in their event's zone.
/// - A `DATE` `EXDATE` removes the instance that starts on that date (in the event's zone).
/// - An instance override (`RECURRENCE-ID`) replaces the instance that starts at that time; it
///   stands on its own when no instance does (it may have been moved from outside the window).
/// - Without `DTEND` or `DURATION` an all-day event lasts one day and a timed event covers no
///   time at all (RFC 5545 section 3.6.1), so it puts nobody on call.
/// - `DTEND` in the same zone as `DTSTART` gives a wall-clock length (09:00-17:00 stays so on
///   every instance); `DTEND` in another zone gives an elapsed length.
public struct ICalendarFeed: Sendable {
    /// `X-WR-CALNAME`, if any.
    public let name: String?
    /// The lines of the events left out because they name nobody under the configured rules.
    public let eventsNamingNobody: [Int]
    /// The number of `VEVENT`s read (including cancelled ones and overrides).
    public let eventCount: Int

    let events: [Event]
    let overrides: [RecurrenceKey: Event]

    /// Parses a feed; refuses it (with the line and the reason) when it is larger than
    /// `options.maximumBytes`, malformed, or uses something unsupported.
    public init(parsing data: some Collection<UInt8>, options: ICalendarOptions = ICalendarOptions()) throws(ICalendarError) {
        guard data.count <= options.maximumBytes else {
            throw ICalendarError(.tooLarge, line: nil, "the feed is \(data.count) bytes, more than the limit of \(options.maximumBytes)")
        }
        let calendars = try Component.parseCalendars(Array(data))
        var reader = try EventReader(calendars: calendars, options: options)
        var events: [Event] = []
        var overrides: [RecurrenceKey: Event] = [:]
        var nobody: [Int] = []
        var count = 0
        for calendar in calendars {
            for component in calendar.components where component.name == "VEVENT" {
                count += 1
                let event = try reader.event(component)
                if event.people.isEmpty, !event.cancelled { nobody.append(event.line) }
                if let key = event.recurrenceKey {
                    overrides[key] = event
                } else {
                    events.append(event)
                }
            }
        }
        self.name = calendars.lazy.compactMap { $0.first("X-WR-CALNAME").map { unescapeText($0.value) } }.first
        self.events = events
        self.overrides = overrides
        self.eventsNamingNobody = nobody
        self.eventCount = count
    }

    /// Every shift that meets `window`, one per person an instance names, sorted by start
    /// (not clipped, not merged: `ShiftTimeline` does that).
    public func shifts(in window: Range<Date>) throws(ICalendarError) -> [Shift] {
        let low = Int(window.lowerBound.timeIntervalSince1970.rounded(.down))
        let high = Int(window.upperBound.timeIntervalSince1970.rounded(.up))
        var result: [(start: Int, end: Int, person: String)] = []
        func emit(_ event: Event, start: Int, end: Int) {
            guard start < end, end > low, start < high else { return }
            for person in event.people { result.append((start, end, person)) }
        }
        for event in events where !event.cancelled {
            guard let rule = event.rule else {
                let start = event.start.instant
                if !event.isExcluded(instant: start, date: event.start.local.date), overrides[event.key(start: start, date: event.start.local.date)] == nil {
                    emit(event, start: start, end: event.end(startingAt: event.start.local))
                }
                continue
            }
            let horizon = event.start.zone.local(ofUTC: high).date.adding(days: 2)
            try rule.forEachInstance(from: event.start.local, through: horizon, isPastUntil: event.isPastUntil, line: event.line) { local in
                let start = event.start.zone.instant(of: local)
                if start >= high { return false }
                if !event.isExcluded(instant: start, date: local.date), overrides[event.key(start: start, date: local.date)] == nil {
                    emit(event, start: start, end: event.end(startingAt: local))
                }
                return true
            }
        }
        for event in overrides.values where !event.cancelled {
            emit(event, start: event.start.instant, end: event.end(startingAt: event.start.local))
        }
        result.sort { ($0.start, $0.end, $0.person) < ($1.start, $1.end, $1.person) }
        return result.map {
            Shift(person: $0.person, start: Date(timeIntervalSince1970: TimeInterval($0.start)), end: Date(timeIntervalSince1970: TimeInterval($0.end)))
        }
    }

    /// The feed resolved over `window`, ready for lookups.
    public func timeline(over window: Range<Date>) throws(ICalendarError) -> ShiftTimeline {
        ShiftTimeline(shifts: try shifts(in: window), window: window)
    }
}

/// Which instance an override replaces: the series' `UID` and the instance's original start.
struct RecurrenceKey: Sendable, Hashable {
    enum Start: Sendable, Hashable {
        case instant(Int)
        case date(CivilDate)
    }

    let uid: String
    let start: Start
}

/// A time of an event: a wall-clock reading in a zone (UTC for `...Z`).
struct EventTime: Sendable {
    let local: LocalDateTime
    let zone: WallClockZone
    /// Identifies the zone, so "same zone as DTSTART" can be decided: `Z`, `TZID:<id>`,
    /// `floating`, `date`.
    let zoneKey: String
    let isDate: Bool

    var instant: Int { zone.instant(of: local) }
}

/// One `VEVENT`, checked and resolved.
struct Event: Sendable {
    let line: Int
    let uid: String
    let people: [String]
    let start: EventTime
    /// Length added on the wall clock (seconds of naive local time), then elapsed seconds.
    let nominalLength: Int
    let exactLength: Int
    let rule: RecurrenceRule?
    let excludedInstants: Set<Int>
    let excludedDates: Set<CivilDate>
    let recurrenceKey: RecurrenceKey?
    let cancelled: Bool

    func end(startingAt local: LocalDateTime) -> Int {
        start.zone.instant(of: LocalDateTime(naive: local.naive + nominalLength)) + exactLength
    }

    func isExcluded(instant: Int, date: CivilDate) -> Bool {
        excludedInstants.contains(instant) || excludedDates.contains(date)
    }

    func key(start instant: Int, date: CivilDate) -> RecurrenceKey {
        RecurrenceKey(uid: uid, start: start.isDate ? .date(date) : .instant(instant))
    }

    func isPastUntil(_ local: LocalDateTime) -> Bool {
        switch rule?.until {
        case let .utc(until)?: start.zone.instant(of: local) > until.naive
        case let .local(until)?: local > until
        case let .date(until)?: local.date > until
        case nil: false
        }
    }
}

/// Reads `VEVENT`s against the calendar's zones and the configured rules for people.
struct EventReader {
    private var calendarZone: WallClockZone
    private var systemZones: [String: WallClockZone] = [:]
    private let definedZones: [String: VTimeZoneRules]
    private let people: [(EventPerson, NSRegularExpression?)]

    init(calendars: [Component], options: ICalendarOptions) throws(ICalendarError) {
        var defined: [String: VTimeZoneRules] = [:]
        for calendar in calendars {
            for component in calendar.components where component.name == "VTIMEZONE" {
                let (id, rules) = try VTimeZoneRules.parse(component)
                defined[id] = rules
            }
        }
        definedZones = defined
        people = options.people.map { person in
            switch person {
            case .attendee: (person, nil)
            // SummaryPattern's initialiser compiled this pattern already.
            case let .summary(pattern): (person, try? NSRegularExpression(pattern: pattern.pattern))
            }
        }
        calendarZone = .system(options.defaultTimeZone)
        if let named = calendars.lazy.compactMap({ $0.first("X-WR-TIMEZONE") }).first {
            calendarZone = try zone(named: unescapeText(named.value).trimmingCharacters(in: .whitespaces), line: named.line)
        }
    }

    private mutating func zone(named id: String, line: Int) throws(ICalendarError) -> WallClockZone {
        if let known = systemZones[id] { return known }
        let zone: WallClockZone
        if let system = TimeZone(identifier: id) {
            zone = .system(system)
        } else if let rules = definedZones[id] {
            zone = .rules(rules)
        } else {
            throw ICalendarError(.unknownTimeZone, line: line, "TZID \"\(id)\" is neither an IANA time zone name nor defined by a VTIMEZONE in the feed")
        }
        systemZones[id] = zone
        return zone
    }

    /// A property's time, with its zone. `inherit` is the zone floating values take (the
    /// event's, for EXDATE, RECURRENCE-ID and UNTIL); nil means the calendar's.
    private mutating func time(_ text: String, of property: ContentLine, inherit: EventTime? = nil) throws(ICalendarError) -> EventTime {
        let written = try WrittenTime.parse(text, line: property.line, property: property.name)
        switch (property.parameter("VALUE")?.uppercased(), written) {
        case ("DATE", .utc), ("DATE", .local):
            throw ICalendarError(.malformed, line: property.line, "\(property.name) says VALUE=DATE but holds a date and time")
        case ("DATE-TIME", .date):
            throw ICalendarError(.malformed, line: property.line, "\(property.name) says VALUE=DATE-TIME but holds a date")
        case ("PERIOD", _):
            throw ICalendarError(.unsupported, line: property.line, "\(property.name) with VALUE=PERIOD is not supported")
        default: break
        }
        switch written {
        case let .utc(local):
            return EventTime(local: local, zone: .utc, zoneKey: "Z", isDate: false)
        case let .local(local):
            if let id = property.parameter("TZID") {
                return EventTime(local: local, zone: try zone(named: id, line: property.line), zoneKey: "TZID:" + id, isDate: false)
            }
            if let inherit { return EventTime(local: local, zone: inherit.zone, zoneKey: inherit.zoneKey, isDate: false) }
            return EventTime(local: local, zone: calendarZone, zoneKey: "floating", isDate: false)
        case let .date(date):
            return EventTime(local: LocalDateTime(date: date, second: 0), zone: inherit?.zone ?? calendarZone, zoneKey: "date", isDate: true)
        }
    }

    mutating func event(_ component: Component) throws(ICalendarError) -> Event {
        let line = component.line
        for name in ["RDATE", "EXRULE"] {
            if let property = component.first(name) {
                throw ICalendarError(.unsupported, line: property.line, "\(name) is not supported (use RRULE and EXDATE)")
            }
        }
        guard let dtstart = component.first("DTSTART") else {
            throw ICalendarError(.malformed, line: line, "VEVENT has no DTSTART")
        }
        let start = try time(dtstart.value, of: dtstart)
        var nominal = 0
        var exact = 0
        let dtend = component.first("DTEND")
        let duration = component.first("DURATION")
        switch (dtend, duration) {
        case let (dtend?, nil):
            let end = try time(dtend.value, of: dtend)
            if end.zoneKey == start.zoneKey {
                nominal = end.local.naive - start.local.naive
            } else {
                exact = end.instant - start.instant
            }
            if (nominal != 0 ? nominal : exact) < 0 {
                throw ICalendarError(.malformed, line: dtend.line, "DTEND is before DTSTART")
            }
        case let (nil, duration?):
            let length = try Duration.parse(duration.value, line: duration.line)
            guard length.days >= 0, length.seconds >= 0 else {
                throw ICalendarError(.malformed, line: duration.line, "DURATION is negative")
            }
            nominal = length.days * 86400
            exact = length.seconds
        case (nil, nil):
            nominal = start.isDate ? 86400 : 0
        case (_?, let duration?):
            throw ICalendarError(.malformed, line: duration.line, "VEVENT has both DTEND and DURATION")
        }

        let rules = component.all("RRULE")
        if rules.count > 1 {
            throw ICalendarError(.unsupported, line: rules[1].line, "more than one RRULE in an event is not supported")
        }
        let rule = try rules.first.map { property throws(ICalendarError) in try RecurrenceRule.parse(property.value, line: property.line) }

        var excludedInstants = Set<Int>()
        var excludedDates = Set<CivilDate>()
        for exdate in component.all("EXDATE") {
            for item in exdate.value.split(separator: ",") {
                let time = try time(String(item).trimmingCharacters(in: .whitespaces), of: exdate, inherit: start)
                if time.isDate { excludedDates.insert(time.local.date) } else { excludedInstants.insert(time.instant) }
            }
        }

        let uid = component.first("UID")?.value ?? "line-\(line)"
        var recurrenceKey: RecurrenceKey?
        if let recurrenceID = component.first("RECURRENCE-ID") {
            if let range = recurrenceID.parameter("RANGE"), range.uppercased() != "THISINSTANCE" {
                throw ICalendarError(.unsupported, line: recurrenceID.line, "RECURRENCE-ID with RANGE=\(range) is not supported; only single instances are")
            }
            if let rule = rules.first {
                throw ICalendarError(.unsupported, line: rule.line, "an instance override (RECURRENCE-ID) with an RRULE of its own is not supported")
            }
            let original = try time(recurrenceID.value, of: recurrenceID, inherit: start)
            recurrenceKey = RecurrenceKey(uid: uid, start: original.isDate ? .date(original.local.date) : .instant(original.instant))
        }

        return Event(line: line, uid: uid, people: people(of: component), start: start, nominalLength: nominal, exactLength: exact,
                     rule: rule, excludedInstants: excludedInstants, excludedDates: excludedDates, recurrenceKey: recurrenceKey,
                     cancelled: component.first("STATUS")?.value.uppercased() == "CANCELLED")
    }

    private func people(of component: Component) -> [String] {
        for (source, expression) in people {
            var found: [String] = []
            switch source {
            case .attendee:
                for attendee in component.all("ATTENDEE") {
                    var value = Substring(attendee.value.trimmingCharacters(in: .whitespaces))
                    if value.lowercased().hasPrefix("mailto:") { value = value.dropFirst(7) }
                    if !value.isEmpty, !found.contains(String(value)) { found.append(String(value)) }
                }
            case let .summary(pattern):
                if let summary = component.first("SUMMARY"), let expression,
                   let person = pattern.person(in: unescapeText(summary.value), using: expression) {
                    found.append(person)
                }
            }
            if !found.isEmpty { return found }
        }
        return []
    }
}
