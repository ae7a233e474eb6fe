/// A DATE or DATE-TIME value as written; which zone a local reading belongs to is decided by
/// the property's `TZID` (or its absence) and the calendar.
enum WrittenTime: Sendable, Hashable {
    /// `19980119T070000Z`.
    case utc(LocalDateTime)
    /// `19980119T070000`: floating, or local to the property's `TZID`.
    case local(LocalDateTime)
    /// `19980119` (`VALUE=DATE`).
    case date(CivilDate)

    static func parse(_ text: String, line: Int, property: String) throws(ICalendarError) -> WrittenTime {
        let bytes = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for b in bytes[range] {
                guard b >= 0x30, b <= 0x39 else { return nil }
                value = value * 10 + Int(b - 0x30)
            }
            return value
        }
        let bad = ICalendarError(.malformed, line: line, "\(property) value \"\(text.prefix(40))\" is not a DATE (YYYYMMDD) or DATE-TIME (YYYYMMDDTHHMMSS, optionally ending in Z)")
        guard let year = digits(0..<4), let month = digits(4..<6), let day = digits(6..<8) else { throw bad }
        guard let date = CivilDate(year: year, month: month, day: day) else {
            throw ICalendarError(.malformed, line: line, "\(property) names a day that does not exist: \(text)")
        }
        if bytes.count == 8 { return .date(date) }
        guard bytes.count == 15 || (bytes.count == 16 && bytes[15] == UInt8(ascii: "Z")), bytes[8] == UInt8(ascii: "T"),
              let hour = digits(9..<11), let minute = digits(11..<13), let second = digits(13..<15)
        else { throw bad }
        // Second 60 is a leap second (RFC 5545 allows it); it is read as the next second.
        guard hour < 24, minute < 60, second <= 60 else { throw bad }
        let local = LocalDateTime(naive: date.dayNumber * 86400 + hour * 3600 + minute * 60 + second)
        return bytes.count == 16 ? .utc(local) : .local(local)
    }
}

/// An RFC 5545 duration: weeks and days are nominal (calendar days on the event's wall clock),
/// hours, minutes and seconds are exact (elapsed), as section 3.3.6 says. So `P1D` from 09:00
/// ends at 09:00 the next day even across a change of offset, while `PT24H` lasts 24 hours.
/// (Python's `recurring-ical-events` adds both on the wall clock; the two differ only for an
/// hour-based duration that spans a change of offset.)
struct Duration: Sendable, Hashable {
    var days: Int
    var seconds: Int

    static func parse(_ text: String, line: Int) throws(ICalendarError) -> Duration {
        var chars = Substring(text)
        let bad = ICalendarError(.malformed, line: line, "DURATION \"\(text.prefix(40))\" is not an RFC 5545 duration such as PT8H, P1D or P1W")
        var sign = 1
        if chars.first == "+" { chars = chars.dropFirst() } else if chars.first == "-" { sign = -1; chars = chars.dropFirst() }
        guard chars.first == "P" else { throw bad }
        chars = chars.dropFirst()
        var days = 0
        var seconds = 0
        var inTime = false
        var sawNumber = false
        while !chars.isEmpty {
            if chars.first == "T" {
                guard !inTime else { throw bad }
                inTime = true
                chars = chars.dropFirst()
                continue
            }
            let number = chars.prefix { $0.isASCIIDigit }
            guard !number.isEmpty, number.count <= 9, let n = Int(number) else { throw bad }
            chars = chars.dropFirst(number.count)
            guard let unit = chars.first else { throw bad }
            chars = chars.dropFirst()
            sawNumber = true
            switch (unit, inTime) {
            case ("W", false): days += 7 * n
            case ("D", false): days += n
            case ("H", true): seconds += 3600 * n
            case ("M", true): seconds += 60 * n
            case ("S", true): seconds += n
            default: throw bad
            }
        }
        guard sawNumber else { throw bad }
        return Duration(days: sign * days, seconds: sign * seconds)
    }
}

/// `+0100`, `-0500`, `+053000`: seconds east of UTC.
func parseUTCOffset(_ text: String, line: Int) throws(ICalendarError) -> Int {
    let bytes = Array(text.utf8)
    guard bytes.count == 5 || bytes.count == 7, bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-"),
          bytes[1...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
    else { throw ICalendarError(.malformed, line: line, "\"\(text.prefix(20))\" is not a UTC offset such as +0100 or -0500") }
    let d = bytes.map { Int($0) - 0x30 }
    let seconds = (d[1] * 10 + d[2]) * 3600 + (d[3] * 10 + d[4]) * 60 + (bytes.count == 7 ? d[5] * 10 + d[6] : 0)
    return bytes[0] == UInt8(ascii: "-") ? -seconds : seconds
}

/// Undoes TEXT escaping (RFC 5545 section 3.3.11): `\\`, `\;`, `\,`, `\n` or `\N`.
func unescapeText(_ text: String) -> String {
    guard text.contains("\\") else { return text }
    var result = ""
    var escaping = false
    for c in text {
        if escaping {
            switch c {
            case "n", "N": result.append("\n")
            default: result.append(c)
            }
            escaping = false
        } else if c == "\\" {
            escaping = true
        } else {
            result.append(c)
        }
    }
    if escaping { result.append("\\") }
    return result
}
