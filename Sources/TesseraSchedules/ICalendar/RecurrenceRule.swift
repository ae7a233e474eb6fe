/// The subset of RFC 5545 `RRULE` that calendar-made rotations use: `FREQ=DAILY|WEEKLY|MONTHLY`
/// with `INTERVAL`, `BYDAY` (with ordinals such as `1MO` or `-1FR` for MONTHLY only),
/// `BYMONTHDAY` (MONTHLY only), `UNTIL`, `COUNT` and `WKST`. Anything else is refused rather
/// than half-understood, because a misread rule silently puts the wrong person on call.
///
/// Semantics (RFC 5545 section 3.3.10):
/// - Instances are wall-clock readings in the event's zone (`TZID`, UTC, or the calendar's
///   zone when floating), converted to instants one by one, so a weekly 09:00 hand-off stays
///   at 09:00 across daylight saving time.
/// - `DTSTART` is always the first instance and counts towards `COUNT`, even when it does not
///   match the rule (the RFC leaves such a recurrence set undefined; Python's dateutil adds it
///   without counting it).
/// - `UNTIL` is inclusive. A `DATE` `UNTIL` includes the whole day (dateutil reads it as
///   midnight at its start).
/// - MONTHLY without `BYDAY`/`BYMONTHDAY` repeats `DTSTART`'s day of the month; months without
///   that day are skipped (no 31 February), as are `BYMONTHDAY` values a month lacks. With both,
///   a day must match both.
struct RecurrenceRule: Sendable, Hashable {
    enum Frequency: String, Sendable, Hashable {
        case daily = "DAILY", weekly = "WEEKLY", monthly = "MONTHLY"
    }

    struct DaySpec: Sendable, Hashable {
        let ordinal: Int?
        let weekday: Weekday
    }

    let frequency: Frequency
    let interval: Int
    let count: Int?
    let until: WrittenTime?
    let byDay: [DaySpec]
    let byMonthDay: [Int]
    let weekStart: Weekday

    /// More periods than this between `DTSTART` and the end of the window is refused: such a
    /// rule (a daily rule from the year 1000, say) costs more to expand than it can be worth.
    static let maximumPeriods = 200_000

    static func parse(_ text: String, line: Int) throws(ICalendarError) -> RecurrenceRule {
        var frequency: Frequency?
        var interval = 1
        var count: Int?
        var until: WrittenTime?
        var byDay: [DaySpec] = []
        var byMonthDay: [Int] = []
        var weekStart = Weekday.monday
        var seen = Set<String>()
        for part in text.split(separator: ";", omittingEmptySubsequences: true) {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, !pair[1].isEmpty else {
                throw ICalendarError(.malformed, line: line, "RRULE part \"\(part)\" is not NAME=value")
            }
            let key = pair[0].uppercased()
            let value = String(pair[1])
            guard seen.insert(key).inserted else { throw ICalendarError(.malformed, line: line, "RRULE names \(key) twice") }
            switch key {
            case "FREQ":
                guard let f = Frequency(rawValue: value.uppercased()) else {
                    throw ICalendarError(.unsupported, line: line, "RRULE FREQ=\(value) is not supported; only DAILY, WEEKLY and MONTHLY are")
                }
                frequency = f
            case "INTERVAL":
                guard let n = Int(value), n >= 1, n <= 10_000 else { throw ICalendarError(.malformed, line: line, "RRULE INTERVAL=\(value) is not a positive whole number") }
                interval = n
            case "COUNT":
                guard let n = Int(value), n >= 1 else { throw ICalendarError(.malformed, line: line, "RRULE COUNT=\(value) is not a positive whole number") }
                count = n
            case "UNTIL":
                until = try WrittenTime.parse(value, line: line, property: "RRULE UNTIL")
            case "BYDAY":
                for item in value.split(separator: ",") {
                    let name = item.suffix(2)
                    guard let weekday = Weekday(name: name), name.count == 2, name.allSatisfy(\.isLetter) else {
                        throw ICalendarError(.malformed, line: line, "RRULE BYDAY value \"\(item)\" is not a day such as MO or 1MO or -1FR")
                    }
                    let prefix = item.dropLast(2)
                    var ordinal: Int?
                    if !prefix.isEmpty {
                        guard let n = Int(prefix), n != 0, abs(n) <= 5 else {
                            throw ICalendarError(.malformed, line: line, "RRULE BYDAY value \"\(item)\" has an ordinal outside -5...5")
                        }
                        ordinal = n
                    }
                    byDay.append(DaySpec(ordinal: ordinal, weekday: weekday))
                }
            case "BYMONTHDAY":
                for item in value.split(separator: ",") {
                    guard let n = Int(item), n != 0, abs(n) <= 31 else {
                        throw ICalendarError(.malformed, line: line, "RRULE BYMONTHDAY value \"\(item)\" is not a day of the month (1...31 or -31...-1)")
                    }
                    byMonthDay.append(n)
                }
            case "WKST":
                guard value.count == 2, let day = Weekday(name: value) else {
                    throw ICalendarError(.malformed, line: line, "RRULE WKST=\(value) is not a day such as MO")
                }
                weekStart = day
            default:
                throw ICalendarError(.unsupported, line: line, "RRULE \(key) is not supported (supported: FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, WKST)")
            }
        }
        guard let frequency else { throw ICalendarError(.malformed, line: line, "RRULE has no FREQ") }
        if count != nil, until != nil { throw ICalendarError(.malformed, line: line, "RRULE has both COUNT and UNTIL; RFC 5545 allows one of them") }
        if frequency != .monthly {
            if !byMonthDay.isEmpty {
                throw ICalendarError(.unsupported, line: line, "RRULE BYMONTHDAY is supported with FREQ=MONTHLY only")
            }
            if byDay.contains(where: { $0.ordinal != nil }) {
                throw ICalendarError(.malformed, line: line, "RRULE BYDAY with an ordinal (such as 1MO) is only valid with FREQ=MONTHLY here")
            }
        }
        return RecurrenceRule(frequency: frequency, interval: interval, count: count, until: until, byDay: byDay,
                              byMonthDay: byMonthDay, weekStart: weekStart)
    }

