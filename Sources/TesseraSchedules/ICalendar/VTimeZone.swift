/// The offsets a `VTIMEZONE` block defines, for zones whose `TZID` is not an IANA name
/// (Outlook's `W. Europe Standard Time`, for one).
///
/// Supported: `STANDARD` and `DAYLIGHT` observances with `DTSTART`, `TZOFFSETFROM`,
/// `TZOFFSETTO`, optional `RDATE` onsets and an optional yearly rule of the kind every real
/// feed uses: `FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU` (or `BYMONTHDAY=21` instead of `BYDAY`),
/// optionally with `UNTIL`. Each onset is a local time on the wall clock in force before it
/// (`TZOFFSETFROM`), as RFC 5545 section 3.6.5 defines. Before the first onset, the first
/// observance's `TZOFFSETFROM` applies.
struct VTimeZoneRules: Sendable, Hashable {
    struct YearlyRule: Sendable, Hashable {
        let month: Int
        /// Either the ordinal weekday of the month (`-1SU`) or a fixed day of the month.
        let ordinal: Int?
        let weekday: Weekday?
        let monthDay: Int?
        let until: WrittenTime?

        func date(inYear year: Int) -> CivilDate? {
            guard let first = CivilDate(year: year, month: month, day: 1) else { return nil }
            let length = CivilDate.daysIn(month: month, year: year)
            if let monthDay {
                let day = monthDay > 0 ? monthDay : length + monthDay + 1
                return (1...length).contains(day) ? first.adding(days: day - 1) : nil
            }
            guard let weekday, let ordinal else { return nil }
            let matches = Array(stride(from: 1 + first.weekday.days(until: weekday), through: length, by: 7))
            let index = ordinal > 0 ? ordinal - 1 : matches.count + ordinal
            return matches.indices.contains(index) ? first.adding(days: matches[index] - 1) : nil
        }
    }

    struct Observance: Sendable, Hashable {
        let start: LocalDateTime
        let offsetFrom: Int
        let offsetTo: Int
        let rule: YearlyRule?
        let extraOnsets: [LocalDateTime]

        /// The latest onset (instant) at or before `t`, if any.
        func lastOnset(atOrBefore t: Int) -> Int? {
            var best: Int?
            func consider(_ local: LocalDateTime) {
                let instant = local.naive - offsetFrom
                if instant <= t, best.map({ instant > $0 }) ?? true { best = instant }
            }
            consider(start)
            for onset in extraOnsets { consider(onset) }
            if let rule {
                let year = LocalDateTime(naive: t + offsetTo).date.year
                for y in (year - 1)...(year + 1) {
                    guard let day = rule.date(inYear: y) else { continue }
                    let local = LocalDateTime(date: day, second: start.second)
                    guard local >= start else { continue }
                    switch rule.until {
                    case let .utc(until)?: if local.naive - offsetFrom > until.naive { continue }
                    case let .local(until)?: if local > until { continue }
                    case let .date(until)?: if local.date > until { continue }
                    case nil: break
                    }
                    consider(local)
                }
            }
            return best
        }
    }

    let observances: [Observance]

    func offset(atUTC t: Int) -> Int {
        var best: (onset: Int, offset: Int)?
        for observance in observances {
            if let onset = observance.lastOnset(atOrBefore: t), best.map({ onset > $0.onset }) ?? true {
                best = (onset, observance.offsetTo)
            }
        }
        if let best { return best.offset }
        let first = observances.min { $0.start.naive - $0.offsetFrom < $1.start.naive - $1.offsetFrom }
        return first?.offsetFrom ?? 0
    }

