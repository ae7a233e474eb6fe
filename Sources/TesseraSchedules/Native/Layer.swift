import Foundation

/// One rotation of a schedule, modelled on a PagerDuty schedule layer: participants take turns
/// in order, anchored at `rotationStart`, optionally only inside `restrictions`, and only
/// between `start` and `end`.
///
/// Turn arithmetic (goalert's rule: compute from a fixed anchor, never from the previous turn):
/// - The anchor is `rotationStart`; with a `handoffTime` it is that wall-clock time on the
///   local date of `rotationStart`, so `rotation_start: 2026-03-02T00:00Z, handoff: 09:00` hands
///   off at 09:00 local from 2 March (even when 09:00 is earlier than `rotationStart`'s own time).
/// - Turn k (k may be negative) of a day or week rotation starts at the anchor's local date
///   plus k turns, at the anchor's local time, converted to an instant by RFC 5545's rules (a
///   local time that does not exist moves forward by the gap, one that occurs twice is its
///   first occurrence); turn k of an elapsed-time rotation starts k × length seconds after the
///   anchor. Participant k mod n has turn k, so turns before the anchor are well defined and
///   `start` may lie before `rotationStart` (as PagerDuty's virtual start).
/// - A layer has nobody on call before `start` or from `end` on (both optional), in gaps
///   between restriction windows, and at all when it has no participants.
public struct Layer: Sendable, Hashable {
    public let name: String?
    public let participants: [String]
    public let rotationStart: Date
    public let turnLength: TurnLength
    public let handoffTime: TimeOfDay?
    /// Empty: no restriction (on call around the clock).
    public let restrictions: [Restriction]
    public let start: Date?
    public let end: Date?

    public init(name: String? = nil, participants: [String], rotationStart: Date, turnLength: TurnLength,
                handoffTime: TimeOfDay? = nil, restrictions: [Restriction] = [], start: Date? = nil, end: Date? = nil) throws(ScheduleError) {
        try turnLength.validate()
        if let start, let end, end <= start {
            throw ScheduleError("layer\(name.map { " \($0)" } ?? "") ends (\(end.ISO8601Format())) before it starts (\(start.ISO8601Format()))")
        }
        self.name = name
        self.participants = participants
        self.rotationStart = rotationStart
        self.turnLength = turnLength
        self.handoffTime = handoffTime
        self.restrictions = restrictions
        self.start = start
        self.end = end
    }

    /// This layer's own shifts that meet `window`, in `zone`, clipped to the window, sorted,
    /// one per turn (or per restriction window within a turn).
    public func shifts(in window: Range<Date>, timeZone: TimeZone) -> [Shift] {
        let low = Int(window.lowerBound.timeIntervalSince1970.rounded(.down))
        let high = Int(window.upperBound.timeIntervalSince1970.rounded(.up))
        return shifts(from: low, to: high, in: .system(timeZone)).map {
            Shift(person: participants[$0.participant], start: Date(timeIntervalSince1970: TimeInterval($0.start)),
                  end: Date(timeIntervalSince1970: TimeInterval($0.end)))
        }
    }

    struct Turn {
        let participant: Int
        let start: Int
        let end: Int
    }

    func shifts(from windowLow: Int, to windowHigh: Int, in zone: WallClockZone) -> [Turn] {
        guard !participants.isEmpty else { return [] }
        let low = max(windowLow, start.map { Int($0.timeIntervalSince1970.rounded(.up)) } ?? .min)
        let high = min(windowHigh, end.map { Int($0.timeIntervalSince1970.rounded(.down)) } ?? .max)
        guard low < high else { return [] }
        let rotation = Rotation(layer: self, zone: zone)
        var turns: [Turn] = []
        var k = rotation.turn(containing: low)
        var turnStart = rotation.start(ofTurn: k)
        while turnStart < high {
            let next = rotation.start(ofTurn: k + 1)
            let participant = ((k % participants.count) + participants.count) % participants.count
            let s = max(turnStart, low)
            let e = min(next, high)
            if s < e { turns.append(Turn(participant: participant, start: s, end: e)) }
            k += 1
            turnStart = next
        }
        guard !restrictions.isEmpty else { return turns }
        let windows = mergedWindows(restrictions.flatMap { $0.windows(from: low, to: high, in: zone) })
        // Both lists are sorted and non-overlapping: intersect them in one pass.
        var result: [Turn] = []
        var w = 0
        for turn in turns {
            while w < windows.count, windows[w].1 <= turn.start { w += 1 }
            var v = w
            while v < windows.count, windows[v].0 < turn.end {
                let s = max(turn.start, windows[v].0)
                let e = min(turn.end, windows[v].1)
                if s < e { result.append(Turn(participant: turn.participant, start: s, end: e)) }
                v += 1
            }
        }
        return result
    }
}

/// Sorts intervals and merges those that touch or overlap.
func mergedWindows(_ windows: [(Int, Int)]) -> [(Int, Int)] {
    var result: [(Int, Int)] = []
    for window in windows.sorted(by: { $0.0 < $1.0 }) {
        if let last = result.last, window.0 <= last.1 {
            result[result.count - 1].1 = max(last.1, window.1)
        } else {
            result.append(window)
        }
    }
    return result
}

/// The turn maths of one layer in one zone.
struct Rotation {
    let zone: WallClockZone
    /// Calendar rotations: the anchor on the wall clock and the turn in days.
    let anchorLocal: LocalDateTime
    let days: Int?
    /// Elapsed-time rotations: the anchor instant and the turn in seconds.
    let anchor: Int
    let seconds: Int

    init(layer: Layer, zone: WallClockZone) {
        self.zone = zone
        let rotationStart = Int(layer.rotationStart.timeIntervalSince1970.rounded(.down))
        var local = zone.local(ofUTC: rotationStart)
        if let handoff = layer.handoffTime { local.second = handoff.secondsSinceMidnight }
        anchorLocal = local
        anchor = layer.handoffTime == nil ? rotationStart : zone.instant(of: local)
        days = layer.turnLength.calendarDays
        if case let .seconds(n) = layer.turnLength { seconds = n } else { seconds = 0 }
    }

    func start(ofTurn k: Int) -> Int {
        if let days {
            return zone.instant(of: LocalDateTime(date: anchorLocal.date.adding(days: k * days), second: anchorLocal.second))
        }
        return anchor + k * seconds
    }

    /// The turn whose [start, next start) holds the instant `t`.
    func turn(containing t: Int) -> Int {
        var k: Int
        if let days {
            let elapsed = zone.local(ofUTC: t).naive - anchorLocal.naive
            k = floorDivide(elapsed, days * 86400)
        } else {
            k = floorDivide(t - anchor, seconds)
        }
        while start(ofTurn: k) > t { k -= 1 }
        while start(ofTurn: k + 1) <= t { k += 1 }
        return k
    }
}

func floorDivide(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