    /// Calls `body` with each instance's local start, in order, from `start` (always the first)
    /// until `body` returns false, the rule's `COUNT` is reached, `isPastUntil` says an
    /// instance lies beyond `UNTIL`, or a period begins after `horizon` (so a rule that selects
    /// no day at all, such as the 31st of every February, ends too).
    func forEachInstance(from start: LocalDateTime, through horizon: CivilDate, isPastUntil: (LocalDateTime) -> Bool, line: Int,
                         _ body: (LocalDateTime) -> Bool) throws(ICalendarError) {
        var delivered = 0
        func deliver(_ instance: LocalDateTime) -> Bool {
            if isPastUntil(instance) { return false }
            delivered += 1
            guard body(instance) else { return false }
            return count.map { delivered < $0 } ?? true
        }
        guard deliver(start) else { return }
        for period in 0..<Self.maximumPeriods {
            let (periodStart, days) = days(inPeriod: period, from: start.date)
            if periodStart > horizon { return }
            for day in days where day > start.date {
                guard deliver(LocalDateTime(date: day, second: start.second)) else { return }
            }
        }
        throw ICalendarError(.unsupported, line: line, "RRULE needs more than \(Self.maximumPeriods) periods to cover the requested window; start the series later")
    }

    /// The days of period `index` (0 is the period holding `start`) that the rule selects, in
    /// order; the caller drops those before `start`.
    private func days(inPeriod index: Int, from start: CivilDate) -> (periodStart: CivilDate, days: [CivilDate]) {
        switch frequency {
        case .daily:
            let day = start.adding(days: index * interval)
            return (day, byDay.isEmpty || byDay.contains(where: { $0.weekday == day.weekday }) ? [day] : [])
        case .weekly:
            let weekBegins = start.adding(days: -weekStart.days(until: start.weekday) + index * interval * 7)
            let weekdays = byDay.isEmpty ? [start.weekday] : byDay.map(\.weekday)
            return (weekBegins, Set(weekdays.map { weekBegins.adding(days: weekStart.days(until: $0)) }).sorted())
        case .monthly:
            let first = start.firstOfMonth(addingMonths: index * interval)
            let (year, month, _) = first.components
            let length = CivilDate.daysIn(month: month, year: year)
            func byDayMatches() -> Set<Int> {
                var result = Set<Int>()
                for spec in byDay {
                    let firstMatch = 1 + first.weekday.days(until: spec.weekday)
                    let all = Array(stride(from: firstMatch, through: length, by: 7))
                    switch spec.ordinal {
                    case nil: result.formUnion(all)
                    case let n? where n > 0: if n <= all.count { result.insert(all[n - 1]) }
                    case let n?: if -n <= all.count { result.insert(all[all.count + n]) }
                    }
                }
                return result
            }
            var days: Set<Int>
            if !byMonthDay.isEmpty {
                days = Set(byMonthDay.map { $0 > 0 ? $0 : length + $0 + 1 }.filter { $0 >= 1 && $0 <= length })
                if !byDay.isEmpty { days.formIntersection(byDayMatches()) }
            } else if !byDay.isEmpty {
                days = byDayMatches()
            } else {
                days = start.day <= length ? [start.day] : []
            }
            return (first, days.sorted().map { first.adding(days: $0 - 1) })
        }
    }
}