    /// Reads one `VTIMEZONE` component: its `TZID` and rules.
    static func parse(_ component: Component) throws(ICalendarError) -> (id: String, rules: VTimeZoneRules) {
        guard let id = component.first("TZID")?.value, !id.isEmpty else {
            throw ICalendarError(.malformed, line: component.line, "VTIMEZONE has no TZID")
        }
        var observances: [Observance] = []
        for sub in component.components where sub.name == "STANDARD" || sub.name == "DAYLIGHT" {
            guard let dtstart = sub.first("DTSTART"), let from = sub.first("TZOFFSETFROM"), let to = sub.first("TZOFFSETTO") else {
                throw ICalendarError(.malformed, line: sub.line, "\(sub.name) of VTIMEZONE \(id) needs DTSTART, TZOFFSETFROM and TZOFFSETTO")
            }
            guard case let .local(start) = try WrittenTime.parse(dtstart.value, line: dtstart.line, property: "DTSTART") else {
                throw ICalendarError(.malformed, line: dtstart.line, "DTSTART of a VTIMEZONE observance must be a local DATE-TIME")
            }
            let rules = sub.all("RRULE")
            guard rules.count <= 1 else {
                throw ICalendarError(.unsupported, line: rules[1].line, "\(sub.name) of VTIMEZONE \(id) has more than one RRULE")
            }
            var extra: [LocalDateTime] = []
            for rdate in sub.all("RDATE") {
                for item in rdate.value.split(separator: ",") {
                    guard case let .local(onset) = try WrittenTime.parse(String(item), line: rdate.line, property: "RDATE") else {
                        throw ICalendarError(.unsupported, line: rdate.line, "RDATE of a VTIMEZONE observance must be a local DATE-TIME")
                    }
                    extra.append(onset)
                }
            }
            observances.append(Observance(
                start: start, offsetFrom: try parseUTCOffset(from.value, line: from.line),
                offsetTo: try parseUTCOffset(to.value, line: to.line),
                rule: try rules.first.map { line throws(ICalendarError) in try parseYearlyRule(line.value, line: line.line) },
                extraOnsets: extra))
        }
        guard !observances.isEmpty else {
            throw ICalendarError(.malformed, line: component.line, "VTIMEZONE \(id) has no STANDARD or DAYLIGHT observance")
        }
        return (id, VTimeZoneRules(observances: observances))
    }

    static func parseYearlyRule(_ text: String, line: Int) throws(ICalendarError) -> YearlyRule {
        let unsupported = ICalendarError(.unsupported, line: line, "VTIMEZONE RRULE \"\(text.prefix(60))\" is not supported; only FREQ=YEARLY;BYMONTH=m;BYDAY=nDD (or BYMONTHDAY=d), optionally with UNTIL, is")
        var parts: [String: String] = [:]
        for part in text.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { throw ICalendarError(.malformed, line: line, "RRULE part \"\(part)\" is not NAME=value") }
            parts[pair[0].uppercased()] = String(pair[1])
        }
        guard parts["FREQ"]?.uppercased() == "YEARLY", parts["INTERVAL"].map({ $0 == "1" }) ?? true,
              Set(parts.keys).isSubset(of: ["FREQ", "INTERVAL", "BYMONTH", "BYDAY", "BYMONTHDAY", "UNTIL"]),
              let monthText = parts["BYMONTH"], let month = Int(monthText), (1...12).contains(month),
              (parts["BYDAY"] == nil) != (parts["BYMONTHDAY"] == nil)
        else { throw unsupported }
        let until = try parts["UNTIL"].map { value throws(ICalendarError) in try WrittenTime.parse(value, line: line, property: "RRULE UNTIL") }
        if let monthDay = parts["BYMONTHDAY"] {
            guard let day = Int(monthDay), day != 0, abs(day) <= 31 else { throw unsupported }
            return YearlyRule(month: month, ordinal: nil, weekday: nil, monthDay: day, until: until)
        }
        let byDay = parts["BYDAY"]!
        guard let weekday = Weekday(name: byDay.suffix(2)), let ordinal = Int(byDay.dropLast(2)), ordinal != 0, abs(ordinal) <= 5 else {
            throw unsupported
        }
        return YearlyRule(month: month, ordinal: ordinal, weekday: weekday, monthDay: nil, until: until)
    }
}
