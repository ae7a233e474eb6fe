/// One unfolded content line (RFC 5545 section 3.1): `NAME;PARAM=value,value:VALUE`.
struct ContentLine: Sendable {
    /// Upper-cased: names are case-insensitive.
    let name: String
    /// Parameter values by upper-cased name; quoted values arrive without their quotes.
    let parameters: [String: [String]]
    /// The raw value, still escaped where its type is TEXT.
    let value: String
    /// The physical line this content line begins on.
    let line: Int

    func parameter(_ name: String) -> String? { parameters[name]?.first }
}

/// Splits a feed into unfolded content lines, lazily, so a feed that is not iCalendar at all
/// (10 MiB of junk) is refused at its first line instead of after reading all of it.
///
/// Accepts CRLF and bare LF line ends. A line that begins with a space or a tab continues the
/// previous one (the fold and that one character are removed); folding happens on bytes, so a
/// fold inside a multi-byte UTF-8 character is put back together before decoding.
/// Empty lines are skipped (some feeds end with one).
struct ContentLineReader {
    private let bytes: [UInt8]
    private var position = 0
    private var lineNumber = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The next physical line without its line end, and its number; nil at the end.
    private mutating func physicalLine() -> (Range<Int>, Int)? {
        guard position < bytes.count else { return nil }
        let start = position
        var end = start
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        position = end + 1
        lineNumber += 1
        let trimmed = end > start && bytes[end - 1] == 0x0D ? end - 1 : end
        return (start..<trimmed, lineNumber)
    }

    private func peekIsContinuation() -> Bool {
        position < bytes.count && (bytes[position] == 0x20 || bytes[position] == 0x09)
    }

    mutating func next() throws(ICalendarError) -> ContentLine? {
        while let (range, number) = physicalLine() {
            if range.isEmpty { continue }
            if bytes[range.lowerBound] == 0x20 || bytes[range.lowerBound] == 0x09 {
                throw ICalendarError(.malformed, line: number, "a folded continuation line (starting with a space or tab) has no line before it to continue")
            }
            var logical = Array(bytes[range])
            while peekIsContinuation(), let (more, _) = physicalLine() {
                logical.append(contentsOf: bytes[(more.lowerBound + 1)..<more.upperBound])
            }
            guard let text = String(validating: logical, as: UTF8.self) else {
                throw ICalendarError(.malformed, line: number, "the line is not valid UTF-8")
            }
            return try Self.parse(text, line: number)
        }
        return nil
    }

    static func parse(_ text: String, line: Int) throws(ICalendarError) -> ContentLine {
        let chars = Array(text.unicodeScalars)
        var i = 0
        func isNameCharacter(_ c: Unicode.Scalar) -> Bool {
            (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "-"
        }
        func missingColon() -> ICalendarError {
            ICalendarError(.malformed, line: line, "expected NAME:VALUE, found \"\(text.prefix(40))\"; a line folded without a leading space or tab looks like this")
        }
        while i < chars.count, isNameCharacter(chars[i]) { i += 1 }
        guard i > 0 else { throw missingColon() }
        let name = String(String.UnicodeScalarView(chars[0..<i])).uppercased()
        var parameters: [String: [String]] = [:]
        while i < chars.count, chars[i] == ";" {
            i += 1
            let nameStart = i
            while i < chars.count, isNameCharacter(chars[i]) { i += 1 }
            guard i > nameStart, i < chars.count, chars[i] == "=" else {
                throw ICalendarError(.malformed, line: line, "property \(name) has a parameter without NAME=value")
            }
            let parameterName = String(String.UnicodeScalarView(chars[nameStart..<i])).uppercased()
            i += 1
            var values: [String] = []
            while true {
                if i < chars.count, chars[i] == "\"" {
                    let start = i + 1
                    i = start
                    while i < chars.count, chars[i] != "\"" { i += 1 }
                    guard i < chars.count else {
                        throw ICalendarError(.malformed, line: line, "parameter \(parameterName) of \(name) has an unclosed quote")
                    }
                    values.append(String(String.UnicodeScalarView(chars[start..<i])))
                    i += 1
                } else {
                    let start = i
                    while i < chars.count, chars[i] != ";", chars[i] != ":", chars[i] != ",", chars[i] != "\"" { i += 1 }
                    values.append(String(String.UnicodeScalarView(chars[start..<i])))
                }
                if i < chars.count, chars[i] == "," { i += 1 } else { break }
            }
            parameters[parameterName, default: []].append(contentsOf: values)
        }
        guard i < chars.count, chars[i] == ":" else { throw missingColon() }
        let value = String(String.UnicodeScalarView(chars[(i + 1)...]))
        return ContentLine(name: name, parameters: parameters, value: value, line: line)
    }
}

/// A component (`VCALENDAR`, `VEVENT`, `VTIMEZONE`, `STANDARD`...) with its properties and
/// sub-components, in feed order.
struct Component: Sendable {
    let name: String
    let line: Int
    var properties: [ContentLine] = []
    var components: [Component] = []

