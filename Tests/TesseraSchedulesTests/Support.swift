import Foundation
import TesseraSchedules
// The oracle runs Python through these.
@_exported import TesseraTestLogging

/// An instant written in ISO 8601 with its offset, e.g. `2026-03-29T09:00:00+02:00`: tests state
/// expected hand-offs as the local time and the offset a person would read on the wall.
func at(_ text: String) -> Date {
    guard let date = try? Date(text, strategy: .iso8601) else { fatalError("bad test instant \(text)") }
    return date
}

let berlin = TimeZone(identifier: "Europe/Berlin")!
let newYork = TimeZone(identifier: "America/New_York")!

func zone(_ id: String) -> TimeZone { TimeZone(identifier: id)! }

/// A window wide enough for every question a test asks.
let year2026 = at("2025-12-01T00:00:00Z")..<at("2027-02-01T00:00:00Z")

func layer(_ participants: [String], from rotationStart: String, turn: TurnLength = .days(1), handoff: String? = nil,
           restrictions: [String] = [], start: String? = nil, end: String? = nil) throws -> Layer {
    try Layer(participants: participants, rotationStart: at(rotationStart), turnLength: turn,
              handoffTime: try handoff.map { try TimeOfDay(parsing: $0) },
              restrictions: try restrictions.map { try Restriction(parsing: $0) },
              start: start.map(at), end: end.map(at))
}

func timeline(_ zone: TimeZone, _ layers: [Layer], overrides: [Override] = [], window: Range<Date> = year2026) throws -> ShiftTimeline {
    try Schedule(id: "s", timeZone: zone, layers: layers, overrides: overrides).timeline(over: window)
}

extension ShiftTimeline {
    /// The one person on call at `instant` in a native schedule (nil: nobody).
    func who(_ instant: String) -> String? {
        let shifts = onCall(at: at(instant))
        precondition(shifts.count <= 1, "a native schedule has one person on call at a time")
        return shifts.first?.person
    }

    /// The end of the current shift at `instant`.
    func until(_ instant: String) -> Date? { onCall(at: at(instant)).first?.end }
}

/// A feed in LF-terminated text; `crlf` turns the line ends into CRLF.
func feed(_ text: String, crlf: Bool = true, options: ICalendarOptions = ICalendarOptions()) throws -> ICalendarFeed {
    let body = crlf ? text.replacingOccurrences(of: "\n", with: "\r\n") : text
    return try ICalendarFeed(parsing: Array(body.utf8), options: options)
}

/// The error a feed is refused with (nil when it parses and expands over 2026).
func refusal(_ text: String, options: ICalendarOptions = ICalendarOptions()) -> ICalendarError? {
    do {
        _ = try feed(text, options: options).shifts(in: year2026)
        return nil
    } catch let error as ICalendarError {
        return error
    } catch {
        return nil
    }
}

/// Wraps VEVENTs (and VTIMEZONEs) in a calendar.
func calendar(_ body: String, header: String = "") -> String {
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Tessera tests//EN\n\(header)\(body)END:VCALENDAR\n"
}

/// The people on call at `instant` in a feed-made timeline, sorted.
extension ShiftTimeline {
    func people(_ instant: String) -> [String] { onCall(at: at(instant)).map(\.person).sorted() }
}

/// A small seeded generator (SplitMix64), so random tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
