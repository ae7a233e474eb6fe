/// When a layer may have someone on call, on the schedule zone's wall clock. Outside its
/// restrictions a layer is a gap (a lower layer, or nobody, shows through); the rotation keeps
/// turning through the gap, as in PagerDuty.
///
/// Both ends are wall-clock times, so `09:00-18:00` is nine hours long in winter and in summer.
/// On the night of a change an end at a time that does not exist moves forward by the gap and
/// one that occurs twice is its first occurrence (RFC 5545 section 3.3.5, as for hand-offs); a
/// window that lies entirely inside a spring-forward gap is empty.
public enum Restriction: Sendable, Hashable, CustomStringConvertible {
    /// Every day from `start` to `end`. An `end` at or before `start` ends on the next day
    /// (`22:00-06:00` is a night shift); `end == start` is the whole day.
    case daily(start: TimeOfDay, end: TimeOfDay)
    /// Every week from `startDay` at `start` to `endDay` at `end`. An end at or before the start
    /// within the week ends in the next week (`fri 18:00 - mon 09:00` is the weekend); an end
    /// equal to the start is the whole week.
    case weekly(startDay: Weekday, start: TimeOfDay, endDay: Weekday, end: TimeOfDay)

    /// `09:00-18:00` (daily) or `mon 09:00 - fri 18:00` (weekly); spaces around the dash are
    /// optional, day names are English, full or abbreviated.
    public init(parsing text: String) throws(ScheduleError) {
        let halves = text.split(separator: "-", omittingEmptySubsequences: false)
        guard halves.count == 2 else {
            throw ScheduleError("\"\(text)\" is not a restriction; write 09:00-18:00 or mon 09:00 - fri 18:00")
        }
        let from = halves[0].split(separator: " ")
        let to = halves[1].split(separator: " ")
        switch (from.count, to.count) {
        case (1, 1):
            self = .daily(start: try TimeOfDay(parsing: from[0]), end: try TimeOfDay(parsing: to[0]))
        case (2, 2):
            guard let startDay = Weekday(name: from[0]), let endDay = Weekday(name: to[0]) else {
                throw ScheduleError("\"\(text)\" names an unknown day; use mon, tue, wed, thu, fri, sat, sun")
            }
            self = .weekly(startDay: startDay, start: try TimeOfDay(parsing: from[1]), endDay: endDay, end: try TimeOfDay(parsing: to[1]))
        default:
            throw ScheduleError("\"\(text)\" is not a restriction; write 09:00-18:00 or mon 09:00 - fri 18:00")
        }
    }

    public var description: String {
        switch self {
        case let .daily(start, end): "\(start)-\(end)"
        case let .weekly(startDay, start, endDay, end):
            "\(startDay.fullName.prefix(3)) \(start) - \(endDay.fullName.prefix(3)) \(end)"
        }
    }

    /// The restriction's windows (instants, seconds since 1970) that meet [low, high), sorted;
    /// they may touch or overlap one another.
    func windows(from low: Int, to high: Int, in zone: WallClockZone) -> [(Int, Int)] {
        let firstDay = zone.local(ofUTC: low).date.dayNumber
        let lastDay = zone.local(ofUTC: high).date.dayNumber
        var result: [(Int, Int)] = []
        switch self {
        case let .daily(start, end):
            let endDayOffset = end <= start ? 1 : 0
            for day in (firstDay - 1)...lastDay {
                let s = zone.instant(ofNaive: day * 86400 + start.secondsSinceMidnight)
                let e = zone.instant(ofNaive: (day + endDayOffset) * 86400 + end.secondsSinceMidnight)
                if s < e, e > low, s < high { result.append((s, e)) }
            }
        case let .weekly(startDay, start, endDay, end):
            let startOffset = (startDay.rawValue - 1) * 86400 + start.secondsSinceMidnight
            var endOffset = (endDay.rawValue - 1) * 86400 + end.secondsSinceMidnight
            if endOffset <= startOffset { endOffset += 7 * 86400 }
            let firstMonday = firstDay - (CivilDate(dayNumber: firstDay).weekday.rawValue - 1) - 7
            for monday in stride(from: firstMonday, through: lastDay, by: 7) {
                let s = zone.instant(ofNaive: monday * 86400 + startOffset)
                let e = zone.instant(ofNaive: monday * 86400 + endOffset)
                if s < e, e > low, s < high { result.append((s, e)) }
            }
        }
        return result
    }
}