    func first(_ name: String) -> ContentLine? { properties.first { $0.name == name } }
    func all(_ name: String) -> [ContentLine] { properties.filter { $0.name == name } }

    /// Reads `BEGIN`/`END` nesting. The feed must start with `BEGIN:VCALENDAR`; every `END`
    /// must close the innermost open component; nothing may be left open.
    static func parseCalendars(_ bytes: [UInt8]) throws(ICalendarError) -> [Component] {
        var reader = ContentLineReader(bytes)
        var stack: [Component] = []
        var calendars: [Component] = []
        while true {
            let next: ContentLine?
            do throws(ICalendarError) {
                next = try reader.next()
            } catch {
                // Junk fails at its first line; say what the feed is not before what the line is.
                if stack.isEmpty, calendars.isEmpty {
                    throw ICalendarError(.malformed, line: error.line, "not an iCalendar feed: it does not start with BEGIN:VCALENDAR (\(error.reason))")
                }
                throw error
            }
            guard let line = next else { break }
            switch line.name {
            case "BEGIN":
                let name = line.value.uppercased()
                if stack.isEmpty, name != "VCALENDAR" {
                    throw ICalendarError(.malformed, line: line.line, "BEGIN:\(line.value) outside a calendar; an iCalendar feed starts with BEGIN:VCALENDAR")
                }
                guard stack.count < 8 else { throw ICalendarError(.malformed, line: line.line, "components nested more than 8 deep") }
                stack.append(Component(name: name, line: line.line))
            case "END":
                let name = line.value.uppercased()
                guard let open = stack.last else {
                    throw ICalendarError(.malformed, line: line.line, "END:\(line.value) without a matching BEGIN")
                }
                guard open.name == name else {
                    throw ICalendarError(.malformed, line: line.line, "END:\(line.value) does not close BEGIN:\(open.name) of line \(open.line)")
                }
                let done = stack.removeLast()
                if stack.isEmpty { calendars.append(done) } else { stack[stack.count - 1].components.append(done) }
            default:
                guard !stack.isEmpty else {
                    if calendars.isEmpty {
                        throw ICalendarError(.malformed, line: line.line, "not an iCalendar feed: it does not start with BEGIN:VCALENDAR")
                    }
                    throw ICalendarError(.malformed, line: line.line, "property \(line.name) after END:VCALENDAR")
                }
                stack[stack.count - 1].properties.append(line)
            }
        }
        if let open = stack.last {
            throw ICalendarError(.malformed, line: open.line, "BEGIN:\(open.name) is never closed (the feed ends first; was it cut short?)")
        }
        guard !calendars.isEmpty else { throw ICalendarError(.malformed, line: nil, "the feed is empty") }
        return calendars
    }
}
